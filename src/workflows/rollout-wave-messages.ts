// A rollout wave's messages: the rollout's control signal (hold, stop), passed on to the running app workflows,
// and the status query under its name and its older alias.
import { setHandler } from '@temporalio/workflow';
import { rolloutWaveStatusQuery, rolloutWaveStatusQueryAlias, waveControlSignal } from './rollout-types';
import type { WaveRun } from './rollout-wave-run';
import { waveStatusView } from './rollout-wave-state';

export function handleMessages(run: WaveRun): void {
  setHandler(waveControlSignal, (next) => {
    run.setControl(next);
    // App workflows obey the same control: held ones start no new CVM update, stopped ones none again.
    for (const handle of run.handles.values()) void handle.signal(waveControlSignal, next).catch(() => undefined);
  });
  const status = () => waveStatusView(run);
  setHandler(rolloutWaveStatusQuery, status);
  setHandler(rolloutWaveStatusQueryAlias, status);
}

// One wave of a rollout, as a child workflow: it hands each app's CVMs of the wave to a `rolloutApp` child that runs
// under the app's deployment id, `deploy-<app>` (src/workflows/rollout-app.ts) — the per-app lock. The wave keeps
// the fleet-wide limits: an app child gets as many update slots as are free, so that at most maxParallel CVM updates
// are in flight and at most maxUnavailable target CVMs are down (in flight, or failed and not reverted) at any time.
// An app held by another deployment is waited for (its CVMs wait, the others go on) or skipped, as onBusy says.
// The run, top to bottom: dispatch the app groups as slots free up → drain the app workflows in flight → continue
// as new, or end with the outcome. The state lives in WaveRun (rollout-wave-run.ts, over rollout-wave-state.ts);
// the steps are in rollout-wave-dispatch.ts, rollout-wave-groups.ts and rollout-wave-lock.ts; the messages in
// rollout-wave-messages.ts.
//
// History: a handful of events per app; after maxCvmsPerWaveRun CVMs (or when Temporal suggests it) the wave
// drains and continues as new with its records, so a wave of any size stays within history limits.
import { allHandlersFinished, condition, continueAsNew } from '@temporalio/workflow';
import type { WaveInput, WaveResult } from './rollout-types';
import { dispatch, drain } from './rollout-wave-dispatch';
import { handleMessages } from './rollout-wave-messages';
import { WaveRun } from './rollout-wave-run';
import { waveResult } from './rollout-wave-state';

export async function rolloutWave(input: WaveInput): Promise<WaveResult> {
  const run = new WaveRun(input);
  handleMessages(run);
  run.event(run.startedText());
  await dispatch(run);
  await drain(run);
  if (run.continues()) {
    await condition(allHandlersFinished);
    return await continueAsNew<typeof rolloutWave>({ ...input, cvms: [], control: run.control, carried: run.st });
  }
  const outcome = run.outcome();
  run.event(`ended: ${outcome}`);
  await condition(allHandlersFinished);
  return waveResult(run, outcome);
}

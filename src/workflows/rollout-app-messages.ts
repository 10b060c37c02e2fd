// The messages of one app's share of a rollout wave: the wave's control signal, and the status queries — `status`
// (and deploy's older `progress`) answer as a deploy would, since the run holds the app's deployment id, so
// `cvmflow deploy status <app>` shows what the rollout is doing to the app.
import { setHandler } from '@temporalio/workflow';
import { deployStatusQueryAlias } from './deploy-types';
import { appStatusView, deployView, type RolloutAppState } from './rollout-app-state';
import { rolloutAppStatusQuery, rolloutAppStatusQueryAlias, waveControlSignal } from './rollout-types';

export function handleMessages(run: RolloutAppState): void {
  setHandler(waveControlSignal, (next) => {
    run.control = next;
  });
  setHandler(rolloutAppStatusQuery, () => appStatusView(run));
  setHandler(deployStatusQueryAlias, () => deployView(run));
  setHandler(rolloutAppStatusQueryAlias, () => run.cvms);
}

// One app's share of a rollout wave, as a child workflow that runs under the app's deployment id, `deploy-<app>`:
// running it *is* holding the app's lock. `cvmflow deploy`, other rollouts and power schedules all see a running
// `deploy-<app>` and keep off, and the wave cannot start it while anyone else holds it, so the lock cannot race.
// The run, top to bottom: each CVM's turn, at most `concurrency` at a time while the wave's control allows —
//   update (prepare → approve the hash on chain → commit → watch) → health gate → (attestation gate),
//   with autoRevert a failed CVM back on its previous compose at once; in revert mode, the revert alone —
// then the result. It answers the deploy workflow's status query, so `cvmflow deploy status <app>` shows what the
// rollout is doing to the app. The state lives in RolloutAppRun (rollout-app-run.ts); the steps are in
// rollout-app-update.ts and rollout-app-revert.ts; the messages in rollout-app-messages.ts.
import { handleMessages } from './rollout-app-messages';
import { RolloutAppRun } from './rollout-app-run';
import { appResult } from './rollout-app-state';
import { turn } from './rollout-app-update';
import type { AppInput, AppResult } from './rollout-types';

export async function rolloutApp(input: AppInput): Promise<AppResult> {
  const run = new RolloutAppRun(input);
  handleMessages(run);
  await run.eachTurn((c) => turn(run, c));
  return appResult(run);
}

// The deploy pipeline of one app (workflow `deploy-<app>`, the app's lock). The run, top to bottom:
//   inspect → create:  provision → [register the app on chain] → [encrypt env] → commit → watch until running
//                      (and attested) → replicate
//           → update:  per CVM, prepare → [encrypt env] → [approve the hash on chain] → commit → watch
//   → done; on a failure or a cancellation, roll back what this run created or changed (newest first).
// The state lives in DeployRun (deploy-run.ts); the status query and the approval update are in deploy-messages.ts;
// the steps are in files by concern: -create, -update, -approval (on-chain allow-list), -rollback.
import { CancellationScope, log, upsertSearchAttributes } from '@temporalio/workflow';
import { commitFirst, encryptEnv, inspect, provision, registerApp, replicate, watchFirst } from './deploy-create';
import { handleMessages } from './deploy-messages';
import { rollBack } from './deploy-rollback';
import { DeployRun } from './deploy-run';
import { deployResult } from './deploy-state';
import { type DeployInput, type DeployResult, SA_PHASE } from './deploy-types';
import { updateInPlace } from './deploy-update';

export async function deployCvm(input: DeployInput): Promise<DeployResult> {
  const run = new DeployRun(input);
  handleMessages(run);
  // Before 'lean-deploy' the phase was set twice here (this and the inspect step's).
  if (!run.lean) upsertSearchAttributes([{ key: SA_PHASE, value: 'inspect' }]);
  try {
    await CancellationScope.cancellable(async () => {
      const existing = await inspect(run);
      if (existing.length) return await updateInPlace(run, existing);
      const app = await registerApp(run, await provision(run));
      const env = await encryptEnv(run, app);
      const first = await commitFirst(run, app, env);
      await watchFirst(run, app, first);
      await replicate(run, app, first);
    });
  } catch (err) {
    await rollBack(run, err);
  }
  run.enter('done');
  log.info('deploy finished', { app: input.app, appId: run.status.appId, cvms: run.status.cvms.length });
  return deployResult(run);
}

// The workflows a middle-tier test worker runs: the real blue-green workflow, and in place of the deploy pipeline
// (its child) a stand-in that "deploys" green at once — green's deploy has its own tests; here only the blue-green
// run's own logic (validators, timers) is under test.
import type { DeployInput, DeployResult } from '../../src/workflows/deploy-types';

export { blueGreen } from '../../src/workflows/bluegreen';

export async function deployCvm(input: DeployInput): Promise<DeployResult> {
  return { app: input.app, appId: `app-${input.app}`, composeHash: 'c0ffee', mode: 'create', cvms: [], timingsMs: {} };
}

// One webhook delivery, remembered: the trigger server starts this workflow under an id derived from the delivery
// id, with a reuse policy that never lets that id run again, so a redelivered webhook finds this run and its
// outcome instead of starting a second deployment. Its one activity performs the launch (reject, supersede or
// start) and is itself safe to retry: a blue-green run carrying this trigger's id is adopted, not started again.
import { proxyActivities } from '@temporalio/workflow';
import type { BlueGreenActivities } from '../activities/bluegreen-activities';
import type { LaunchOutcome, LaunchRequest } from './bluegreen-types';

export async function blueGreenTrigger(req: LaunchRequest): Promise<LaunchOutcome> {
  // A supersede waits for the running deployment's teardown (a route change and a delete), hence the minutes.
  const { bgLaunch } = proxyActivities<BlueGreenActivities>({
    startToCloseTimeout: '5m',
    heartbeatTimeout: '1m',
    retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 5 },
  });
  return bgLaunch(req);
}

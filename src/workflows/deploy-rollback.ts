// How a deploy ends when a step failed or the run was cancelled: what this run created or changed is undone newest
// first, in a non-cancellable scope (a cancelled deploy still cleans up) — unless the spec keeps it for debugging —
// and the run fails with one message saying where, why and what was undone.
import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import type { DeployRun } from './deploy-run';
import { failureText } from './deploy-state';
import { describeError } from './errors';

/** Rolls back as the spec says, then rethrows a cancellation or throws DeployFailed. Never returns. */
export async function rollBack(run: DeployRun, err: unknown): Promise<never> {
  const failedPhase = run.status.phase;
  const cause = describeError(err);
  run.status.lastError = `${failedPhase}: ${cause}`;
  let cleaned: string[] = [];
  if (run.input.onFailure === 'rollback' || isCancellation(err)) {
    run.enter('rollback');
    cleaned = await CancellationScope.nonCancellable(() => run.compensations.run());
    run.status.cleanedUp = cleaned;
  }
  run.enter('failed');
  if (isCancellation(err)) throw err;
  throw ApplicationFailure.create({
    type: 'DeployFailed',
    nonRetryable: true,
    message: failureText(run, failedPhase, cause, cleaned),
    details: [{ phase: failedPhase, cleanedUp: cleaned }],
  });
}

// Puts a CVM a rollout changed back on the compose it had before, from the restore patch recorded before its commit;
// leaves it alone (diverged) when someone else changed it since. Never throws: the outcome is the CVM's state.
import { restoreCompose } from './compose-update';
import { describeError } from './errors';
import type { RolloutAppRun } from './rollout-app-run';
import type { CvmRecord } from './rollout-types';

export async function revert(run: RolloutAppRun, c: CvmRecord, why: string): Promise<void> {
  const patch = c.restore === undefined ? undefined : run.restores[c.restore];
  if (!patch || c.from === undefined || c.to === undefined) {
    c.state = 'revert-failed';
    c.reason = `${why}; no restore data recorded`;
    return;
  }
  c.state = 'reverting';
  const deadlineMs = Date.now() + run.input.cvmDeadlineMs;
  const watchRunning = (cvmId: string, composeHash: string) => run.watchRunning(cvmId, composeHash, deadlineMs);
  const diverged = (composeHash: string) => {
    c.state = 'diverged';
    c.reason = `${why}; now on compose ${composeHash.slice(0, 12)}, changed by someone else since the rollout: left alone`;
  };
  try {
    if (run.shared) {
      // Rollouts update running CVMs only, so each was running before.
      const r = await restoreCompose(
        { restore: run.api.composeRestore, watchRunning },
        { cvmId: c.cvmId, restore: patch, previousComposeHash: c.from, updateComposeHash: c.to, wasRunning: true },
      );
      if (r.outcome === 'diverged') return diverged(r.composeHash);
    } else {
      const r = await run.api.rolloutRevert({
        cvmId: c.cvmId,
        restore: patch,
        previousComposeHash: c.from,
        rolloutComposeHash: c.to,
      });
      if (r.outcome === 'diverged') return diverged(r.composeHash);
      if (r.outcome === 'reverted' || r.started) await watchRunning(c.cvmId, c.from);
    }
    c.state = 'reverted';
    c.reason = `${why}; back on ${c.from.slice(0, 12)}`;
  } catch (err) {
    c.state = 'revert-failed';
    c.reason = `${why}; revert failed: ${describeError(err)}`;
  }
}

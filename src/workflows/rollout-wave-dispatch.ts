// The wave's dispatcher and drain: groups start while slots are free (at most maxParallel CVM updates in flight and
// maxUnavailable target CVMs down), in the wave's order, one group per app at a time; it stops at the rollout's
// stop, the failure budget, the wave deadline (not counting holds), when nothing can start, or when the run has
// started enough CVMs to continue as new. The drain lets app workflows in flight finish.
import { CancellationScope, condition, workflowInfo } from '@temporalio/workflow';
import { runGroup } from './rollout-wave-groups';
import type { WaveRun } from './rollout-wave-run';

/** Starts each group as slots free up, until every group has run or the wave stops. */
export async function dispatch(run: WaveRun): Promise<void> {
  // The dispatcher lives until every group has run: a group back from waiting for a lock needs dispatching too.
  while (!run.idle()) {
    if (run.control.hold && !run.stopping()) {
      await condition(() => run.stopping() || !run.control.hold);
      continue;
    }
    if (!(await condition(() => run.ready(), Math.max(1, run.deadlineAt() - Date.now())))) {
      run.deadlineExceeded = true;
      run.event(`wave deadline exceeded (${run.input.deadlines.waveMs} ms, not counting holds)`);
      break;
    }
    if (run.stopping()) break;
    if (run.control.hold || run.pickable() < 0) continue;
    if (run.free() < 1) {
      run.blocked = `${run.unavailable()} target CVMs are down (failed and not reverted), at maxUnavailable ${run.input.maxUnavailable}: nothing can start`;
      run.event(run.blocked);
      break;
    }
    if (run.startedThisRun >= run.tuning.maxCvmsPerWaveRun || workflowInfo().continueAsNewSuggested) {
      run.continueDue = true;
      break;
    }
    const { group, slots } = run.dispatch();
    run.tasks.push(runGroup(run, group, slots));
  }
}

/** App workflows in flight finish, unless the deadline passes first (then they are cancelled and report their CVMs,
 *  changed or not, so the rollout can revert them). Waits for held apps end at once. */
export async function drain(run: WaveRun): Promise<void> {
  run.waits.cancel();
  if (run.deadlineExceeded) run.scope.cancel();
  const drained = await condition(() => run.drained(), Math.max(1, run.deadlineAt() - Date.now()));
  if (!drained) {
    run.deadlineExceeded = true;
    run.event('wave deadline exceeded with CVMs in progress: cancelled');
    run.scope.cancel();
  }
  await CancellationScope.nonCancellable(() => Promise.allSettled(run.tasks));
}

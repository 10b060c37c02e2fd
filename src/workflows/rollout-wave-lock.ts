// An app another deployment holds: the wave says who, then waits for the lock (the group goes back in line when
// the app is free) or skips the app, as the rollout's onBusy says.
import { isCancellation } from '@temporalio/workflow';
import type { WaveRun } from './rollout-wave-run';
import { type Group, holderText } from './rollout-wave-state';

/** Another deployment holds the app: report who, then wait for it (the group goes back in line) or skip it. */
export async function busy(run: WaveRun, g: Group): Promise<void> {
  try {
    await waitForLock(run, g);
  } finally {
    run.waiting.delete(g.app);
  }
}

async function waitForLock(run: WaveRun, g: Group): Promise<void> {
  const holder = await run.api.rolloutLockHolder({ app: g.app });
  if (!holder) {
    run.queue.unshift(g);
    return;
  }
  const who = holderText(holder);
  if (run.input.onBusy === 'skip') {
    run.skipHeld(g, who);
    return;
  }
  run.waitHeld(g, who);
  try {
    await run.waits.run(() =>
      run.lockWait(Math.max(1000, run.deadlineAt() - Date.now())).rolloutAwaitAppFree({
        app: g.app,
        pollMs: run.tuning.lockPollMs,
      }),
    );
  } catch (err) {
    if (!isCancellation(err)) throw err;
    run.heldUntilStop(g);
    return;
  }
  run.requeue(g);
}

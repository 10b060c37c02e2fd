// One app's share of a wave: the wave takes the app's lock by starting its app workflow as `deploy-<app>`
// (rollout-app.ts), gives it the slots the dispatcher granted and records its result; an app another deployment
// holds goes to the lock wait (rollout-wave-lock.ts).
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { type ChildWorkflowHandle, startChild } from '@temporalio/workflow';
import { deployWorkflowId, SA_APP, SA_KIND, SA_PHASE } from './deploy-types';
import { describeError } from './errors';
import { rolloutApp } from './rollout-app';
import { busy } from './rollout-wave-lock';
import type { WaveRun } from './rollout-wave-run';
import type { Group } from './rollout-wave-state';

/** Runs one app's share: takes its lock by starting `deploy-<app>`, or waits for / skips the app when it is held. */
export async function runGroup(run: WaveRun, g: Group, slots: number): Promise<void> {
  try {
    await runGroupLocked(run, g, slots);
  } finally {
    run.active.delete(g.app);
  }
}

async function runGroupLocked(run: WaveRun, g: Group, slots: number): Promise<void> {
  let handle: ChildWorkflowHandle<typeof rolloutApp>;
  const appInput = run.appInput(g, slots);
  try {
    handle = await run.scope.run(() =>
      startChild(rolloutApp, {
        workflowId: deployWorkflowId(g.app),
        args: [appInput],
        typedSearchAttributes: [
          { key: SA_APP, value: g.app },
          { key: SA_KIND, value: 'rollout' },
          { key: SA_PHASE, value: run.input.mode },
        ],
      }),
    );
  } catch (err) {
    // Counted as waiting from this instant, so the dispatcher never sees the group nowhere.
    if (err instanceof WorkflowExecutionAlreadyStartedError) run.waiting.add(g.app);
    run.used -= slots;
    if (err instanceof WorkflowExecutionAlreadyStartedError) return await busy(run, g);
    run.notStarted(g, describeError(err));
    return;
  }
  run.handles.set(g.app, handle);
  run.runningApps.set(g.app, slots);
  try {
    run.appDone(await handle.result());
  } catch (err) {
    run.appFailed(g, describeError(err));
  } finally {
    run.handles.delete(g.app);
    run.runningApps.delete(g.app);
    run.used -= slots;
  }
}

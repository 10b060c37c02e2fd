// How a run ends. After promotion blue is kept warm for scaleDownDelay (a rollback is then an immediate switch
// back), then retired. A run ended early — abort, rollback, expiry, failure — is torn down instead: traffic back to
// blue (started again if it was stopped), green deleted or stopped as abortPolicy says, blue never touched
// otherwise. Either way the ending runs in a non-cancellable scope, and the run's result (or failure) says how it
// ended once every update handler has answered.
import { ApplicationFailure, allHandlersFinished, CancellationScope, condition, log } from '@temporalio/workflow';
import { route } from './bluegreen-routes';
import type { BlueGreenRun } from './bluegreen-run';
import type { Actor, BlueGreenOutcome, BlueGreenResult, Deployment, TeardownReport } from './bluegreen-types';
import { describeError } from './errors';

/** Blue stays (running or stopped) until scaleDownDelay passed unpaused, or someone finished the run early. */
export async function keepBlueWarm(run: BlueGreenRun): Promise<void> {
  const { blue } = run;
  const { policy } = run;
  if (!blue) return;
  run.enter('warm', `blue ${blue.name} kept ${policy.blueDuringDelay} for ${policy.scaleDownDelayMs / 1000}s`);
  const warmUntil = run.now() + policy.scaleDownDelayMs;
  run.warmUntil = warmUntil;
  if (policy.blueDuringDelay === 'stopped') {
    // Marked first: a rollback arriving while blue stops must start it again.
    run.blueStopped = true;
    await powerAndWait(run, blue, 'stop');
  }
  for (;;) {
    if (run.control.finish) return;
    if (!run.control.paused && run.now() >= warmUntil) return;
    const seen = run.wake;
    await condition(() => run.wake !== seen, run.control.paused ? undefined : Math.max(1, warmUntil - run.now()));
  }
}

async function retireBlue(run: BlueGreenRun): Promise<void> {
  const { blue } = run;
  if (!blue) return;
  run.enter('retiring', `deleting blue ${blue.name}`);
  const deleted = await run.activities.api.deleteAppCvms({ appId: blue.appId });
  run.record('retire', `blue ${blue.name} deleted (${deleted.length} CVM(s))`);
}

async function powerAndWait(run: BlueGreenRun, d: Deployment, action: 'start' | 'stop'): Promise<string[]> {
  const { deploy } = run.input;
  const acted = await run.activities.api.bgPowerApp({ appId: d.appId, action });
  await Promise.all(
    acted.map((cvmId) =>
      run.activities.watch.watchCvm({
        cvmId,
        target: action === 'start' ? 'running' : 'stopped',
        timeoutMs: deploy.timeouts.runningMs,
        intervalS: deploy.watch.intervalS,
        timeoutS: deploy.watch.timeoutS,
      }),
    ),
  );
  return acted;
}

/** Puts traffic back on blue (if green had it or its preview) and removes green as abortPolicy says. */
async function tearDown(run: BlueGreenRun, result: BlueGreenOutcome, actor: Actor): Promise<TeardownReport> {
  const { blue, green, greenId, greenAppId } = run;
  const from = run.phase;
  const requestedAt = run.now();
  run.enter('tearing-down', `${result}: ${actor.reason}`);
  const actions: string[] = [];
  let trafficBackMs: number | undefined;
  const step = async (label: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      actions.push(label);
    } catch (err) {
      const why = describeError(err);
      actions.push(`${label} FAILED: ${why}`);
      run.lastError = `${label}: ${why}`;
      log.error('blue-green teardown step failed', { app: run.app, label, error: why });
    }
  };
  if (run.active === 'green' && blue) {
    if (run.blueStopped) await step(`started blue ${blue.name} again`, () => powerAndWait(run, blue, 'start'));
    await step(`traffic back to blue ${blue.name}`, () =>
      route(run, { active: blue }, `${result} by ${actor.by}: ${actor.reason}`),
    );
    trafficBackMs = run.now() - requestedAt;
  } else if (run.previewing) {
    await step('preview route removed', () =>
      route(run, { ...(blue ? { active: blue } : {}) }, `${result}: preview of ${green!.name} withdrawn`),
    );
  }
  if (run.childRunning) {
    const kept = run.input.deploy.onFailure === 'keep' && result === 'failed';
    actions.push(
      `the deploy of ${greenId?.name} ended early; it ${kept ? 'kept what it made (onFailure: keep)' : 'deleted what it had made'}`,
    );
  } else if (green && run.policy.abortPolicy === 'stop')
    await step(`green ${green.name} stopped (abortPolicy: stop)`, () => powerAndWait(run, green, 'stop'));
  else if (greenAppId)
    await step(`green ${greenId?.name} deleted`, () => run.activities.api.deleteAppCvms({ appId: greenAppId }));
  actions.push(`blue ${blue ? `${blue.name} serves the app` : 'absent: the app has no deployment'}`);
  return { phase: from, outcome: result, actions, ...(trafficBackMs !== undefined ? { trafficBackMs } : {}) };
}

/** A run ended early is torn down; one that ran to its end retires blue. Neither is interrupted. */
export async function endRun(run: BlueGreenRun): Promise<void> {
  const { failure } = run;
  if (failure) {
    run.report = await CancellationScope.nonCancellable(() => tearDown(run, failure.outcome, failure.actor));
    run.outcome = failure.outcome;
    return;
  }
  await CancellationScope.nonCancellable(() => retireBlue(run));
  run.outcome = 'promoted';
  // An abort or rollback accepted in the same instant the last step ended found nothing left to interrupt.
  if (run.control.end)
    run.report = {
      phase: run.phase,
      outcome: run.outcome,
      actions: [`too late to ${run.control.end.kind}: green was already live and blue retired`],
    };
}

/** The run's result once every update handler answered; a failure (or cancellation) carries it in its details. */
export async function closeRun(run: BlueGreenRun): Promise<BlueGreenResult> {
  const { failure, app, blue, greenId } = run;
  const outcome = run.outcome!;
  const serving = outcome === 'promoted' ? run.green : blue;
  run.enter('done', `${outcome}: ${serving ? `${serving.name} serves ${app}` : `${app} has no deployment`}`);
  const result: BlueGreenResult = {
    app,
    outcome,
    ...(serving ? { active: serving } : {}),
    green: greenId?.name ?? '',
    summary: failure
      ? `${outcome}: ${failure.message}`
      : `promoted ${greenId?.name}${blue ? `; retired ${blue.name}` : ''}`,
    history: run.history,
  };
  // Let update handlers (abort, finish, promote) hand back their answers before the run closes.
  await condition(allHandlersFinished);
  if (failure?.outcome === 'failed' || (failure?.outcome === 'rolled-back' && failure.actor.by === 'cvmflow'))
    throw ApplicationFailure.create({
      type: 'BlueGreenFailed',
      nonRetryable: true,
      message: result.summary,
      details: [result],
    });
  if (failure?.actor.by === 'temporal')
    throw ApplicationFailure.create({
      type: 'BlueGreenCancelled',
      nonRetryable: true,
      message: result.summary,
      details: [result],
    });
  return result;
}

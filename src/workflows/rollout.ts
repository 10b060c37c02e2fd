// A rollout of a new version across a fleet of CVMs: targets resolved once and recorded, a canary, then waves —
// each wave a child workflow (src/workflows/rollout-wave.ts) that updates its CVMs under their apps' deployment
// locks. Between waves: the configured pause (a duration, or until `promote`), the deploy-window calendar (a wave
// starts only inside a window, never in a freeze, unless an override says otherwise) and `pause`. Failures beyond
// the budget, a missed wave deadline or `abort` stop the rollout; CVMs it updated are then put back on their
// previous compose (autoRevert, or abort with revert) by a revert wave. Control is through validated Updates;
// the full state moves to a fresh run (continue-as-new) between waves, so history stays small for any fleet size.
// A background analysis (rollout-background) measures beside the waves from the first wave on; its failure fails
// the rollout at once.
//
// This file is the pipeline; its steps live by concern: the run's state (rollout-state), messages and their validators
// (rollout-messages), planning (rollout-targets), waiting between waves (rollout-windows), running a wave
// (rollout-waves), the end and the revert (rollout-finish), the status view (rollout-view).
import {
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import { safeParseCalendar } from '../calendar';
import { iso } from '../domain/time';
import { analyseWave } from './rollout-analysis';
import { startBackground, stopBackground } from './rollout-background';
import { finishRollout } from './rollout-finish';
import { wireRolloutMessages } from './rollout-messages';
import { RolloutRun } from './rollout-state';
import { planRollout } from './rollout-targets';
import type { RolloutInput, RolloutResult } from './rollout-types';
import { countWave, runUpdateWave } from './rollout-waves';
import { pauseBefore, startGate, useUpWaveOverrides } from './rollout-windows';

// The wave and app workflows are registered through this module (src/workflows/index.ts).
export { rolloutApp } from './rollout-app';
export { rolloutWave } from './rollout-wave';

export async function rollout(input: RolloutInput): Promise<RolloutResult> {
  checkConfig(input);
  const run = new RolloutRun(input, workflowInfo().workflowId);
  wireRolloutMessages(run); // status, pause, resume, abort, promote, skipWindow, liftFreeze
  if (!input.carried) await planRollout(run); // resolve the targets, plan canary and waves
  let cancelled: unknown;
  const waves = new CancellationScope();
  run.stopWaves = () => waves.cancel(); // a failed background analysis stops the waves at once
  try {
    await waves.run(() => runWaves(run));
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // The waves were stopped by the background analysis, not by a cancellation of the rollout itself.
    const byBackground = run.failure !== undefined && !CancellationScope.current().consideredCancelled;
    if (!byBackground) {
      cancelled = err;
      run.st.abort ??= cancelledAbort(run);
    }
  }
  // The background analysis' last measurements, then revert on a breach (autoRevert) or an abort with revert.
  return await CancellationScope.nonCancellable(async () => {
    await stopBackground(run, { end: true });
    return finishRollout(run, cancelled);
  });
}

/** Wave after wave until the plan is done, the rollout is aborted or a wave stops it. */
async function runWaves(run: RolloutRun): Promise<void> {
  const { st } = run;
  startBackground(run, { firstWave: false }); // a continued run goes on measuring at once
  while (st.nextWave < st.waves.length && !st.abort) {
    const wave = st.nextWave;
    await pauseBefore(run, wave); // the pause after the previous wave, or until promote
    if (st.abort) break;
    await startGate(run, wave); // the deploy window, a freeze, a pause
    if (st.abort) break;
    startBackground(run, { firstWave: true }); // the background analysis, from the first wave on (issue 23)
    const result = await runUpdateWave(run, wave); // the wave's child workflow
    if (!result) break;
    let stop = countWave(run, wave, result); // failures against the budget, deadline, blocked
    useUpWaveOverrides(run);
    if (!stop && result.outcome === 'done' && run.config.analysis?.metrics.length && patched('metric-analysis'))
      stop = await analyseWave(run, wave); // the wave's metrics (issue 23)
    if (stop) break;
    await continueAsNewIfDue(run);
  }
}

/** The whole state moves to a fresh run every few waves, so history stays small for any fleet size. */
async function continueAsNewIfDue(run: RolloutRun): Promise<void> {
  const due = run.wavesThisRun >= run.tuning.maxWavesPerRun || workflowInfo().continueAsNewSuggested;
  if (!due || run.st.nextWave >= run.st.waves.length) return;
  await stopBackground(run, { end: false }); // its state moves on with the rest
  await condition(allHandlersFinished);
  await continueAsNew<typeof rollout>({ ...run.input, clock: run.clock, carried: run.st });
}

function cancelledAbort(run: RolloutRun): NonNullable<RolloutRun['st']['abort']> {
  const reason = 'the rollout workflow was cancelled';
  const atMs = run.now();
  return { by: 'temporal', reason, note: reason, at: iso(atMs), revert: run.config.autoRevert, atMs };
}

function checkConfig(input: RolloutInput): void {
  const c = input?.config;
  const problems: string[] = [];
  if (!c?.name) problems.push('name is missing');
  if (!c?.targets || (c.targets.apps.length + c.targets.cvms.length === 0 && !c.targets.selector))
    problems.push('no targets');
  if (!(c?.strategy?.maxParallel >= 1)) problems.push('strategy.maxParallel must be at least 1');
  if (!c?.version?.dockerCompose && !c?.version?.sealedEnv) problems.push('version needs a compose or env');
  if (c?.windows) {
    const cal = safeParseCalendar(c.windows.calendar);
    if (!cal.ok) problems.push(...cal.issues.map((i) => `windows.calendar.${i.path}: ${i.message}`));
  }
  if (problems.length)
    throw ApplicationFailure.create({
      type: 'InvalidInput',
      nonRetryable: true,
      message: `invalid rollout: ${problems.join('; ')}`,
    });
}

// Running a wave: each wave (and the final revert) is a child workflow (src/workflows/rollout-wave.ts) given the
// fleet-wide limits that are left; while it runs, the rollout steers it (hold on pause or a closed window, stop on
// abort) and, when it ends, merges its CVM records back and counts its failures against the budget.
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  startChild,
} from '@temporalio/workflow';
import { describeError } from './errors';
import { countStates, describeSize, isUnavailable } from './rollout-plan';
import type { RolloutRun, RunningWave } from './rollout-state';
import { type CvmRecord, type WaveInput, type WaveResult, waveControlSignal, waveWorkflowId } from './rollout-types';
import { summary } from './rollout-view';
import { rolloutWave } from './rollout-wave';

/** Runs wave `wave` of the plan over its CVMs; undefined when the wave workflow itself failed (`run.failure` says why). */
export async function runUpdateWave(run: RolloutRun, wave: number): Promise<WaveResult | undefined> {
  run.setPhase('updating');
  const plan = run.st.waves[wave]!;
  const cvms = run.st.cvms.slice(plan.first, plan.first + plan.count);
  try {
    return await runWave(run, wave, 'update', cvms, plan.kind);
  } catch (err) {
    // A cancelled rollout stops its wave itself (rollout-finish.ts).
    if (isCancellation(err)) throw err;
    // The wave workflow itself failed: stop, and put back what the rollout knows it changed.
    run.failure = describeError(err);
    return undefined;
  }
}

/**
 * Counts a finished wave's failures and moves the plan on; true when the rollout stops here (budget exceeded, a
 * missed deadline, a blocked or stopped wave).
 */
export function countWave(run: RolloutRun, wave: number, result: WaveResult): boolean {
  const { st, config } = run;
  st.failures += result.failures;
  st.nextWave = wave + 1;
  run.wavesThisRun++;
  if (result.outcome === 'budget-exceeded')
    run.failure = `failure budget exceeded: ${st.failures} CVMs failed, ${run.budget()} allowed${'percent' in config.failureBudget ? ` (${describeSize(config.failureBudget)})` : ''}`;
  else if (result.outcome === 'deadline-exceeded')
    run.failure = `wave ${wave} missed its deadline (${config.deadlines.waveMs} ms)`;
  else if (result.outcome === 'blocked') run.failure = `wave ${wave} could not go on: ${result.reason}`;
  return run.failure !== undefined || result.outcome === 'stopped';
}

export async function runWave(
  run: RolloutRun,
  wave: number,
  mode: 'update' | 'revert',
  cvms: CvmRecord[],
  reason: string,
): Promise<WaveResult> {
  const { st } = run;
  const workflowId = waveWorkflowId(run.rolloutId, wave, mode);
  const sent = mode === 'revert' ? { hold: false, stop: false } : run.waveControl();
  const args = waveInput(run, wave, mode, cvms, sent);
  const kind = mode === 'update' ? (st.waves[wave]?.kind ?? 'wave') : 'wave';
  st.waveLog.push({ index: wave, kind, mode, startedAtMs: run.now() });
  run.record(`${mode === 'revert' ? 'revert' : kind} ${wave} started: ${cvms.length} CVMs (${reason})`);
  // Started outside the rollout's cancellation scope: a cancelled rollout stops its wave itself and waits for its
  // report, so it knows which CVMs to put back.
  const handle = await CancellationScope.nonCancellable(() => startChild(rolloutWave, { workflowId, args: [args] }));
  const running: RunningWave = { index: wave, mode, workflowId, done: false, sent };
  run.current = running;
  handle.result().then(
    (r) => Object.assign(running, { done: true, result: r }),
    (e) => Object.assign(running, { done: true, error: e }),
  );
  while (!running.done) {
    run.dirty = false;
    await condition(() => running.done || run.dirty, mode === 'update' ? run.wakeFor(run.gate()) : undefined);
    if (mode === 'update') await steer(run, running);
  }
  return finishWave(run, running);
}

function waveInput(
  run: RolloutRun,
  wave: number,
  mode: 'update' | 'revert',
  cvms: CvmRecord[],
  control: WaveInput['control'],
): WaveInput {
  const { st, config } = run;
  const strategy = config.strategy;
  const revert = mode === 'revert';
  return {
    rolloutId: run.rolloutId,
    rolloutName: config.name,
    wave,
    mode,
    cvms,
    version: config.version,
    // A revert takes CVMs down too, so it keeps within maxUnavailable by its concurrency alone (it does not count
    // the failed CVMs it is there to fix, which could otherwise block it).
    strategy: revert
      ? { maxParallel: Math.min(strategy.maxParallel, run.maxUnavailable()), jitterMs: 0 }
      : { maxParallel: strategy.maxParallel, jitterMs: strategy.jitterMs },
    maxUnavailable: run.maxUnavailable(),
    unavailableBefore: st.cvms.filter((c) => c.wave !== wave && isUnavailable(c)).length,
    failuresLeft: Math.max(0, run.budget() - st.failures),
    health: config.health,
    deadlines: {
      cvmMs: config.deadlines.cvmMs,
      // A revert covers many waves' worth of CVMs: one wave deadline per maxParallel of them.
      waveMs: revert
        ? config.deadlines.waveMs * Math.ceil(cvms.length / strategy.maxParallel)
        : config.deadlines.waveMs,
    },
    autoRevert: config.autoRevert,
    onBusy: revert ? 'wait' : config.onBusy,
    restores: revert ? st.restores : {},
    knownRestoreKeys: Object.keys(st.restores),
    control,
    tuning: run.input.tuning ?? {},
  };
}

/** Sends the wave the control it should have now (pause, window end, abort); the latest signal wins. */
export async function steer(run: RolloutRun, running: RunningWave): Promise<void> {
  const next = run.waveControl();
  if (running.done || (next.hold === running.sent.hold && next.stop === running.sent.stop)) return;
  running.sent = next;
  if (next.hold) run.setPhase('paused', next.reason);
  else run.setPhase('updating');
  await getExternalWorkflowHandle(running.workflowId)
    .signal(waveControlSignal, next)
    .catch(() => undefined);
}

export function finishWave(run: RolloutRun, running: RunningWave): WaveResult {
  run.current = undefined;
  if (running.error !== undefined || !running.result) {
    throw ApplicationFailure.create({
      type: 'RolloutFailed',
      nonRetryable: true,
      message: `wave ${running.index} (${running.workflowId}) failed: ${describeError(running.error)}`,
    });
  }
  merge(run, running.result, running.mode);
  const r = running.result;
  run.record(
    `${running.mode === 'revert' ? 'revert' : 'wave'} ${r.wave} ended: ${r.outcome}${r.reason ? ` (${r.reason})` : ''}; ${summary(countStates(r.cvms))}`,
  );
  return r;
}

function merge(run: RolloutRun, result: WaveResult, mode: 'update' | 'revert'): void {
  const { st } = run;
  for (const c of result.cvms) {
    const i = run.index.get(c.cvmId);
    if (i !== undefined) st.cvms[i] = c;
  }
  Object.assign(st.restores, result.restores);
  const entry = st.waveLog.find((w) => w.index === result.wave && w.mode === mode);
  if (entry) Object.assign(entry, { endedAtMs: run.now(), outcome: result.outcome, counts: countStates(result.cvms) });
}

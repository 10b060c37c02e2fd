// The rollout's background analysis (issue 23; Argo Rollouts' background analysis): from the first wave's start
// until the rollout ends, each metric is measured on its own interval, one activity per measurement, so every
// measurement is in the rollout's history as it is taken and a crashed worker loses none. The loops run in their own
// non-cancellable scope beside the waves: a failed metric fails the rollout at once (its waves' scope is cancelled,
// the running wave stopped, then autoRevert puts the CVMs back); errors and inconclusive results pause it for a
// person, like a wave's analysis. At the end, and before continue-as-new, the loops are stopped — a measurement in
// flight is awaited, never cancelled, so the last one is kept — and their state moves on with the rollout's.
import { CancellationScope, condition, patched, proxyActivities } from '@temporalio/workflow';
import type { AnalysisActivities } from '../activities/analysis-activities';
import type { MetricSpec, Vars, Verdict } from '../analysis/types';
import { iso } from '../domain/time';
import { retryPolicy } from './activity-options';
import { metricLines } from './analysis-report';
import { describeError } from './errors';
import type { RolloutRun } from './rollout-state';
import type { BackgroundAnalysisView, BackgroundMetric } from './rollout-types';

/** Extra time one measurement's activity may take beyond the metric's own timeout. */
const ATTEMPT_ALLOWANCE_MS = 5_000;

/** What this run knows of its loops: whether they are told to stop, and when they all have. */
export interface BackgroundLoops {
  stopping: boolean;
  done: Promise<void>;
}

const enabled = (run: RolloutRun) =>
  (run.config.analysis?.background?.metrics.length ?? 0) > 0 && patched('background-analysis');

/**
 * Starts the loops: when the first wave starts (`firstWave`), and at once in a run continued from one that had
 * started them. A no-op when the spec has no background analysis, or it is running or over.
 */
export function startBackground(run: RolloutRun, opts: { firstWave: boolean }): void {
  const { st } = run;
  if (run.background || st.background?.ended) return;
  if (!st.background && !opts.firstWave) return;
  if (!enabled(run)) return;
  const metrics = run.config.analysis!.background!.metrics;
  if (!st.background) {
    st.background = {
      startedAtMs: run.now(),
      metrics: metrics.map((m) => ({ name: m.name, nextAtMs: Date.now() + m.initialDelayMs })),
    };
    run.record(`background analysis started: ${metrics.map((m) => m.name).join(', ')}`);
  }
  const loops: BackgroundLoops = { stopping: false, done: Promise.resolve() };
  loops.done = CancellationScope.nonCancellable(() =>
    Promise.all(metrics.map((spec) => measureLoop(run, loops, spec))).then(() => undefined),
  );
  run.background = loops;
}

/**
 * Stops the loops and waits for a measurement in flight. `end`: the rollout is over, so the analysis gets its
 * verdict; otherwise (continue-as-new) the state is carried and the next run goes on measuring.
 */
export async function stopBackground(run: RolloutRun, opts: { end: boolean }): Promise<void> {
  const loops = run.background;
  if (loops) {
    loops.stopping = true;
    await loops.done;
    run.background = undefined;
  }
  const bg = run.st.background;
  if (!opts.end || !bg || bg.ended) return;
  const specs = run.config.analysis!.background!.metrics;
  const deciding = bg.metrics.filter((m) => !specs.find((x) => x.name === m.name)?.dryRun);
  const worst = (['fail', 'error', 'inconclusive'] as const)
    .map((v) => deciding.find((m) => finalVerdict(m) === v))
    .find((m) => m !== undefined);
  bg.ended = worst
    ? {
        atMs: run.now(),
        verdict: finalVerdict(worst),
        reason: worst.result?.reason ?? `metric ${worst.name}: never measured before the rollout ended`,
      }
    : {
        atMs: run.now(),
        verdict: 'pass',
        reason: `${deciding.length} metric(s) measured until the rollout ended; none failed`,
      };
  const view = backgroundView(run)!;
  for (const line of metricLines(view)) run.record(`background analysis: ${line}`);
  run.record(`background analysis ${bg.ended.verdict}: ${bg.ended.reason}`);
}

async function measureLoop(run: RolloutRun, loops: BackgroundLoops, spec: MetricSpec): Promise<void> {
  const m = run.st.background!.metrics.find((x) => x.name === spec.name)!;
  const { analysisMeasure } = proxyActivities<AnalysisActivities>({
    startToCloseTimeout: spec.timeoutMs + ATTEMPT_ALLOWANCE_MS,
    retry: retryPolicy({ initialMs: 1000, maximumAttempts: 3 }),
  });
  while (!loops.stopping && !m.state?.verdict && !run.st.background?.ended) {
    const wait = m.nextAtMs - Date.now();
    if (wait > 0) await condition(() => loops.stopping, wait);
    if (loops.stopping) return;
    try {
      const out = await analysisMeasure({
        metric: spec,
        vars: backgroundVars(run),
        ...(m.state ? { state: m.state } : {}),
      });
      m.state = out.state;
      m.result = out.result;
    } catch (err) {
      // The activity itself failed (not the metric: a provider's trouble is an `error` measurement): try again.
      run.record(`background metric ${spec.name}: measurement not taken: ${describeError(err)}`);
    }
    m.nextAtMs = Date.now() + spec.intervalMs;
    if (m.state?.verdict) judge(run, loops, m, spec);
  }
}

/** What a metric's verdict does to the rollout. */
function judge(run: RolloutRun, loops: BackgroundLoops, m: BackgroundMetric, spec: MetricSpec): void {
  const { st } = run;
  const verdict = m.state!.verdict!;
  const reason = m.result!.reason;
  if (spec.dryRun || verdict === 'pass') {
    run.record(`background analysis: ${reason}`);
    return;
  }
  if (verdict === 'fail') {
    m.failed = true;
    loops.stopping = true;
    if (!run.failure) {
      run.failure = `background analysis fail: ${reason}`;
      run.record(run.failure);
      run.dirty = true;
      run.stopWaves?.();
    }
    return;
  }
  // No usable answer, or no clear one: a person decides; the metric starts counting afresh meanwhile.
  const note = `background analysis ${verdict}: ${reason.slice(0, 200)}; resume to go on, abort to stop (and revert)`;
  // Errors stay counted (they are what happened); the limits count from zero again.
  const tally = { ...m.state!.tally, taken: 0, passes: 0, failures: 0, inconclusive: 0, consecutiveErrors: 0 };
  m.state = { tally, measurements: m.state!.measurements };
  run.record(note);
  if (!st.paused && !st.abort) {
    const at = run.now();
    st.paused = { by: 'cvmflow', reason: note, note, at: iso(at), sinceMs: at };
    run.dirty = true;
  }
}

/**
 * A metric's verdict once the rollout is over: its own (it failed, or passed its count), else `pass` if it took
 * measurements and never failed beyond its limit since its last verdict, `error` if it took none and erred,
 * `inconclusive` if it was never measured.
 */
function finalVerdict(m: BackgroundMetric): Verdict {
  if (m.failed) return 'fail';
  if (m.state?.verdict) return m.state.verdict;
  if (m.state && m.state.tally.taken > 0) return 'pass';
  return m.state && m.state.tally.errors > 0 ? 'error' : 'inconclusive';
}

/**
 * Placeholders: `{cvm}` and `{app}` are regex alternations of all the rollout's target CVMs and apps, `{updated}` of
 * the CVMs updated so far; `{version}` the new compose hash once known, `{wave}` the wave running or next.
 */
export function backgroundVars(run: RolloutRun): Vars {
  const { st, config } = run;
  const updated = st.cvms.filter((c) => c.state === 'healthy');
  return {
    rollout: config.name,
    wave: String(run.current?.index ?? st.nextWave),
    app: [...new Set(st.cvms.map((c) => c.app))].join('|'),
    cvm: st.cvms.map((c) => c.cvmId).join('|'),
    updated: updated.map((c) => c.cvmId).join('|'),
    version: updated.find((c) => c.to)?.to ?? '',
  };
}

/** The status view: every metric's counts and latest measurements; `measuring` until a metric has its verdict. */
export function backgroundView(run: RolloutRun): BackgroundAnalysisView | undefined {
  const bg = run.st.background;
  if (!bg) return undefined;
  const specs = run.config.analysis?.background?.metrics ?? [];
  const metrics = bg.metrics.map((m): BackgroundAnalysisView['metrics'][number] => {
    const spec = specs.find((s) => s.name === m.name);
    const base = m.result ?? {
      name: m.name,
      provider: spec?.provider.type ?? 'prometheus',
      dryRun: spec?.dryRun ?? false,
      reason: `metric ${m.name}: first measurement at ${iso(m.nextAtMs)}`,
      counts: { taken: 0, passes: 0, failures: 0, inconclusive: 0, errors: 0 },
      measurements: [],
    };
    const verdict: Verdict | 'measuring' = bg.ended ? finalVerdict(m) : (m.state?.verdict ?? 'measuring');
    return { ...base, verdict };
  });
  return {
    verdict: bg.ended?.verdict ?? 'measuring',
    reason: bg.ended?.reason ?? `${metrics.length} metric(s) measuring since ${iso(bg.startedAtMs)}`,
    startedAtMs: bg.startedAtMs,
    ...(bg.ended ? { endedAtMs: bg.ended.atMs } : {}),
    metrics,
  };
}

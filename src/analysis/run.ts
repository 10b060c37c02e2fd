// Runs an analysis: every metric measured on its own clock (initialDelay, then count measurements interval apart),
// counted and judged by Argo Rollouts' rules, all metrics at once. A deciding metric that fails ends the analysis
// at once; dry-run metrics are measured and recorded but never decide. No Temporal here: the activity
// (src/activities/analysis-activities.ts) passes a sleep, a progress callback (its heartbeat) and the state a
// retried attempt resumes from.
import type { MeasureContext } from './provider';
import { providerFor } from './registry';
import type { AnalysisResult, Measurement, MetricResult, MetricRules, MetricSpec, Vars, Verdict } from './types';

/** Measurements kept per metric in a result (and so in history); older ones are only counted. */
export const KEPT_MEASUREMENTS = 10;

export interface Tally {
  taken: number;
  passes: number;
  failures: number;
  inconclusive: number;
  errors: number;
  consecutiveErrors: number;
}

export const emptyTally = (): Tally => ({
  taken: 0,
  passes: 0,
  failures: 0,
  inconclusive: 0,
  errors: 0,
  consecutiveErrors: 0,
});

/** Adds a measurement; an error is not a measurement (it is retried), but too many in a row end the metric. */
export function addMeasurement(t: Tally, v: Verdict): Tally {
  if (v === 'error') return { ...t, errors: t.errors + 1, consecutiveErrors: t.consecutiveErrors + 1 };
  return {
    ...t,
    taken: t.taken + 1,
    consecutiveErrors: 0,
    passes: t.passes + (v === 'pass' ? 1 : 0),
    failures: t.failures + (v === 'fail' ? 1 : 0),
    inconclusive: t.inconclusive + (v === 'inconclusive' ? 1 : 0),
  };
}

/** The metric's verdict once one is due, else undefined (take another measurement). */
export function metricVerdict(
  t: Tally,
  rules: Pick<MetricRules, 'count' | 'failureLimit' | 'inconclusiveLimit' | 'consecutiveErrorLimit'>,
): Verdict | undefined {
  if (t.failures > rules.failureLimit) return 'fail';
  if (t.consecutiveErrors > rules.consecutiveErrorLimit) return 'error';
  if (t.inconclusive > rules.inconclusiveLimit) return 'inconclusive';
  // count 0: no end of its own (a background metric, measured until the rollout ends).
  if (rules.count > 0 && t.taken >= rules.count) return 'pass';
  return undefined;
}

/** The analysis' verdict from its metrics' verdicts: dry-run ones never count; the worst deciding one wins. */
export function overallVerdict(metrics: Pick<MetricResult, 'verdict' | 'dryRun'>[]): Verdict {
  const deciding = metrics.filter((m) => !m.dryRun).map((m) => m.verdict);
  for (const v of ['fail', 'error', 'inconclusive'] as const) if (deciding.includes(v)) return v;
  return 'pass';
}

/** What a retried attempt resumes from: each metric's tally and kept measurements. */
export interface RunState {
  metrics: Record<string, { tally: Tally; measurements: Measurement[]; verdict?: Verdict }>;
}

export interface RunDeps {
  sleep(ms: number): Promise<void>;
  env: NodeJS.ProcessEnv;
  /** Aborts every measurement in flight (the activity was cancelled). */
  signal?: AbortSignal;
  /** Called after every measurement with the whole state (the activity heartbeats it). */
  progress?(state: RunState): void;
  resume?: RunState;
}

export async function runAnalysis(metrics: MetricSpec[], vars: Vars, deps: RunDeps): Promise<AnalysisResult> {
  const state: RunState = { metrics: { ...deps.resume?.metrics } };
  // A deciding failure stops the other metrics: their answers no longer matter.
  const stop = new AbortController();
  const signal = deps.signal ? AbortSignal.any([deps.signal, stop.signal]) : stop.signal;

  async function runMetric(m: MetricSpec): Promise<void> {
    const s = state.metrics[m.name] ?? { tally: emptyTally(), measurements: [] };
    state.metrics[m.name] = s;
    if (s.verdict) return;
    if (s.tally.taken + s.tally.errors === 0 && m.initialDelayMs > 0) await deps.sleep(m.initialDelayMs);
    for (;;) {
      if (signal.aborted) return;
      const taken = await takeMeasurement(m, vars, deps.env, signal);
      if (signal.aborted) return;
      s.tally = addMeasurement(s.tally, taken.verdict);
      s.measurements = [...s.measurements, taken].slice(-KEPT_MEASUREMENTS);
      s.verdict = metricVerdict(s.tally, m);
      deps.progress?.(state);
      if (s.verdict) {
        if (!m.dryRun && s.verdict !== 'pass') stop.abort();
        return;
      }
      await deps.sleep(m.intervalMs);
    }
  }

  await Promise.all(metrics.map(runMetric));
  if (deps.signal?.aborted) throw deps.signal.reason ?? new Error('analysis cancelled');
  const results = metrics.map((m) => metricResult(m, state.metrics[m.name]!));
  const verdict = overallVerdict(results);
  const deciding = results.find((r) => !r.dryRun && r.verdict === verdict);
  return {
    verdict,
    reason:
      verdict === 'pass'
        ? `${results.filter((r) => !r.dryRun).length} metric(s) passed${
            results.some((r) => r.dryRun)
              ? `; dry-run: ${results
                  .filter((r) => r.dryRun)
                  .map((r) => `${r.name} ${r.verdict}`)
                  .join(', ')}`
              : ''
          }`
        : (deciding?.reason ?? verdict),
    metrics: results,
  };
}

/** One measurement by the metric's provider; a provider that throws (no usable answer) gives an `error`. */
async function takeMeasurement(m: MetricSpec, vars: Vars, env: NodeJS.ProcessEnv, signal: AbortSignal) {
  const ctx: MeasureContext = {
    vars,
    timeoutMs: m.timeoutMs,
    env,
    signal: AbortSignal.any([signal, AbortSignal.timeout(m.timeoutMs)]),
  };
  try {
    return { atMs: Date.now(), ...(await providerFor(m.provider).measure(m.provider as never, m, ctx)) } as Measurement;
  } catch (err) {
    return { atMs: Date.now(), verdict: 'error', query: '', value: '', detail: (err as Error).message } as Measurement;
  }
}

/** One metric's running state: what a background analysis carries from one measurement to the next. */
export type MetricState = RunState['metrics'][string];

/**
 * Takes one measurement of a metric that is measured on and on (a rollout's background analysis) and judges the
 * state by the same rules as runAnalysis; `count: 0` never passes by count (measured until the rollout ends).
 */
export async function measureOnce(
  m: MetricSpec,
  vars: Vars,
  prev: MetricState | undefined,
  deps: Pick<RunDeps, 'env' | 'signal'>,
): Promise<{ state: MetricState; result: MetricResult }> {
  const taken = await takeMeasurement(m, vars, deps.env, deps.signal ?? new AbortController().signal);
  const tally = addMeasurement(prev?.tally ?? emptyTally(), taken.verdict);
  const verdict = metricVerdict(tally, m);
  const state: MetricState = {
    tally,
    measurements: [...(prev?.measurements ?? []), taken].slice(-KEPT_MEASUREMENTS),
    ...(verdict ? { verdict } : {}),
  };
  const result = metricResult(m, state);
  if (verdict) return { state, result };
  const c = tally;
  const last = taken.value ? `value ${taken.value}` : taken.detail;
  const reason = `${m.dryRun ? '[dry-run] ' : ''}metric ${m.name}: measuring; ${c.passes} pass, ${c.failures} fail (failureLimit ${m.failureLimit}), ${c.inconclusive} inconclusive, ${c.consecutiveErrors} errors in a row; last: ${last}`;
  return { state, result: { ...result, reason: reason.slice(0, 500) } };
}

function metricResult(m: MetricSpec, s: RunState['metrics'][string]): MetricResult {
  // A metric stopped by another's failure has no verdict of its own: it counts as inconclusive, never as a pass.
  const verdict = s.verdict ?? 'inconclusive';
  const last = s.measurements.at(-1);
  const value = last?.value ? `value ${last.value}` : 'no value';
  const limits = `${s.tally.failures} failed, ${s.tally.inconclusive} inconclusive, ${s.tally.errors} errors of ${s.tally.taken + s.tally.errors} measurements; failureLimit ${m.failureLimit}`;
  const reason =
    verdict === 'pass'
      ? `metric ${m.name}: passed ${s.tally.passes} of ${s.tally.taken} (last ${value})`
      : !s.verdict
        ? `metric ${m.name}: stopped before its verdict (another metric decided)`
        : verdict === 'error'
          ? `metric ${m.name}: ${s.tally.consecutiveErrors} errors in a row (consecutiveErrorLimit ${m.consecutiveErrorLimit}); last: ${last?.detail ?? ''}`
          : `metric ${m.name}: ${value}: ${last?.detail ?? ''} (${limits}${verdict === 'inconclusive' ? `, inconclusiveLimit ${m.inconclusiveLimit}` : ''})`;
  return {
    name: m.name,
    provider: m.provider.type,
    dryRun: m.dryRun,
    verdict,
    reason: `${m.dryRun ? '[dry-run] ' : ''}${reason}`.slice(0, 500),
    counts: {
      taken: s.tally.taken,
      passes: s.tally.passes,
      failures: s.tally.failures,
      inconclusive: s.tally.inconclusive,
      errors: s.tally.errors,
    },
    measurements: s.measurements,
  };
}

// Pure helpers for workflows that run a metric analysis (blue-green, rollout): how long the activity may take, and
// the lines its result leaves in a run's history — one per metric, naming its verdict, its last value and query.
import type { AnalysisResult, MetricResult, MetricSpec } from '../analysis/types';

/** The longest an analysis of these metrics can take when every measurement uses its whole timeout. */
export function analysisBoundMs(metrics: MetricSpec[]): number {
  let longest = 0;
  for (const m of metrics)
    longest = Math.max(
      longest,
      m.initialDelayMs + (m.count + m.consecutiveErrorLimit + 1) * (m.intervalMs + m.timeoutMs),
    );
  return longest;
}

/** One line per metric: `error-rate (prometheus): fail, 2 pass 1 fail 0 inconclusive 1 error; last value … of …`. */
export function metricLines(result: { metrics: (Omit<MetricResult, 'verdict'> & { verdict: string })[] }): string[] {
  return result.metrics.map((m) => {
    const last = m.measurements.at(-1);
    const c = m.counts;
    const lastText = last ? `; last: ${last.value ? `value ${last.value}` : last.detail} (query ${last.query})` : '';
    return `${m.dryRun ? '[dry-run] ' : ''}metric ${m.name} (${m.provider}): ${m.verdict}, ${c.passes} pass ${c.failures} fail ${c.inconclusive} inconclusive ${c.errors} error${lastText}`;
  });
}

/** The counts of all deciding metrics together, in the blue-green web check's tally shape. */
export function summedTally(result: AnalysisResult) {
  const t = { taken: 0, passes: 0, failures: 0, inconclusive: 0, consecutiveErrors: 0, errors: 0 };
  for (const m of result.metrics.filter((x) => !x.dryRun)) {
    t.taken += m.counts.taken;
    t.passes += m.counts.passes;
    t.failures += m.counts.failures;
    t.inconclusive += m.counts.inconclusive;
    t.errors += m.counts.errors;
  }
  return t;
}

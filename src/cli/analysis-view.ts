// How `rollout status` and `bluegreen status` show a metric analysis: its verdict and reason, then each metric with
// its counts and latest measurements (when, verdict, value, query), so a failed wave says what was measured.
import type { AnalysisResult, MetricResult } from '../analysis/types';

/** Measurements shown per metric; the rest are in --json. */
const SHOWN = 3;

/** A finished analysis, or one still measuring (a rollout's background analysis: verdict `measuring`). */
type Shown = Omit<AnalysisResult, 'verdict' | 'metrics'> & {
  verdict: string;
  metrics: (Omit<MetricResult, 'verdict'> & { verdict: string })[];
};

export function renderAnalysis(label: string, a: Shown): string[] {
  const lines = [`  analysis ${label}: ${a.verdict} — ${a.reason}`];
  for (const m of a.metrics) {
    const c = m.counts;
    lines.push(
      `    ${m.name} (${m.provider}${m.dryRun ? ', dry-run' : ''}): ${m.verdict}; ${c.passes} pass, ${c.failures} fail, ${c.inconclusive} inconclusive, ${c.errors} error`,
    );
    for (const x of m.measurements.slice(-SHOWN))
      lines.push(
        `      ${new Date(x.atMs).toISOString()} ${x.verdict}${x.value ? ` value ${x.value}` : ''} — ${x.verdict === 'error' ? x.detail : x.query}`,
      );
  }
  return lines;
}

// The tour's metric analysis (issue 23): a local Prometheus (../dev/prometheus) scraping the demo simulator's CVMs,
// the error-rate metric the rollout step judges each wave with, and the simulator's app rules that make a CVM's
// synthetic traffic fail. Prometheus is optional: without the binary the step says so in one line and its waves are
// gated by their HTTP health checks alone.
import { findPrometheus, type LocalPrometheus, startPrometheus } from '../dev/prometheus';
import type { WaveAnalysis } from '../workflows/rollout-types';
import type { DemoAnalysis, DemoContext } from './types';

/**
 * The share of the wave's requests that failed over the last 5 s, counting the new version's series only. The
 * `> 0` drops a sum of no requests yet, so a version too new to have two scrapes answers nothing (an error, which
 * the analysis retries) instead of NaN (which `<` would judge a failure).
 */
export const ERROR_RATE_QUERY =
  'sum(rate(http_requests_total{cvm=~"{cvm}",version="{version}",code="500"}[5s]))' +
  ' / (sum(rate(http_requests_total{cvm=~"{cvm}",version="{version}"}[5s])) > 0)';
export const ERROR_RATE_CONDITION = 'result[0] < 0.05';

/** A local Prometheus for the tour, or why there is none (the step then says so and gates on HTTP health). */
export type DemoPrometheus = { prometheus: LocalPrometheus } | { unavailable: string };

/**
 * Starts Prometheus on loopback, scraping every running CVM of the simulator at `appsUrl` each second. Never
 * throws: a missing binary or a failed start is an answer, as the tour must not fail for an optional tool.
 */
export async function startDemoPrometheus(appsUrl: string): Promise<DemoPrometheus> {
  if (!findPrometheus())
    return { unavailable: 'Prometheus is not installed (scripts/ensure-prometheus.sh installs it)' };
  try {
    return { prometheus: await startPrometheus({ sdUrl: `${appsUrl}/sd/prometheus` }) };
  } catch (err) {
    return { unavailable: `Prometheus did not start (${(err as Error).message.split('\n')[0]})` };
  }
}

/**
 * The rollout spec's `analysis`: one measurement per wave. A new version has a rate after two scrapes of its own
 * (its CVM back in service discovery, then 1 s apart); until then measurements are errors, retried every 0.5 s for
 * up to 10 s on a busy machine before the rollout would pause (and the tour abort it).
 */
export function errorRateAnalysis(address: string) {
  return {
    metrics: [
      {
        name: 'error-rate',
        provider: { prometheus: { address, query: ERROR_RATE_QUERY } },
        successCondition: ERROR_RATE_CONDITION,
        count: 1,
        interval: '500ms',
        initialDelay: '500ms',
        consecutiveErrorLimit: 20,
        timeout: '2s',
      },
    ],
    onFailure: 'abort',
  };
}

/**
 * Makes the synthetic traffic of the CVMs named `name` (a glob) fail at `errorRate` through the simulator's admin
 * API (`POST /admin/apps/rules`, see docs/simulator.md); returns what removes the rule again.
 */
export async function raiseErrorRate(ctx: DemoContext, name: string, errorRate: number): Promise<() => Promise<void>> {
  const { adminUrl, adminToken } = ctx.stack.sim;
  const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const res = await fetch(`${adminUrl}/admin/apps/rules`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ match: { name }, errorRate }),
  });
  if (res.status !== 201) throw new Error(`the simulator refused the app rule: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  return async () => {
    await fetch(`${adminUrl}/admin/apps/rules/${id}`, { method: 'DELETE', headers });
  };
}

/** What the step's summary (and --json) carries of a rollout's wave analyses: each wave's verdict and value. */
export function summariseAnalyses(analyses: readonly WaveAnalysis[]): DemoAnalysis {
  const waves = analyses.map((a) => {
    const metric = a.metrics[0];
    const last = metric?.measurements.at(-1);
    return { wave: a.wave, verdict: a.verdict, value: last?.value ?? '', query: last?.query ?? '' };
  });
  const verdict = waves.find((w) => w.verdict !== 'pass')?.verdict ?? (waves.length ? 'pass' : 'none');
  return { provider: 'prometheus', condition: ERROR_RATE_CONDITION, verdict, waves };
}

/** One line per wave analysis, for the narration. */
export function analysisLines(summary: DemoAnalysis): string[] {
  return (summary.waves ?? []).map(
    (w) => `  wave ${w.wave} error rate ${w.value || '(no value)'} — ${summary.condition}: ${w.verdict}`,
  );
}

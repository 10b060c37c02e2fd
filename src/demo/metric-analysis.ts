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

/**
 * Starts Prometheus on loopback, scraping every running CVM of the demo's simulator each second, and waits until
 * it has samples of the CVMs whose names match `glob`. Undefined, after one line saying why, when it cannot run.
 */
export async function startDemoPrometheus(ctx: DemoContext, glob: string): Promise<LocalPrometheus | undefined> {
  if (!findPrometheus()) {
    ctx.say(
      '  Prometheus is not installed (scripts/ensure-prometheus.sh installs it): waves are gated by HTTP health only.',
    );
    return undefined;
  }
  let prometheus: LocalPrometheus | undefined;
  try {
    prometheus = await startPrometheus({ sdUrl: `${ctx.stack.sim.appsUrl}/sd/prometheus` });
    await prometheus.waitForSeries(`http_requests_total{app=~"${glob.replaceAll('*', '.*')}"}`);
    return prometheus;
  } catch (err) {
    await prometheus?.stop();
    ctx.say(
      `  Prometheus did not start (${(err as Error).message.split('\n')[0]}): waves are gated by HTTP health only.`,
    );
    return undefined;
  }
}

/**
 * The rollout spec's `analysis`: one measurement per wave. A new version has a rate after two scrapes of its own
 * (its CVM back in service discovery, then 1 s apart); until then measurements are errors, retried every 0.5 s for
 * up to 10 s on a busy machine before the rollout would pause.
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
        initialDelay: '2s',
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

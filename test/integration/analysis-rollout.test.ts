// Per-wave metric analysis of rollouts against a real Prometheus (Debian's package, test/support/prometheus.ts)
// scraping the simulator's per-CVM /metrics, whose error rate the tests set through the simulator's admin API; the
// rollout runs on the real stack (Temporal dev server, worker with the real activities, simulator over HTTP).
import { readFileSync } from 'node:fs';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortRollout, getRolloutStatus, startRollout } from '../../src/client/rollout';
import { freePort } from '../../src/dev/free-port';
import { validateSpec } from '../../src/spec';
import type { RolloutSpec } from '../../src/spec/rollout';
import { parseYaml } from '../../src/spec/yaml';
import { startPrometheus, type TestPrometheus } from '../support/prometheus';
import { recordHistory } from '../support/replay';
import { startStack, type TestStack } from '../support/stack';
import { TEST_CODEC_KEYS, uniqueId } from '../support/temporal';

const V1 = 'services:\n  web:\n    image: nginx:1.27-alpine\n';
const V2 = 'services:\n  web:\n    image: nginx:1.28-alpine\n';
const TUNING = { lockPollMs: 100, healthPollMs: 50, heartbeatTimeoutMs: 5000 };
/** The share of a wave's requests that failed over the last 5 s (the simulator's traffic, as Prometheus saw it). */
const ERROR_RATE_QUERY =
  'sum(rate(http_requests_total{cvm=~"{cvm}",code="500"}[5s])) / sum(rate(http_requests_total{cvm=~"{cvm}"}[5s]))';

let stack: TestStack;
let prometheus: TestPrometheus;

beforeAll(async () => {
  stack = await startStack({ sim: { timeScale: 0.005, delays: { delete: 10 } } });
  await stack.startWorker();
  prometheus = await startPrometheus({ sdUrl: `${stack.sim.appsUrl}/sd/prometheus` });
});
afterAll(async () => {
  await prometheus?.stop();
  await stack?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fleet = (prefix: string) => stack.sim.cvms().filter((c) => c.name.startsWith(`${prefix}-`));

async function createFleet(prefix: string, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const name = `${prefix}-${String(i).padStart(2, '0')}`;
      const p = await stack.phala.provisionCvm({ name, compose_file: { docker_compose_file: V1 }, node_id: 1 });
      await stack.phala.commitCvmProvision({ app_id: p.app_id!, compose_hash: p.compose_hash });
    }),
  );
  const giveUp = Date.now() + 20_000;
  while (!fleet(prefix).every((c) => c.status === 'running' && c.operation === null)) {
    if (Date.now() > giveUp) throw new Error('fleet not running');
    await sleep(50);
  }
  // Prometheus has found and scraped them: the analysis measures real samples, not an empty answer.
  await prometheus.waitForSeries(`http_requests_total{app=~"${prefix}-.*"}`);
}

/** Every CVM whose name matches the glob answers errorRate of its (synthetic) requests with a 500. */
async function setErrorRate(glob: string, errorRate: number): Promise<void> {
  const res = await fetch(`${stack.sim.adminUrl}/admin/apps/rules`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.sim.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ match: { name: glob }, errorRate }),
  });
  expect(res.status).toBe(201);
}

function errorRateMetric(extra: Record<string, unknown> = {}, address = prometheus.url) {
  return {
    name: 'error-rate',
    provider: { prometheus: { address, query: ERROR_RATE_QUERY } },
    successCondition: 'result[0] < 0.05',
    count: 2,
    interval: '1s',
    initialDelay: '3s',
    timeout: '2s',
    ...extra,
  };
}

function spec(prefix: string, analysis: Record<string, unknown>, extra: Record<string, unknown> = {}): RolloutSpec {
  return validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'Rollout',
      name: uniqueId('pa'),
      targets: { selector: { name: `${prefix}-*` } },
      version: { compose: { inline: V2 } },
      strategy: { waveSize: 1, maxParallel: 1 },
      health: { minHealthy: '200ms' },
      analysis,
      ...extra,
    },
    { source: 'test', baseDir: '.', kinds: ['Rollout'] },
  );
}

const start = (s: RolloutSpec) =>
  startRollout(s, { client: stack.client, taskQueue: stack.taskQueue, codecKeys: TEST_CODEC_KEYS, tuning: TUNING });

describe('rollout analysis with Prometheus', () => {
  it('a good wave passes: every wave measured, every measurement in the status', async () => {
    const prefix = uniqueId('good');
    await createFleet(prefix, 2);
    const handle = await start(spec(prefix, { metrics: [errorRateMetric()] }));
    const result = await handle.result();
    expect(result.outcome).toBe('succeeded');
    const status = await getRolloutStatus(stack.client, handle.workflowId);
    expect(status.analyses?.map((a) => [a.wave, a.verdict])).toEqual([
      [0, 'pass'],
      [1, 'pass'],
    ]);
    const byWave = new Map(status.analyses!.map((a) => [a.wave, a]));
    for (const [wave, a] of byWave) {
      const cvm = status.cvms.find((c) => c.wave === wave)!;
      const [m] = a.metrics;
      expect(m).toMatchObject({ name: 'error-rate', provider: 'prometheus', counts: { passes: 2, failures: 0 } });
      // The query as sent names the wave's CVM, and the value is what Prometheus computed: no errors.
      expect(m!.measurements[0]!.query).toContain(`cvm=~"${cvm.cvmId}"`);
      expect(m!.measurements.filter((x) => x.verdict === 'pass').map((x) => x.value)).toEqual(['[0]', '[0]']);
    }
    expect(fleet(prefix).every((c) => c.composeHash !== undefined && c.status === 'running')).toBe(true);
  });

  it('a bad wave fails the rollout, naming the metric, value and condition, and is reverted', async () => {
    const prefix = uniqueId('bad');
    await createFleet(prefix, 2);
    const original = new Map(fleet(prefix).map((c) => [c.vmUuid, c.composeHash]));
    await setErrorRate(`${prefix}-*`, 0.5);
    const handle = await start(spec(prefix, { metrics: [errorRateMetric()], onFailure: 'abort' }));
    const err = await handle.result().catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const message = (err as WorkflowFailedError).cause?.message ?? '';
    expect(message).toMatch(
      /wave 0 analysis fail: metric error-rate: value \[0\.\d+\]: successCondition "result\[0\] < 0\.05" is false/,
    );
    expect(message).toMatch(/revert of 1 CVMs: 1 reverted/);
    // Wave 1 never started; wave 0's CVM is back on its previous compose.
    for (const c of fleet(prefix)) expect(c.composeHash, c.name).toBe(original.get(c.vmUuid));
    const status = await getRolloutStatus(stack.client, handle.workflowId);
    expect(status.analyses).toHaveLength(1);
    const value = Number(status.analyses![0]!.metrics[0]!.measurements[0]!.value.slice(1, -1));
    expect(value).toBeGreaterThan(0.3);
    expect(value).toBeLessThan(0.7);
    await recordHistory(handle, 'rollout-analysis-failed');
  });

  it('a dry-run metric is measured and recorded but never decides', async () => {
    const prefix = uniqueId('dry');
    await createFleet(prefix, 1);
    await setErrorRate(`${prefix}-*`, 0.5);
    const handle = await start(
      spec(prefix, {
        metrics: [
          errorRateMetric({ dryRun: true }),
          { name: 'smoke', provider: { job: { command: ['sh', '-c', 'test -n "$ANALYSIS_CVM"'] } }, count: 1 },
        ],
      }),
    );
    expect((await handle.result()).outcome).toBe('succeeded');
    const [a] = (await getRolloutStatus(stack.client, handle.workflowId)).analyses!;
    expect(a!.verdict).toBe('pass');
    expect(a!.metrics.map((m) => [m.name, m.dryRun, m.verdict])).toEqual([
      ['error-rate', true, 'fail'],
      ['smoke', false, 'pass'],
    ]);
    expect(a!.reason).toContain('dry-run: error-rate fail');
  });

  it('an unreachable Prometheus counts as errors, not failures: the rollout pauses for a person', async () => {
    const prefix = uniqueId('down');
    await createFleet(prefix, 1);
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const handle = await start(
      spec(prefix, {
        metrics: [errorRateMetric({ initialDelay: '0s', interval: '200ms', consecutiveErrorLimit: 2 }, nowhere)],
        onFailure: 'abort',
      }),
    );
    const giveUp = Date.now() + 30_000;
    let status = await getRolloutStatus(stack.client, handle.workflowId);
    while (status.phase !== 'paused') {
      if (Date.now() > giveUp) throw new Error(`rollout not paused: ${status.phase}`);
      await sleep(100);
      status = await getRolloutStatus(stack.client, handle.workflowId);
    }
    const [m] = status.analyses![0]!.metrics;
    expect(m).toMatchObject({ verdict: 'error', counts: { failures: 0, errors: 3, taken: 0 } });
    expect(m!.reason).toMatch(
      /3 errors in a row \(consecutiveErrorLimit 2\); last: Prometheus at http:\/\/127\.0\.0\.1:\d+ did not answer/,
    );
    expect(status.paused?.note).toMatch(/wave 0 analysis error/);
    expect(status.failures.count).toBe(0);
    await abortRollout(stack.client, handle.workflowId, 'monitoring is down; try again later', true);
    expect(await handle.result()).toMatchObject({ outcome: 'aborted' });
    expect(fleet(prefix)[0]!.status).toBe('running');
  });

  it('the SLO burn-rate template of docs/analysis.md rolls a wave back when it burns the budget, and passes a good one', async () => {
    const doc = readFileSync(new URL('../../docs/analysis.md', import.meta.url), 'utf8');
    const block = /<!-- slo-burn-rate[^>]*-->\s*```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    const parsed = parseYaml(block!);
    if (!parsed.ok) throw new Error(parsed.problem);
    const template = (parsed.value as { analysis: { onFailure: string; metrics: Record<string, unknown>[] } }).analysis;
    // The template as written, on this test's Prometheus and clock (seconds instead of minutes).
    const analysis = {
      ...template,
      metrics: template.metrics.map((m) => {
        const p = (m.provider as { prometheus: Record<string, unknown> }).prometheus;
        return {
          ...m,
          provider: { prometheus: { ...p, address: prometheus.url } },
          initialDelay: '2s',
          interval: '500ms',
          count: 2,
        };
      }),
    };

    const good = uniqueId('slo');
    await createFleet(good, 1);
    const passed = await start(spec(good, analysis));
    expect((await passed.result()).outcome).toBe('succeeded');
    const [ok] = (await getRolloutStatus(stack.client, passed.workflowId)).analyses!;
    expect(ok!.metrics.map((m) => [m.name, m.verdict, m.measurements.at(-1)?.value])).toEqual([
      ['burn-rate-fast', 'pass', '[]'],
      ['burn-rate-slow', 'pass', '[]'],
    ]);

    const bad = uniqueId('slo');
    await createFleet(bad, 1);
    const original = fleet(bad)[0]!.composeHash;
    await setErrorRate(`${bad}-*`, 0.2);
    const failed = await start(spec(bad, analysis));
    const err = await failed.result().catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause?.message).toMatch(
      /wave 0 analysis fail: metric burn-rate-(fast|slow): value \[0\.\d+\]: failureCondition "len\(result\) > 0" is true/,
    );
    expect(fleet(bad)[0]!.composeHash).toBe(original);
  });
});

// A rollout's background analysis (issue 23) against a real Prometheus scraping the simulator's per-CVM /metrics,
// on the real stack (Temporal dev server, worker with the real activities, simulator over HTTP): measured from the
// first wave on until the rollout ends; a metric that goes bad mid-rollout fails the rollout and the CVMs it updated
// go back; a good one finishes with every measurement in `rollout status --json`.
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { abortRollout, getRolloutStatus, promoteRollout, startRollout } from '../../src/client/rollout';
import { freePort } from '../../src/dev/free-port';
import { validateSpec } from '../../src/spec';
import type { RolloutSpec } from '../../src/spec/rollout';
import type { RolloutStatus } from '../../src/workflows/rollout-types';
import { startPrometheus, type TestPrometheus } from '../support/prometheus';
import { recordHistory } from '../support/replay';
import { startStack, type TestStack } from '../support/stack';
import { TEST_CODEC_KEY_TEXT, TEST_CODEC_KEYS, temporalTarget, uniqueId } from '../support/temporal';

const V1 = 'services:\n  web:\n    image: nginx:1.27-alpine\n';
const V2 = 'services:\n  web:\n    image: nginx:1.28-alpine\n';
const TUNING = { lockPollMs: 100, healthPollMs: 50, heartbeatTimeoutMs: 5000 };
/** The share of all the rollout's target CVMs' requests that failed over the last 5 s. */
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
const fleet = (prefix: string) =>
  stack.sim
    .cvms()
    .filter((c) => c.name.startsWith(`${prefix}-`))
    .sort((a, b) => a.name.localeCompare(b.name));

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
  await prometheus.waitForSeries(`http_requests_total{app=~"${prefix}-.*"}`);
}

async function setErrorRate(glob: string, errorRate: number): Promise<void> {
  const res = await fetch(`${stack.sim.adminUrl}/admin/apps/rules`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.sim.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ match: { name: glob }, errorRate }),
  });
  expect(res.status).toBe(201);
}

function errorRateMetric(extra: Record<string, unknown> = {}) {
  return {
    name: 'error-rate',
    provider: { prometheus: { address: prometheus.url, query: ERROR_RATE_QUERY } },
    successCondition: 'result[0] < 0.05',
    interval: '1s',
    timeout: '2s',
    ...extra,
  };
}

function spec(
  prefix: string,
  analysis: Record<string, unknown>,
  strategy: Record<string, unknown>,
  health: Record<string, unknown> = { minHealthy: '200ms' },
): RolloutSpec {
  return validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'Rollout',
      name: uniqueId('bga'),
      targets: { selector: { name: `${prefix}-*` } },
      version: { compose: { inline: V2 } },
      strategy: { waveSize: 1, maxParallel: 1, ...strategy },
      health,
      analysis,
    },
    { source: 'test', baseDir: '.', kinds: ['Rollout'] },
  );
}

const start = (s: RolloutSpec, tuning: Record<string, number> = {}) =>
  startRollout(s, {
    client: stack.client,
    taskQueue: stack.taskQueue,
    codecKeys: TEST_CODEC_KEYS,
    tuning: { ...TUNING, ...tuning },
  });

async function waitFor(id: string, what: string, ok: (s: RolloutStatus) => boolean): Promise<RolloutStatus> {
  const giveUp = Date.now() + 60_000;
  for (;;) {
    const s = await getRolloutStatus(stack.client, id);
    if (ok(s)) return s;
    if (Date.now() > giveUp) throw new Error(`${what}: still ${s.phase}`);
    await sleep(100);
  }
}

/** `cvmflow <args>` in this process against the test's Temporal; its exit code and what it printed. */
async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const env = {
    TEMPORAL_ADDRESS: temporalTarget().address,
    TEMPORAL_NAMESPACE: temporalTarget().namespace,
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
    CVMFLOW_CODEC_KEY: TEST_CODEC_KEY_TEXT,
  };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  let out = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: await main(['node', 'cvmflow', ...args]), out };
  } finally {
    stdout.mockRestore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('background analysis across a rollout', () => {
  it('a metric that goes bad after wave 1 fails the rollout at once, naming metric, value and condition; the updated CVMs are reverted', async () => {
    const prefix = uniqueId('bgbad');
    await createFleet(prefix, 3);
    const original = new Map(fleet(prefix).map((c) => [c.vmUuid, c.composeHash]));
    // A manual pause between waves: the test decides when the next wave starts.
    const s = spec(prefix, { background: { metrics: [errorRateMetric({ failureLimit: 1 })] } }, { pause: 'manual' });
    const handle = await start(s);
    const id = handle.workflowId;
    await waitFor(id, 'wave 0 done', (st) => st.phase === 'awaiting-promotion');
    await promoteRollout(stack.client, id);
    // Waves can finish between two measurements (1 s apart): wait for the first one, taken while the rollout waits.
    const afterWave1 = await waitFor(
      id,
      'wave 1 done and a measurement',
      (st) =>
        st.phase === 'awaiting-promotion' &&
        st.waves.next === 2 &&
        (st.background?.metrics[0]?.counts.passes ?? 0) >= 1,
    );
    // Measured from the first wave on, and good so far.
    const before = afterWave1.background!;
    expect(before.verdict).toBe('measuring');
    expect(before.metrics[0]!.counts.passes).toBeGreaterThanOrEqual(1);
    expect(before.metrics[0]!.counts.failures).toBe(0);

    await setErrorRate(`${prefix}-*`, 0.5);
    const err = await handle.result().catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const message = (err as WorkflowFailedError).cause?.message ?? '';
    expect(message).toMatch(
      /background analysis fail: metric error-rate: value \[0\.\d+\]: successCondition "result\[0\] < 0\.05" is false \(2 failed, .*failureLimit 1\)/,
    );
    expect(message).toMatch(/revert of 2 CVMs: 2 reverted/);
    // Wave 2 never started; waves 0 and 1 are back on their previous compose.
    for (const c of fleet(prefix)) expect(c.composeHash, c.name).toBe(original.get(c.vmUuid));
    const status = await getRolloutStatus(stack.client, id);
    expect(status.waves.log.filter((w) => w.mode === 'update').map((w) => w.index)).toEqual([0, 1]);
    expect(status.background).toMatchObject({ verdict: 'fail' });
    const [m] = status.background!.metrics;
    expect(m).toMatchObject({ name: 'error-rate', verdict: 'fail', counts: { failures: 2 } });
    const failedValues = m!.measurements.filter((x) => x.verdict === 'fail').map((x) => Number(x.value.slice(1, -1)));
    expect(failedValues).toHaveLength(2);
    for (const v of failedValues) expect(v).toBeGreaterThan(0.05);
    // {cvm}: every target CVM, whichever wave it is in.
    expect(m!.measurements[0]!.query).toContain(`cvm=~"${status.cvms.map((c) => c.cvmId).join('|')}"`);
    await recordHistory(handle, 'rollout-background-failed');
  });

  it('a failure during a wave stops it: no further CVM of the wave starts, and the one updated goes back', async () => {
    const prefix = uniqueId('bgmid');
    await createFleet(prefix, 3);
    const original = new Map(fleet(prefix).map((c) => [c.vmUuid, c.composeHash]));
    await setErrorRate(`${prefix}-*`, 0.5);
    // One wave of three CVMs, one at a time, each held 6 s healthy: the metric fails while the first is held.
    const s = spec(prefix, { background: { metrics: [errorRateMetric()] } }, { waveSize: 3 }, { minHealthy: '6s' });
    const handle = await start(s);
    const err = await handle.result().catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause?.message).toMatch(
      /failed: background analysis fail: metric error-rate: value \[0\.\d+\]: successCondition/,
    );
    const status = await getRolloutStatus(stack.client, handle.workflowId);
    expect(status.waves.log.filter((w) => w.mode === 'update')).toMatchObject([{ index: 0, outcome: 'stopped' }]);
    // The wave never started its other CVMs; the first is back on its previous compose.
    const touched = (id: string) =>
      stack.sim.requests({ method: 'PATCH' }).filter((r) => r.path.includes(id.replaceAll('-', ''))).length;
    const untouched = status.cvms.filter((c) => c.state === 'pending' || c.state === 'skipped');
    expect(untouched.length).toBe(2);
    for (const c of untouched) expect(touched(c.cvmId), c.name).toBe(0);
    const [updated] = status.cvms.filter((c) => !untouched.includes(c));
    expect(updated!.state).toBe('reverted');
    expect(touched(updated!.cvmId)).toBeGreaterThanOrEqual(2); // its update, and its revert
    for (const c of fleet(prefix)) expect(c.composeHash, c.name).toBe(original.get(c.vmUuid));
  });

  it('an unreachable Prometheus counts as errors, not failures: the rollout pauses for a person, and abort ends it', async () => {
    const prefix = uniqueId('bgdown');
    await createFleet(prefix, 2);
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const metric = {
      ...errorRateMetric({ interval: '200ms', consecutiveErrorLimit: 1 }),
      provider: { prometheus: { address: nowhere, query: ERROR_RATE_QUERY } },
    };
    const handle = await start(spec(prefix, { background: { metrics: [metric] } }, { pause: 'manual' }));
    const paused = await waitFor(handle.workflowId, 'paused by the analysis', (st) => st.paused !== undefined);
    expect(paused.paused).toMatchObject({ by: 'cvmflow' });
    expect(paused.paused!.reason).toMatch(
      /^background analysis error: metric error-rate: 2 errors in a row \(consecutiveErrorLimit 1\); last: Prometheus at http:\/\/127\.0\.0\.1:\d+ did not answer/,
    );
    expect(paused.failures.count).toBe(0);
    // Still measuring (counting afresh), and never a failure.
    expect(paused.background!.metrics[0]).toMatchObject({ counts: { failures: 0 } });
    await abortRollout(stack.client, handle.workflowId, 'monitoring is down; try again later', true);
    expect(await handle.result()).toMatchObject({ outcome: 'aborted' });
    // It ended having only erred since the pause: its verdict says so, never a pass.
    const status = await getRolloutStatus(stack.client, handle.workflowId);
    expect(status.background).toMatchObject({ verdict: 'error', metrics: [{ verdict: 'error' }] });
    expect(status.background!.reason).toMatch(/errors in a row|did not answer/);
  });

  it('a good metric measures until the rollout ends, across continue-as-new, and every measurement is in rollout status --json', async () => {
    const prefix = uniqueId('bggood');
    await createFleet(prefix, 2);
    const s = spec(
      prefix,
      {
        background: {
          metrics: [
            // Prometheus needs a few scrapes of the new CVMs before the rate has a value.
            errorRateMetric({ interval: '500ms', initialDelay: '3s' }),
            // A dry-run metric that can never pass: measured and shown, never deciding.
            errorRateMetric({ name: 'strict', successCondition: 'result[0] < 0', dryRun: true }),
          ],
        },
      },
      { pause: '4s' },
    );
    // A fresh run after every wave (continue-as-new): the analysis' state moves on with the rollout's.
    const handle = await start(s, { maxWavesPerRun: 1 });
    expect((await handle.result()).outcome).toBe('succeeded');
    const shown = await cli('rollout', 'status', handle.workflowId, '--json');
    expect(shown.code).toBe(0);
    const status = JSON.parse(shown.out) as RolloutStatus;
    expect(status.run).toBe(2);
    expect(status.background).toMatchObject({ verdict: 'pass' });
    expect(status.background!.endedAtMs).toBeGreaterThanOrEqual(status.background!.startedAtMs);
    const [rate, strict] = status.background!.metrics;
    expect(rate).toMatchObject({ name: 'error-rate', verdict: 'pass', dryRun: false, counts: { failures: 0 } });
    // Measured all along: from its initial delay after the first wave's start, on in the run continued after it,
    // until the end; every value what Prometheus computed.
    const [first, second] = status.waves.log;
    expect(rate!.counts.taken).toBeGreaterThanOrEqual(3);
    expect(rate!.measurements[0]!.atMs).toBeGreaterThanOrEqual(first!.startedAtMs + 3000);
    expect(rate!.measurements.at(-1)!.atMs).toBeGreaterThan(first!.endedAtMs!);
    expect(rate!.measurements.at(-1)!.atMs).toBeLessThanOrEqual(second!.endedAtMs! + 1000);
    expect(rate!.measurements.every((x) => x.verdict === 'pass' && x.value === '[0]')).toBe(true);
    expect(rate!.measurements[0]!.query).toContain(`cvm=~"${status.cvms.map((c) => c.cvmId).join('|')}"`);
    // failureLimit 0: its first failure is its verdict, and it is measured no more.
    expect(strict).toMatchObject({ name: 'strict', dryRun: true, verdict: 'fail', counts: { taken: 1, failures: 1 } });
    expect(status.records.map((r) => r.text)).toContainEqual(
      expect.stringMatching(/^background analysis pass: 1 metric\(s\) measured until the rollout ended; none failed/),
    );
    const text = await cli('rollout', 'status', handle.workflowId);
    expect(text.out).toMatch(/analysis in the background: pass/);
    expect(text.out).toMatch(/error-rate \(prometheus\): pass; \d+ pass, 0 fail/);
  });
});

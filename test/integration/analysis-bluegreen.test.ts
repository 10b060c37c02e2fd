// Blue-green pre/post-promotion analysis by metrics against a real Prometheus (Debian's package) scraping the
// simulator's per-CVM /metrics: green passes its pre-promotion analysis, is promoted, then its error rate rises
// (set through the simulator's admin API) and the post-promotion analysis sends traffic back to blue.
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderStatus } from '../../src/cli/commands/bluegreen';
import { awaitBlueGreen, getBlueGreenStatus } from '../../src/client/bluegreen';
import type { BlueGreenResult } from '../../src/workflows/bluegreen-types';
import { startPrometheus, type TestPrometheus } from '../support/prometheus';
import { startStack, type TestStack } from '../support/stack';
import {
  bgSpec,
  compose,
  deployBlue,
  hit,
  launch,
  liveCvms,
  newApp,
  startProxy,
  waitFor,
  waitForPhase,
} from './bluegreen-support';

let stack: TestStack;
let prometheus: TestPrometheus;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  stack = await startStack();
  await stack.startWorker();
  prometheus = await startPrometheus({ sdUrl: `${stack.sim.appsUrl}/sd/prometheus` });
});
afterAll(async () => {
  for (const close of closers) await close();
  await prometheus?.stop();
  await stack?.close();
});

const metric = (name: string) => ({
  name,
  provider: {
    prometheus: {
      address: prometheus.url,
      query:
        'sum(rate(http_requests_total{cvm=~"{cvm}",code="500"}[5s])) / sum(rate(http_requests_total{cvm=~"{cvm}"}[5s]))',
    },
  },
  successCondition: 'result[0] < 0.05',
  count: 2,
  interval: '1s',
  initialDelay: '3s',
  timeout: '2s',
});

describe('blue-green analysis with Prometheus', () => {
  it('pre-promotion metrics pass; a post-promotion error rate rolls back to blue, naming metric, value, condition', async () => {
    const app = newApp();
    const proxy = await startProxy(app);
    closers.push(() => proxy.close());
    const blue = await deployBlue(stack, app, proxy);
    const spec = bgSpec(app, proxy, {
      compose: { inline: compose('1.28') },
      autoPromote: true,
      scaleDownDelay: '1m',
      analysis: {
        prePromotion: { metrics: [metric('error-rate')] },
        postPromotion: { metrics: [metric('error-rate')] },
      },
    });
    const started = await launch(stack, spec);
    const during = await waitForPhase(stack, app, 'post-analysis', 60_000);
    // Green has taken the traffic: now it starts failing half its requests.
    const res = await fetch(`${stack.sim.adminUrl}/admin/apps/rules`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.sim.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ match: { name: during.green!.name }, errorRate: 0.5 }),
    });
    expect(res.status).toBe(201);

    const err = await awaitBlueGreen(stack.client, app, started.runId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const result = ((err as WorkflowFailedError).cause as { details?: unknown[] }).details?.[0] as BlueGreenResult;
    expect(result.outcome).toBe('rolled-back');
    expect(result.summary).toMatch(
      /post-promotion analysis failed: metric error-rate: value \[0\.\d+\]: successCondition "result\[0\] < 0\.05" is false/,
    );
    expect((await hit(proxy.urls(app).active)).app).toBe(blue.name);

    const { status } = await getBlueGreenStatus(stack.client, app);
    expect(status.analyses?.map((a) => [a.step, a.verdict])).toEqual([
      ['pre-promotion', 'pass'],
      ['post-promotion', 'fail'],
    ]);
    const pre = status.analyses![0]!.metrics[0]!;
    expect(pre.measurements.filter((m) => m.verdict === 'pass').map((m) => m.value)).toEqual(['[0]', '[0]']);
    // Before Prometheus has two samples of green there is no series: an error (retried), never a failure.
    for (const m of pre.measurements.filter((x) => x.verdict !== 'pass'))
      expect(m).toMatchObject({ verdict: 'error', value: '[]', detail: expect.stringContaining('cannot judge') });
    expect(pre.counts.failures).toBe(0);
    expect(pre.measurements[0]!.query).toContain(`cvm=~"${during.green!.cvmIds![0]}"`);
    // What `cvmflow bluegreen status` prints: each analysis, each metric, its measurements.
    const text = renderStatus(status).join('\n');
    expect(text).toContain('analysis pre-promotion: pass');
    expect(text).toMatch(/analysis post-promotion: fail — metric error-rate: value \[0\.\d+\]/);
    expect(text).toMatch(/error-rate \(prometheus\): fail; 0 pass, 1 fail/);
    await waitFor('green deleted', async () =>
      liveCvms(stack, app).some((c) => c.name === result.green) ? undefined : true,
    );
  });
});

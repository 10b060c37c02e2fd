// What goes wrong in a blue-green deployment, on the real stack: a green that never gets healthy (no traffic ever
// reaches it), a post-promotion analysis that fails (traffic back to blue on its own), a human rollback while blue
// is warm (immediate), and control requests that do not fit the phase (rejected with the reason).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  abortBlueGreen,
  awaitBlueGreen,
  BlueGreenRejectedError,
  pauseBlueGreen,
  promoteBlueGreen,
  resumeBlueGreen,
  rollbackBlueGreen,
} from '../../src/client/bluegreen';
import type { BlueGreenResult } from '../../src/workflows/bluegreen-types';
import { recordHistory } from '../support/replay';
import { startStack, type TestStack } from '../support/stack';
import {
  ACTOR,
  bgSpec,
  compose,
  deployBlue,
  hit,
  launch,
  liveCvms,
  newApp,
  setAppHealth,
  startProxy,
  waitFor,
  waitForPhase,
} from './bluegreen-support';

/** A web check for analysis: answers what `verdicts[phase]` says. */
async function startAnalysisServer(verdicts: Record<string, string>) {
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    const phase = new URL(req.url ?? '/', 'http://x').searchParams.get('phase') ?? '';
    calls.push(phase);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ result: verdicts[phase] ?? 'pass', message: `${phase} check` }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/check?phase={phase}&app={app}`,
    calls,
    close: () => new Promise((r) => server.close(r)),
  };
}

async function failedResult(p: Promise<BlueGreenResult>): Promise<BlueGreenResult> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as { details?: unknown[] } | undefined;
  return cause?.details?.[0] as BlueGreenResult;
}

describe('blue-green failures and control', () => {
  let stack: TestStack;
  const closers: (() => Promise<unknown>)[] = [];
  const proxyFor = async (app: string) => {
    const p = await startProxy(app);
    closers.push(() => p.close());
    return p;
  };

  beforeAll(async () => {
    stack = await startStack();
    await stack.startWorker();
  });
  afterAll(async () => {
    for (const c of closers) await c();
    await stack?.close();
  });

  it('green never healthy: no traffic ever reaches green, green is deleted, blue is untouched and serving', async () => {
    const app = newApp();
    const proxy = await proxyFor(app);
    const blue = await deployBlue(stack, app, proxy);
    const blueCvms = liveCvms(stack, app).map((c) => `${c.vmUuid} ${c.status}`);
    // Every deployment of the app answers 503 on /health but blue (later rules win): green, whose name is not known
    // before it exists (`<app>-<id>`), is never healthy.
    await setAppHealth(stack, { name: `${app}-*`, health: 503 });
    await setAppHealth(stack, { name: blue.name, health: 200 });

    const before = proxy.applied(app).length;
    const started = await launch(stack, bgSpec(app, proxy, { compose: { inline: compose('1.28') } }));
    const result = await failedResult(awaitBlueGreen(stack.client, app, started.runId));
    expect(result.outcome).toBe('failed');
    expect(result.summary).toMatch(/failed 3 health checks in a row.*503/);
    expect(result.active?.name).toBe(blue.name);
    await recordHistory(stack.client.workflow.getHandle(`bluegreen-${app}`, started.runId), 'bluegreen-failed-health');

    // The router never saw green, and the proxy never sent green a request.
    const tables = proxy.applied(app).slice(before);
    expect(tables.length).toBeGreaterThan(0);
    for (const t of tables) {
      expect(t.active?.name).toBe(blue.name);
      expect(t.preview).toBeNull();
    }
    const stats = proxy.statsOf(app);
    expect(Object.keys({ ...stats.served.active, ...stats.served.preview })).not.toContain(result.green);
    await waitFor('green deleted', async () =>
      liveCvms(stack, app).some((c) => c.name === result.green) ? undefined : true,
    );
    expect(liveCvms(stack, app).map((c) => `${c.vmUuid} ${c.status}`)).toEqual(blueCvms);
    expect((await hit(proxy.urls(app).active)).app).toBe(blue.name);
  });

  it('post-promotion analysis fails: traffic goes back to blue by itself, green is removed', async () => {
    const app = newApp();
    const proxy = await proxyFor(app);
    const analysis = await startAnalysisServer({ pre: 'pass', post: 'fail' });
    closers.push(analysis.close);
    const blue = await deployBlue(stack, app, proxy);
    const spec = bgSpec(app, proxy, {
      compose: { inline: compose('1.28') },
      autoPromote: true,
      scaleDownDelay: '1m',
      analysis: {
        prePromotion: { url: analysis.url, interval: '100ms', count: 2 },
        postPromotion: { url: analysis.url, interval: '100ms', count: 3, failureLimit: 1 },
      },
    });
    const started = await launch(stack, spec);
    const result = await failedResult(awaitBlueGreen(stack.client, app, started.runId));
    expect(result.outcome).toBe('rolled-back');
    expect(result.summary).toContain('post-promotion analysis fail');
    expect(analysis.calls.filter((p) => p === 'pre')).toHaveLength(2);
    // failureLimit 1: the second failed measurement decides.
    expect(analysis.calls.filter((p) => p === 'post')).toHaveLength(2);
    const actives = proxy.applied(app).map((t) => t.active?.name);
    expect(actives.slice(-2)).toEqual([result.green, blue.name]);
    expect((await hit(proxy.urls(app).active)).app).toBe(blue.name);
    await waitFor('green deleted', async () =>
      liveCvms(stack, app).some((c) => c.name === result.green) ? undefined : true,
    );
    await recordHistory(
      stack.client.workflow.getHandle(`bluegreen-${app}`, started.runId),
      'bluegreen-analysis-rolled-back',
    );
  });

  it('rollback while blue is warm is immediate: no gates, blue never restarted', async () => {
    const app = newApp();
    const proxy = await proxyFor(app);
    const blue = await deployBlue(stack, app, proxy);
    const started = await launch(
      stack,
      bgSpec(app, proxy, { compose: { inline: compose('1.28') }, autoPromote: true, scaleDownDelay: '5m' }),
    );
    const warm = await waitForPhase(stack, app, 'warm');
    expect(warm.rollbackUntilMs).toBeGreaterThan(Date.now());
    expect((await hit(proxy.urls(app).active)).app).toBe(warm.green!.name);
    const since = stack.sim.requests().at(-1)?.seq ?? 0;

    const asked = Date.now();
    const report = await rollbackBlueGreen(stack.client, app, { by: 'bob', reason: 'error rate up' });
    const tookMs = Date.now() - asked;
    expect((await hit(proxy.urls(app).active)).app).toBe(blue.name);
    expect(report.outcome).toBe('rolled-back');
    expect(report.actions[0]).toBe(`traffic back to blue ${blue.name}`);
    expect(report.trafficBackMs).toBeLessThan(1000);
    expect(tookMs).toBeLessThan(3000);
    // Blue was running all along: nothing started, restarted or updated it.
    const touchedBlue = stack.sim
      .requests({ sinceSeq: since, method: 'POST' })
      .filter((r) => blue.cvmIds.some((id) => r.path.includes(id)));
    expect(touchedBlue).toEqual([]);

    const result = await awaitBlueGreen(stack.client, app, started.runId);
    expect(result.outcome).toBe('rolled-back');
    expect(result.history.find((h) => h.kind === 'rollback')).toMatchObject({ by: 'bob', reason: 'error rate up' });
    await recordHistory(stack.client.workflow.getHandle(`bluegreen-${app}`, started.runId), 'bluegreen-rolled-back');
  });

  it('rejects promote before green is healthy with the reason, and control without a reason; pause holds automatic promotion', async () => {
    const app = newApp();
    const proxy = await proxyFor(app);
    await deployBlue(stack, app, proxy);
    const spec = bgSpec(app, proxy, { compose: { inline: compose('1.28') }, minHealthy: '2s', autoPromote: true });
    const started = await launch(stack, spec);
    await waitForPhase(stack, app, 'health-gate');
    const early = await promoteBlueGreen(stack.client, app, ACTOR).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(BlueGreenRejectedError);
    expect((early as Error).message).toMatch(/is not healthy yet: it must pass \/health for 2s in a row/);
    await expect(rollbackBlueGreen(stack.client, app, ACTOR)).rejects.toThrow(/nothing to roll back/);
    await expect(abortBlueGreen(stack.client, app, { by: 'x', reason: ' ' })).rejects.toThrow(/reason is required/);

    await pauseBlueGreen(stack.client, app, { by: 'carol', reason: 'hold for QA' });
    const preview = await waitForPhase(stack, app, 'preview');
    expect(preview.promotion.paused).toMatchObject({ by: 'carol', reason: 'hold for QA' });
    await new Promise((r) => setTimeout(r, 500));
    expect((await waitForPhase(stack, app, 'preview')).promotion.promotedAtMs).toBeUndefined();
    await resumeBlueGreen(stack.client, app, { by: 'carol', reason: 'QA done' });
    const result = await awaitBlueGreen(stack.client, app, started.runId);
    expect(result.outcome).toBe('promoted');
    const kinds = result.history.filter((h) => h.by === 'carol').map((h) => h.kind);
    expect(kinds).toEqual(['pause', 'resume']);
    await recordHistory(stack.client.workflow.getHandle(`bluegreen-${app}`, started.runId), 'bluegreen-paused-resumed');
  });
});

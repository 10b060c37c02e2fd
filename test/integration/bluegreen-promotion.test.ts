// Blue-green promotion on the real stack (simulator with app endpoints, in-process worker, local proxy): by hand
// with traffic flowing through the proxy the whole time, automatically after autoPromoteAfter, and an unpromoted
// preview expiring at previewTtl.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  awaitBlueGreen,
  BlueGreenRejectedError,
  getBlueGreenStatus,
  promoteBlueGreen,
} from '../../src/client/bluegreen';
import type { LocalProxy } from '../../src/router/local-proxy';
import { signatureProblem } from '../../src/router/signing';
import type { RouteTable } from '../../src/router/types';
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
  ROUTER_SECRET,
  startProxy,
  waitFor,
  waitForPhase,
} from './bluegreen-support';

describe('blue-green promotion', () => {
  let stack: TestStack;
  const proxies: LocalProxy[] = [];
  const proxyFor = async (app: string) => {
    const p = await startProxy(app);
    proxies.push(p);
    return p;
  };

  beforeAll(async () => {
    stack = await startStack();
    await stack.startWorker();
  });
  afterAll(async () => {
    for (const p of proxies) await p.close();
    await stack?.close();
  });

  it('promotes by hand: blue serves, the preview shows green, promote switches with no failed request, blue is retired', async () => {
    const app = newApp();
    const proxy = await proxyFor(app);
    const blue = await deployBlue(stack, app, proxy);
    const urls = proxy.urls(app);
    expect((await hit(urls.active)).app).toBe(blue.name);

    const spec = bgSpec(app, proxy, { compose: { inline: compose('1.28') }, scaleDownDelay: '1s' });
    const started = await launch(stack, spec, 'ship 1.28');
    expect(started.status).toBe('started');
    const preview = await waitForPhase(stack, app, 'preview');
    const green = preview.green!.name;
    expect(green).not.toBe(blue.name);
    // Blue and green are roles a deployment changes on promotion: the names carry none (issue 17).
    for (const name of [blue.name, green]) expect(name).toMatch(new RegExp(`^${app}-[0-9a-z]{6}$`));
    await waitFor('the preview route', async () => ((await hit(urls.preview)).app === green ? true : undefined));
    expect((await hit(urls.active)).app).toBe(blue.name);

    // Steady traffic on the active route across the switch: every request must succeed.
    const seen: string[] = [];
    const failures: string[] = [];
    let running = true;
    const traffic = (async () => {
      while (running) {
        const r = await hit(urls.active);
        if (r.ok) seen.push(r.app!);
        else failures.push(`${r.status} ${r.error}`);
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    const promoted = await promoteBlueGreen(stack.client, app, { by: 'alice', reason: 'preview looks good' });
    expect(promoted.green).toBe(green);
    await new Promise((r) => setTimeout(r, 200));
    running = false;
    await traffic;

    expect(failures).toEqual([]);
    expect(seen[0]).toBe(blue.name);
    expect(seen.at(-1)).toBe(green);
    // Once green answered, blue never did again: one switch, no flapping.
    expect(seen.slice(seen.indexOf(green))).not.toContain(blue.name);

    const result = await awaitBlueGreen(stack.client, app, started.runId);
    expect(result.outcome).toBe('promoted');
    expect(result.active?.name).toBe(green);
    const promote = result.history.find((h) => h.kind === 'promote' && h.by === 'alice');
    expect(promote?.reason).toBe('preview looks good');
    // Blue was kept for scaleDownDelay, then deleted; green alone is live.
    expect(result.history.some((h) => h.kind === 'retire')).toBe(true);
    await waitFor('blue deleted', async () => (liveCvms(stack, app).every((c) => c.name === green) ? true : undefined));
    expect((await hit(urls.active)).app).toBe(green);
    await recordHistory(
      stack.client.workflow.getHandle(`bluegreen-${app}`, started.runId),
      'bluegreen-promoted-by-hand',
    );
  });

  it('promotes automatically after autoPromoteAfter, and not before', async () => {
    const app = newApp();
    const proxy = await proxyFor(app);
    await deployBlue(stack, app, proxy);
    const spec = bgSpec(app, proxy, {
      compose: { inline: compose('1.28') },
      autoPromote: true,
      autoPromoteAfter: '1500ms',
    });
    const started = await launch(stack, spec);
    const result = await awaitBlueGreen(stack.client, app, started.runId);
    expect(result.outcome).toBe('promoted');
    const previewAt = result.history.find(
      (h) => h.kind === 'switch' && h.detail.includes('preview →') && !h.detail.includes('preview → nothing'),
    )!.atMs;
    const promote = result.history.find((h) => h.kind === 'promote' && h.by === 'cvmflow')!;
    expect(promote.atMs - previewAt).toBeGreaterThanOrEqual(1500);
    expect(promote.reason).toContain('automatic promotion');
    expect((await hit(proxy.urls(app).active)).app).toBe(result.active!.name);
    await recordHistory(stack.client.workflow.getHandle(`bluegreen-${app}`, started.runId), 'bluegreen-auto-promoted');
  });

  it('aborts an unpromoted preview at previewTtl: green deleted, blue untouched', async () => {
    const app = newApp();
    const proxy = await proxyFor(app);
    const blue = await deployBlue(stack, app, proxy);
    const spec = bgSpec(app, proxy, { compose: { inline: compose('1.28') }, previewTtl: '1s' });
    const started = await launch(stack, spec);
    const result = await awaitBlueGreen(stack.client, app, started.runId);
    expect(result.outcome).toBe('expired');
    expect(result.active?.name).toBe(blue.name);
    await waitFor('green gone', async () =>
      liveCvms(stack, app).every((c) => c.name === blue.name) ? true : undefined,
    );
    expect(proxy.table(app)).toMatchObject({ active: { name: blue.name }, preview: null });
    expect((await hit(proxy.urls(app).active)).app).toBe(blue.name);
    await expect(promoteBlueGreen(stack.client, app, ACTOR)).rejects.toThrow(BlueGreenRejectedError);
    const { status } = await getBlueGreenStatus(stack.client, app);
    expect(status).toMatchObject({ phase: 'done', outcome: 'expired', active: 'blue' });
    await recordHistory(stack.client.workflow.getHandle(`bluegreen-${app}`, started.runId), 'bluegreen-expired');
  });

  it('drives a webhook router: every route change is POSTed signed, and the run waits for its 2xx', async () => {
    const app = newApp();
    const received: RouteTable[] = [];
    const problems: string[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const problem = signatureProblem(ROUTER_SECRET, req.headers, body);
        if (problem) problems.push(problem);
        else received.push(JSON.parse(body) as RouteTable);
        res.writeHead(problem ? 401 : 200);
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/routes`;
    try {
      const started = await launch(stack, bgSpec(app, url, { autoPromote: true, minHealthy: '0s' }));
      const result = await awaitBlueGreen(stack.client, app, started.runId);
      expect(result.outcome).toBe('promoted');
      expect(problems).toEqual([]);
      // Run start (nothing serves yet), preview of green, promotion; generations only go up.
      expect(received.map((t) => [t.active?.name ?? null, t.preview?.name ?? null])).toEqual([
        [null, null],
        [null, result.green],
        [result.green, null],
      ]);
      expect(received.map((t) => t.generation)).toEqual([...received.map((t) => t.generation)].sort((a, b) => a - b));
      expect(received[2]!.active!.url).toBe(result.active!.url);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });
});

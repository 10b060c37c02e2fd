// Crash safety with real processes: the worker is SIGKILLed while green is in the health gate, and while the router
// holds the promotion's route change; a new worker process takes over and the run ends with exactly one version
// active — the promotion applied once, blue retired, every request answered by a single deployment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitBlueGreen } from '../../src/client/bluegreen';
import type { LocalProxy } from '../../src/router/local-proxy';
import type { RouteTable } from '../../src/router/types';
import { startStack, TEST_API_KEY, type TestStack } from '../support/stack';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';
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

describe('blue-green survives worker crashes', () => {
  let stack: TestStack;
  const workers: WorkerProcess[] = [];
  const proxies: LocalProxy[] = [];
  const startWorker = async () => {
    const w = await spawnWorker({ taskQueue: stack.taskQueue, phalaUrl: stack.sim.url, apiKey: TEST_API_KEY });
    workers.push(w);
    return w;
  };
  /** The worker alive now; each test kills it and leaves its replacement to the next. */
  const current = () => workers.at(-1)!;

  beforeAll(async () => {
    stack = await startStack();
    await startWorker();
  });
  afterAll(async () => {
    for (const w of workers) await w.kill();
    for (const p of proxies) await p.close();
    await stack?.close();
  });

  async function expectOneActiveVersion(app: string, proxy: LocalProxy, green: string, promotion: RouteTable[]) {
    expect(proxy.table(app)).toMatchObject({ active: { name: green }, preview: null });
    // The promotion's table took effect once, and nothing moved traffic afterwards.
    expect(promotion).toHaveLength(1);
    expect(proxy.applied(app).at(-1)?.generation).toBe(promotion[0]!.generation);
    await waitFor('blue retired', async () => (liveCvms(stack, app).every((c) => c.name === green) ? true : undefined));
    expect(new Set(liveCvms(stack, app).map((c) => c.name))).toEqual(new Set([green]));
    const answers = await Promise.all(Array.from({ length: 10 }, () => hit(proxy.urls(app).active)));
    expect(new Set(answers.map((a) => a.app))).toEqual(new Set([green]));
  }

  it('SIGKILL during the health gate: a new worker resumes the gate and promotes', async () => {
    const first = current();
    const app = newApp();
    const proxy = await startProxy(app);
    proxies.push(proxy);
    await deployBlue(stack, app, proxy);
    const spec = bgSpec(app, proxy, { compose: { inline: compose('1.28') }, autoPromote: true, minHealthy: '2s' });
    const started = await launch(stack, spec);
    const gate = await waitForPhase(stack, app, 'health-gate');
    await new Promise((r) => setTimeout(r, 500));
    await first.kill();
    await startWorker();
    const result = await awaitBlueGreen(stack.client, app, started.runId);
    expect(result.outcome).toBe('promoted');
    expect(result.active?.name).toBe(gate.green!.name);
    const promotion = proxy.applied(app).filter((t) => t.active?.name === gate.green!.name && t.preview === null);
    await expectOneActiveVersion(app, proxy, gate.green!.name, promotion);
  });

  it('SIGKILL while the router holds the switch: the retried switch changes nothing, the run completes', async () => {
    const first = current();
    const app = newApp();
    // Once armed, the proxy holds the first table that makes anything but blue active — the promotion — until
    // released; the worker that sent it is killed meanwhile.
    let armedFor: string | undefined;
    let onHeld: (t: RouteTable) => void = () => {};
    const held = new Promise<RouteTable>((r) => {
      onHeld = r;
    });
    let release: () => void = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    const proxy = await startProxy(app, {
      beforeApply: async (table) => {
        if (armedFor === undefined || !table.active || table.active.name === armedFor || table.preview) return;
        armedFor = undefined;
        onHeld(table);
        await released;
      },
    });
    proxies.push(proxy);
    const blue = await deployBlue(stack, app, proxy);
    armedFor = blue.name;
    const started = await launch(
      stack,
      bgSpec(app, proxy, { compose: { inline: compose('1.28') }, autoPromote: true }),
    );
    const table = await held;
    await first.kill();
    release();
    await startWorker();
    const result = await awaitBlueGreen(stack.client, app, started.runId);
    expect(result.outcome).toBe('promoted');
    expect(result.active?.name).toBe(table.active?.name);
    const promotion = proxy.applied(app).filter((t) => t.generation === table.generation);
    await expectOneActiveVersion(app, proxy, result.active!.name, promotion);
  });
});

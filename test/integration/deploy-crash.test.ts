// Crash safety with real processes: the worker is SIGKILLed in the middle of the watch and in the middle of
// replication, a new worker process takes over, and the deployment completes with exactly the expected CVMs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDeployStatus, startDeploy } from '../../src/client/deploy';
import type { DeployPhase } from '../../src/workflows/deploy-types';
import { testSpec } from '../support/specs';
import { startStack, TEST_API_KEY, type TestStack } from '../support/stack';
import { TEST_CODEC_KEYS } from '../support/temporal';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';

describe('deploy survives worker crashes', () => {
  let stack: TestStack;
  const workers: WorkerProcess[] = [];
  const startWorker = async () => {
    const w = await spawnWorker({ taskQueue: stack.taskQueue, phalaUrl: stack.sim.url, apiKey: TEST_API_KEY });
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    // Real-time delays long enough to crash inside a phase: create 0.5 s, boot 2.5 s.
    stack = await startStack({ sim: { timeScale: 1, delays: { create: 500, boot: 2500, delete: 10, jitter: 0 } } });
  });
  afterAll(async () => {
    for (const w of workers) await w.kill();
    await stack?.close();
  });

  async function waitForPhase(app: string, phase: DeployPhase, extra: (cvms: number) => boolean = () => true) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const p = await getDeployStatus(stack.client, app).catch(() => undefined);
      if (p?.phase === phase && extra(p.cvms.length)) return;
      if (Date.now() > deadline) throw new Error(`never reached phase ${phase}; last: ${JSON.stringify(p)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it.each([
    ['the watch', 'running' as DeployPhase, () => true],
    ['replication', 'replicate' as DeployPhase, (n: number) => n >= 2],
  ])('SIGKILL during %s: a new worker finishes with no duplicate CVM', async (_label, phase, extra) => {
    const first = await startWorker();
    const spec = testSpec({ replicas: 3 });
    const since = stack.sim.requests().at(-1)?.seq ?? 0;
    const handle = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
      tuning: { heartbeatTimeoutMs: 2000, apiAttemptTimeoutMs: 3000 },
    });
    await waitForPhase(spec.name, phase, extra);
    await first.kill();
    await startWorker();
    const result = await handle.result();

    expect(result.cvms).toHaveLength(3);
    const live = stack.sim.cvms().filter((c) => c.name === spec.name);
    expect(live).toHaveLength(3);
    expect(live.every((c) => c.status === 'running')).toBe(true);
    expect(new Set(result.cvms.map((c) => c.cvmId))).toEqual(new Set(live.map((c) => c.vmUuid)));
    const created = stack.sim.requests({ sinceSeq: since, method: 'POST' }).filter((r) => r.status === 200);
    expect(created.filter((r) => r.route === '/cvms/:id/replicas')).toHaveLength(2);
    expect(stack.sim.cvms({ includeDeleted: true }).filter((c) => c.name === spec.name)).toHaveLength(3);
  });

  it('SIGKILL while a replica request is in flight: the retry adopts the CVM it made instead of making another', async () => {
    // The replica request is held 2 s on its way in, the worker dies meanwhile, the simulator still creates the CVM
    // (its reply is lost): only the step's retry (attempt 2) looks for it, and must find it.
    const held = stack.sim.addFaults({
      routes: [{ method: 'POST', path: '/cvms/:id/replicas', latencyMs: 2000, count: 1 }],
    }).routes[0]!;
    const first = await startWorker();
    const spec = testSpec({ replicas: 2 });
    const since = stack.sim.requests().at(-1)?.seq ?? 0;
    const handle = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
      tuning: { heartbeatTimeoutMs: 2000, apiAttemptTimeoutMs: 3000 },
    });
    const deadline = Date.now() + 30_000;
    while (held.fired === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(held.fired).toBe(1);
    await first.kill();
    await startWorker();
    const result = await handle.result();

    expect(result.cvms).toHaveLength(2);
    const all = stack.sim.cvms({ includeDeleted: true }).filter((c) => c.name === spec.name);
    expect(all).toHaveLength(2);
    expect(new Set(result.cvms.map((c) => c.cvmId))).toEqual(new Set(all.map((c) => c.vmUuid)));
    expect(all.every((c) => c.status === 'running')).toBe(true);
    expect(stack.sim.requests({ sinceSeq: since, route: '/cvms/:id/replicas' })).toHaveLength(1);
  });
});

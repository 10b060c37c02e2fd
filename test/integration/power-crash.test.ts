// A power schedule survives its worker: the worker process is SIGKILLed while a scheduled stop is in flight (the
// graceful shutdown takes 3 s), a new worker process takes over, and every CVM was sent exactly one shutdown (a
// refused repeat would count too) and, at the end of the window, exactly one start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPowerSchedule, deletePowerSchedule, getPowerStatus } from '../../src/client/power';
import { validateSpec } from '../../src/spec';
import type { PowerScheduleSpec } from '../../src/spec/power';
import { startStack, TEST_API_KEY, type TestStack } from '../support/stack';
import { uniqueId } from '../support/temporal';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';

const COMPOSE = 'services:\n  web:\n    image: nginx:1.27-alpine\n';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bare = (cvmId: string) => cvmId.replaceAll('-', '').toLowerCase();

describe('power schedule survives worker crashes', () => {
  let stack: TestStack;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    // Real-time delays: everything quick except a graceful shutdown, which takes 3 s — the window to crash in.
    stack = await startStack({
      sim: {
        timeScale: 1,
        delays: { create: 50, boot: 50, stop: 50, shutdown: 3000, restart: 50, update: 50, delete: 10, jitter: 0 },
      },
    });
  });
  afterAll(async () => {
    for (const w of workers) await w.kill();
    await stack?.close();
  });

  async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
    const giveUp = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value) return value;
      if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }
  const view = (cvmId: string) => stack.sim.cvms().find((c) => c.vmUuid === cvmId)!;
  const settled = (cvmId: string, status: string) =>
    until(`${cvmId} ${status}`, () => view(cvmId).status === status && view(cvmId).operation === null);

  async function createCvm(name: string): Promise<string> {
    const p = await stack.phala.provisionCvm({ name, compose_file: { docker_compose_file: COMPOSE }, node_id: 1 });
    const cvm = await stack.phala.commitCvmProvision({ app_id: p.app_id!, compose_hash: p.compose_hash });
    await settled(cvm.vm_uuid!, 'running');
    return cvm.vm_uuid!;
  }

  /** Every power call the simulator received for a CVM, in order, whatever it answered (a 409 counts too). */
  const issued = (cvmId: string) =>
    stack.sim
      .requests({ method: 'POST' })
      .map((r) => new RegExp(`/cvms/${bare(cvmId)}/(start|stop|shutdown|restart)$`).exec(r.path)?.[1])
      .filter(Boolean);

  it('SIGKILL while the scheduled shutdown is in flight: exactly one shutdown and one start per CVM', async () => {
    const cvms = [await createCvm(uniqueId('pw-a')), await createCvm(uniqueId('pw-b'))];
    const start = async () => {
      const w = await spawnWorker({ taskQueue: stack.taskQueue, phalaUrl: stack.sim.url, apiKey: TEST_API_KEY });
      workers.push(w);
      return w;
    };
    const first = await start();
    const s = validateSpec(
      {
        apiVersion: 'cvmflow/v1',
        kind: 'PowerSchedule',
        name: uniqueId('crash'),
        targets: { cvms },
        mode: 'transitions',
        // On a 60× clock from 12:00: stopped from 12:01 (1 s from now) to 12:10 (10 s from now).
        calendar: {
          timezone: 'UTC',
          default: 'running',
          periods: [{ days: ['mon'], start: '12:01', end: '12:10', state: 'stopped' }],
        },
      },
      { source: 'test', baseDir: '.', kinds: ['PowerSchedule'] },
    ) as PowerScheduleSpec;
    await applyPowerSchedule(s, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      clock: { realAnchorMs: Date.now(), virtualAnchorMs: Date.parse('2026-03-02T12:00:00Z'), speed: 60 },
      tuning: { heartbeatTimeoutMs: 2_000, deferRecheckMs: 1_000 },
    });

    // Both shutdowns accepted and still running: kill the worker that is waiting for them.
    await until('both CVMs shutting down', () => cvms.every((c) => view(c).status === 'shutting_down'));
    await first.kill();
    await start();

    await Promise.all(cvms.map((c) => settled(c, 'stopped')));
    // 12:10 on the schedule clock: both started again by the new worker.
    await Promise.all(cvms.map((c) => until(`${c} started`, () => issued(c).includes('start'), 30_000)));
    await Promise.all(cvms.map((c) => settled(c, 'running')));
    for (const c of cvms) expect(issued(c), c).toEqual(['shutdown', 'start']);

    const status = await getPowerStatus(stack.client, s.name);
    expect(status.cvms.every((c) => c.inState && c.failures === 0)).toBe(true);
    await deletePowerSchedule(stack.client, s.name);
  }, 90_000);

  it('SIGKILL while the fleet listing after a transition is in flight: the next transition is not held up', async () => {
    const cvms = [await createCvm(uniqueId('pl-a')), await createCvm(uniqueId('pl-b'))];
    const start = async () => {
      const w = await spawnWorker({ taskQueue: stack.taskQueue, phalaUrl: stack.sim.url, apiKey: TEST_API_KEY });
      workers.push(w);
      return w;
    };
    const first = await start();
    const s = validateSpec(
      {
        apiVersion: 'cvmflow/v1',
        kind: 'PowerSchedule',
        name: uniqueId('listing'),
        targets: { cvms },
        mode: 'transitions',
        calendar: {
          timezone: 'UTC',
          default: 'running',
          periods: [{ days: ['mon'], start: '12:01', end: '12:10', state: 'stopped' }],
        },
      },
      { source: 'test', baseDir: '.', kinds: ['PowerSchedule'] },
    ) as PowerScheduleSpec;
    const appliedAt = Date.now();
    await applyPowerSchedule(s, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      clock: { realAnchorMs: appliedAt, virtualAnchorMs: Date.parse('2026-03-02T12:00:00Z'), speed: 60 },
      // A read attempt may take a minute before it is retried: only its heartbeat can notice the dead worker sooner.
      tuning: { heartbeatTimeoutMs: 2_000, deferRecheckMs: 1_000, apiAttemptTimeoutMs: 60_000 },
    });
    // The listing that follows the 12:01 transition hangs on the API, so it is still running when the worker dies.
    const fault = stack.sim.addFaults({ routes: [{ method: 'GET', path: '/cvms', latencyMs: 20_000, count: 1 }] });
    await until('both CVMs shutting down', () => cvms.every((c) => view(c).status === 'shutting_down'));
    await until('the listing hanging', () => fault.routes[0]!.fired === 1);
    await first.kill();
    await start();

    // 12:10 is 10 s after apply. With the read held until its attempt timeout (60 s) the start would come after
    // more than a minute; through its heartbeat the schedule is free again within seconds of the new worker.
    await Promise.all(cvms.map((c) => until(`${c} started`, () => issued(c).includes('start'), 45_000)));
    const startedAt = Date.now();
    expect(startedAt - appliedAt).toBeLessThan(45_000);
    await Promise.all(cvms.map((c) => settled(c, 'running')));
    for (const c of cvms) expect(issued(c), c).toEqual(['shutdown', 'start']);
    await deletePowerSchedule(stack.client, s.name);
  }, 120_000);
});

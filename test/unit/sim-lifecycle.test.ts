// The state machine with a tiny timeScale: phases, their (scaled) durations, cancellation by stop, busy-ness,
// the lock-linger knob and the CVM faults (never reaching the target, crashing to `exited`).
import { afterEach, describe, expect, it } from 'vitest';
import { FaultRegistry } from '../../src/simulator/faults';
import { Lifecycle } from '../../src/simulator/lifecycle';
import type { Cvm } from '../../src/simulator/model';
import { DEFAULT_DELAYS, type TransitionDelays } from '../../src/simulator/options';

const SCALE = 0.001; // a 30 s boot takes 30 ms
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function newCvm(name = 'unit-cvm'): Cvm {
  return {
    id: 1,
    hashid: 'cvm_unit',
    name,
    appId: 'a'.repeat(40),
    vmUuid: '0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3',
    instanceId: 'c'.repeat(40),
    status: 'creating',
    op: null,
    lockedUntil: 0,
    runningSince: null,
    exitedAt: null,
    bootError: null,
    history: [],
  } as unknown as Cvm;
}

let machine: Lifecycle | undefined;
afterEach(() => machine?.close());

function setup(delays: Partial<TransitionDelays> = {}, faults = new FaultRegistry()) {
  const changes: string[] = [];
  const gone: string[] = [];
  machine = new Lifecycle({
    delays: { ...DEFAULT_DELAYS, ...delays },
    timeScale: SCALE,
    faults,
    onChange: (c) => changes.push(c.status),
    onGone: (c) => gone.push(c.name),
  });
  return { m: machine, changes, gone, faults };
}

const until = (cond: () => boolean, ms = 2000) => expect.poll(cond, { interval: 2, timeout: ms }).toBe(true);

describe('Lifecycle', () => {
  it('creates through creating → starting → running, each phase lasting its scaled delay', async () => {
    const { m, changes } = setup();
    const cvm = newCvm();
    const op = m.begin(cvm, 'create');
    expect(op).toMatchObject({ kind: 'create', target: 'running' });
    expect(cvm.status).toBe('creating');
    expect(m.isBusy(cvm)).toBe(true);
    await until(() => cvm.status === 'running');
    expect(changes).toEqual(['creating', 'starting', 'running']);
    const [creating, starting, running] = cvm.history;
    const createMs = starting!.ts - creating!.ts;
    const bootMs = running!.ts - starting!.ts;
    expect(createMs).toBeGreaterThanOrEqual(DEFAULT_DELAYS.create * SCALE - 1);
    expect(createMs).toBeLessThan(DEFAULT_DELAYS.create * SCALE + 200);
    expect(bootMs).toBeGreaterThanOrEqual(DEFAULT_DELAYS.boot * SCALE - 1);
    expect(bootMs).toBeLessThan(DEFAULT_DELAYS.boot * SCALE + 200);
    expect(cvm.op).toBeNull();
    expect(m.isBusy(cvm)).toBe(false);
    expect(running!.op).toBeNull();
    expect(starting!.op).toBe('create');
  });

  it('lets stop cancel a running operation: the CVM never reaches running', async () => {
    const { m } = setup();
    const cvm = newCvm();
    m.begin(cvm, 'create');
    m.begin(cvm, 'stop');
    expect(cvm.status).toBe('stopping');
    await until(() => cvm.status === 'stopped');
    await sleep(DEFAULT_DELAYS.boot * SCALE + 20);
    expect(cvm.history.map((h) => h.status)).toEqual(['creating', 'stopping', 'stopped']);
  });

  it('keeps the operation lock for lockLinger after the operation finished', async () => {
    const { m } = setup({ lockLinger: 100_000 });
    const cvm = newCvm();
    m.begin(cvm, 'start');
    await until(() => cvm.status === 'running');
    expect(cvm.op).toBeNull();
    expect(m.isBusy(cvm)).toBe(true);
    await until(() => !m.isBusy(cvm), 500);
  });

  it('applies an update to a stopped CVM without booting it', async () => {
    const { m } = setup();
    const cvm = newCvm();
    cvm.status = 'stopped';
    const op = m.begin(cvm, 'update');
    expect(op.target).toBe('stopped');
    await until(() => cvm.op === null);
    expect(cvm.history.map((h) => h.status)).toEqual(['updating', 'stopped']);
  });

  it('removes a deleted CVM after the delete delay', async () => {
    const { m, gone } = setup();
    const cvm = newCvm('doomed-cvm');
    m.begin(cvm, 'delete');
    expect(cvm.status).toBe('deleting');
    await until(() => gone.length === 1);
    expect(cvm.history.map((h) => h.status)).toEqual(['deleting', 'deleted']);
  });

  it('never reaches the target under a neverReachTarget fault, until stopped', async () => {
    const faults = new FaultRegistry();
    faults.add({ cvms: [{ cvm: 'stuck-cvm', neverReachTarget: true }] });
    const { m } = setup({}, faults);
    const cvm = newCvm('stuck-cvm');
    m.begin(cvm, 'start');
    await sleep(DEFAULT_DELAYS.boot * SCALE * 4);
    expect(cvm.status).toBe('starting');
    m.begin(cvm, 'stop');
    await until(() => cvm.status === 'stopped');
  });

  it('crashes to exited crashAfterMs (scaled) after reaching running', async () => {
    const faults = new FaultRegistry();
    faults.add({ cvms: [{ cvm: 'crashy-cvm', crashAfterMs: 20_000, count: 1 }] });
    const { m } = setup({}, faults);
    const cvm = newCvm('crashy-cvm');
    m.begin(cvm, 'start');
    await until(() => cvm.status === 'exited');
    const [, running, exited] = cvm.history;
    expect(exited!.ts - running!.ts).toBeGreaterThanOrEqual(20_000 * SCALE - 1);
    expect(cvm.bootError).toMatch(/crash/);
    expect(faults.list().cvms).toHaveLength(0);
    m.begin(cvm, 'start');
    await until(() => cvm.status === 'running');
    await sleep(40);
    expect(cvm.status).toBe('running');
  });
});

// The power activities against an in-memory API: the action reads before it acts (so retries are harmless), waits
// through the real watch hub, escalates a graceful shutdown that cannot finish, and never acts on a locked app.
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it, vi } from 'vitest';
import { createPowerActivities } from '../../src/activities/power-activities';
import { WatchHub } from '../../src/activities/watch-hub';
import type { PhalaClient } from '../../src/phala/client';
import { PhalaApiError } from '../../src/phala/errors';
import type {
  PowerActionRequest,
  PowerBatchItem,
  PowerBatchRequest,
  TargetRead,
} from '../../src/workflows/power-types';

interface FakeCvm {
  name: string;
  status: string;
  inProgress: boolean;
}

/** The part of the Phala API the power activities use, in memory; every call is logged. */
class FakeApi {
  cvms = new Map<string, FakeCvm>();
  calls: string[] = [];
  /** Actions that answer 409 "busy". */
  refuse = new Set<string>();
  /** CVMs whose actions never finish (except a force stop). */
  never = new Set<string>();
  /** The unpaginated `GET /cvms` answers 404 (an API without it); listings then go page by page. */
  noFullList = false;
  /** API calls in flight now, and the most there ever were. */
  inFlight = 0;
  peakInFlight = 0;
  lists = 0;

  add(cvmId: string, name: string, status: string) {
    this.cvms.set(cvmId, { name, status, inProgress: false });
  }

  private async act(kind: string, cvmId: string, moving: string, done: string) {
    this.calls.push(`${kind} ${cvmId}`);
    this.peakInFlight = Math.max(this.peakInFlight, ++this.inFlight);
    await new Promise((r) => setTimeout(r, 2));
    this.inFlight--;
    if (this.refuse.has(kind))
      throw new PhalaApiError({
        message: 'operation in progress',
        status: 409,
        endpoint: `POST /cvms/{id}/${kind}`,
        retryable: true,
      });
    const cvm = this.cvms.get(cvmId)!;
    Object.assign(cvm, { status: moving, inProgress: true });
    if (this.never.has(cvmId)) return {};
    setTimeout(() => Object.assign(cvm, { status: done, inProgress: false }), 20);
    return {};
  }

  private items() {
    return [...this.cvms.entries()].map(([id, c]) => ({
      id: `cvm_${id.slice(0, 6)}`,
      vm_uuid: id,
      name: c.name,
      status: c.status,
      progress: null,
    }));
  }

  client(): PhalaClient {
    const api = {
      startCvm: async (id: string) => this.act('start', id, 'starting', 'running'),
      stopCvm: async (id: string) => {
        this.never.delete(id); // force stop always lands
        return this.act('stop', id, 'stopping', 'stopped');
      },
      shutdownCvm: async (id: string) => this.act('shutdown', id, 'shutting_down', 'stopped'),
      restartCvm: async (id: string) => this.act('restart', id, 'restarting', 'running'),
      getStatusBatch: async (ids: string[]) =>
        Object.fromEntries(
          ids
            .filter((id) => this.cvms.has(id))
            .map((id) => [
              id,
              { vm_uuid: id, status: this.cvms.get(id)!.status, in_progress: this.cvms.get(id)!.inProgress },
            ]),
        ),
      listCvmSummaries: async () => {
        this.calls.push('list');
        if (this.noFullList)
          throw new PhalaApiError({ message: 'Not Found', status: 404, endpoint: 'GET /cvms', retryable: false });
        this.lists++;
        await new Promise((r) => setTimeout(r, 20));
        return this.items();
      },
      listCvms: async ({ page }: { page: number }) => {
        this.calls.push(`list page ${page}`);
        const all = this.items();
        return { items: all.slice((page - 1) * 2, page * 2), pages: Math.ceil(all.length / 2) };
      },
    };
    return api as unknown as PhalaClient;
  }
}

function setup(opts: { locked?: string[] } = {}) {
  const api = new FakeApi();
  const phala = api.client();
  const hub = new WatchHub(
    {
      statusBatch: async (ids) => {
        const res = await phala.getStatusBatch(ids);
        return new Map(Object.entries(res).map(([id, s]) => [id, { status: s.status, inProgress: s.in_progress }]));
      },
      // No streams: the hub covers every CVM by polling, which is all this needs.
      async *stream() {},
    },
    { maxStreams: 0, pollIntervalMs: 5 },
  );
  const acts = createPowerActivities({
    phala,
    hub,
    busyRetryMs: 10,
    isAppLocked: async (app) => opts.locked?.includes(app) ?? false,
    heldBatchWanted: async () => true,
  });
  const env = new MockActivityEnvironment();
  const batch = (
    req: Partial<PowerBatchRequest> & Pick<PowerBatchRequest, 'cvms' | 'action'>,
  ): Promise<PowerBatchItem[]> =>
    env.run(acts.powerCvms, {
      stop: { action: 'shutdown' as const, shutdownTimeoutMs: 200 },
      waitForState: true,
      waitTimeoutMs: 1_000,
      ...req,
    });
  const run = (req: Partial<PowerActionRequest> & Pick<PowerActionRequest, 'cvmId' | 'action'>) =>
    env.run(acts.powerCvm, {
      app: 'web-app',
      stop: { action: 'shutdown' as const, shutdownTimeoutMs: 200 },
      waitForState: true,
      waitTimeoutMs: 1_000,
      ...req,
    });
  return { api, acts, env, run, batch, close: () => hub.close() };
}

const ID = 'a1b2c3d4e5f6';

describe('powerCvm', () => {
  it.each([
    ['start', 'running'],
    ['stop', 'stopped'],
    ['stop', 'exited'],
  ] as const)('%s on a CVM already %s does nothing', async (action, status) => {
    const t = setup();
    t.api.add(ID, 'web-app', status);
    await expect(t.run({ cvmId: ID, action })).resolves.toMatchObject({ outcome: 'already', status });
    expect(t.api.calls).toEqual([]);
    t.close();
  });

  it('start on a CVM already starting only waits (a retry never issues a second start)', async () => {
    const t = setup();
    t.api.add(ID, 'web-app', 'starting');
    t.api.cvms.get(ID)!.inProgress = true;
    setTimeout(() => Object.assign(t.api.cvms.get(ID)!, { status: 'running', inProgress: false }), 30);
    await expect(t.run({ cvmId: ID, action: 'start' })).resolves.toMatchObject({ outcome: 'done', status: 'running' });
    expect(t.api.calls).toEqual([]);
    t.close();
  });

  it('starts, restarts and stops, waiting for the state', async () => {
    const t = setup();
    t.api.add(ID, 'web-app', 'stopped');
    await expect(t.run({ cvmId: ID, action: 'start' })).resolves.toMatchObject({ outcome: 'done', status: 'running' });
    await expect(t.run({ cvmId: ID, action: 'restart' })).resolves.toMatchObject({
      outcome: 'done',
      status: 'running',
    });
    await expect(t.run({ cvmId: ID, action: 'stop' })).resolves.toMatchObject({ outcome: 'done', status: 'stopped' });
    await expect(
      t.run({ cvmId: ID, action: 'stop', stop: { action: 'stop', shutdownTimeoutMs: 0 } }),
    ).resolves.toMatchObject({ outcome: 'already' });
    expect(t.api.calls).toEqual([`start ${ID}`, `restart ${ID}`, `shutdown ${ID}`]);
    t.close();
  });

  it('a restart of a stopped CVM is a start', async () => {
    const t = setup();
    t.api.add(ID, 'web-app', 'stopped');
    await expect(t.run({ cvmId: ID, action: 'restart' })).resolves.toMatchObject({
      outcome: 'done',
      status: 'running',
    });
    expect(t.api.calls).toEqual([`start ${ID}`]);
    t.close();
  });

  it('without waitForState it returns once the call is accepted', async () => {
    const t = setup();
    t.api.add(ID, 'web-app', 'stopped');
    t.api.never.add(ID);
    await expect(t.run({ cvmId: ID, action: 'start', waitForState: false })).resolves.toMatchObject({
      outcome: 'issued',
    });
    t.close();
  });

  it('force-stops a CVM whose graceful shutdown does not finish within the shutdown timeout', async () => {
    const t = setup();
    t.api.add(ID, 'web-app', 'running');
    t.api.never.add(ID);
    await expect(t.run({ cvmId: ID, action: 'stop' })).resolves.toMatchObject({
      outcome: 'done',
      status: 'stopped',
      escalated: true,
    });
    expect(t.api.calls).toEqual([`shutdown ${ID}`, `stop ${ID}`]);
    t.close();
  });

  it('gives the force stop its own waitTimeout, even when the shutdown timeout used up more than that', async () => {
    const t = setup();
    t.api.add(ID, 'web-app', 'running');
    t.api.never.add(ID);
    const stop = { action: 'shutdown' as const, shutdownTimeoutMs: 150 };
    await expect(t.run({ cvmId: ID, action: 'stop', stop, waitTimeoutMs: 100 })).resolves.toMatchObject({
      outcome: 'done',
      status: 'stopped',
      escalated: true,
    });
    t.close();
  });

  it('force-stops a CVM that stays busy (409 to shutdown) until the shutdown timeout', async () => {
    const t = setup();
    t.api.add(ID, 'web-app', 'running');
    t.api.refuse.add('shutdown');
    await expect(t.run({ cvmId: ID, action: 'stop' })).resolves.toMatchObject({ outcome: 'done', escalated: true });
    expect(t.api.calls.filter((c) => c.startsWith('shutdown')).length).toBeGreaterThan(1);
    expect(t.api.calls.at(-1)).toBe(`stop ${ID}`);
    t.close();
  });

  it('waits out 409 busy on start and then starts', async () => {
    const t = setup();
    t.api.add(ID, 'web-app', 'stopped');
    t.api.refuse.add('start');
    setTimeout(() => t.api.refuse.delete('start'), 50);
    await expect(t.run({ cvmId: ID, action: 'start' })).resolves.toMatchObject({ outcome: 'done', status: 'running' });
    expect(t.api.calls.filter((c) => c === `start ${ID}`).length).toBeGreaterThan(1);
    t.close();
  });

  it('reports a CVM that does not reach its state in time as PowerTimeout (not retried)', async () => {
    const t = setup();
    t.api.add(ID, 'web-app', 'stopped');
    t.api.never.add(ID);
    const err = await t.run({ cvmId: ID, action: 'start', waitTimeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({
      type: 'PowerTimeout',
      nonRetryable: true,
      message: `CVM ${ID} did not reach running in time (last status starting)`,
    });
    t.close();
  });

  it('does nothing while a deployment holds the app', async () => {
    const t = setup({ locked: ['web-app'] });
    t.api.add(ID, 'web-app', 'running');
    await expect(t.run({ cvmId: ID, action: 'stop' })).resolves.toMatchObject({
      outcome: 'deferred',
      status: 'running',
    });
    expect(t.api.calls).toEqual([]);
    t.close();
  });
});

describe('powerCvms', () => {
  const fleet = (t: ReturnType<typeof setup>, n: number, status: string, app = (i: number) => `app-${i % 3}`) =>
    Array.from({ length: n }, (_, i) => {
      const cvmId = `cvm${String(i).padStart(3, '0')}`;
      t.api.add(cvmId, app(i), status);
      return { cvmId, app: app(i) };
    });

  it('acts on every CVM of the batch once, with at most 16 calls in flight', async () => {
    const t = setup();
    const cvms = fleet(t, 40, 'running');
    const items = await t.batch({ cvms, action: 'stop', stop: { action: 'stop', shutdownTimeoutMs: 0 } });
    expect(items.map((i) => [i.cvmId, i.outcome])).toEqual(cvms.map((c) => [c.cvmId, 'done']));
    expect(t.api.calls.filter((c) => c.startsWith('stop ')).sort()).toEqual(cvms.map((c) => `stop ${c.cvmId}`));
    expect(t.api.peakInFlight).toBeGreaterThan(1);
    expect(t.api.peakInFlight).toBeLessThanOrEqual(16);
    t.close();
  });

  it('reports each CVM on its own: one that never stops fails, the others are done, one already there is left', async () => {
    const t = setup();
    const cvms = fleet(t, 3, 'stopped');
    t.api.cvms.get('cvm001')!.status = 'running';
    t.api.never.add('cvm002');
    const items = await t.batch({ cvms, action: 'start', waitTimeoutMs: 150 });
    expect(items).toMatchObject([
      { cvmId: 'cvm000', outcome: 'done', status: 'running' },
      { cvmId: 'cvm001', outcome: 'already', status: 'running' },
      {
        cvmId: 'cvm002',
        outcome: 'failed',
        error: 'CVM cvm002 did not reach running in time (last status starting)',
      },
    ]);
    const again = await t.batch({ cvms: cvms.slice(0, 1), action: 'start' });
    expect(again).toMatchObject([{ cvmId: 'cvm000', outcome: 'already' }]);
    expect(t.api.calls.filter((c) => c.startsWith('start '))).toEqual(['start cvm000', 'start cvm002']);
    t.close();
  });

  it('defers the CVMs of an app a deployment holds and acts on the rest', async () => {
    const t = setup({ locked: ['app-1'] });
    const cvms = fleet(t, 3, 'running');
    const items = await t.batch({ cvms, action: 'stop', stop: { action: 'stop', shutdownTimeoutMs: 0 } });
    expect(items.map((i) => i.outcome)).toEqual(['done', 'deferred', 'done']);
    expect(t.api.calls).not.toContain('stop cvm001');
    t.close();
  });

  it('trusts a lock check the workflow made a moment ago', async () => {
    const t = setup({ locked: ['app-1'] });
    const cvms = fleet(t, 3, 'running');
    const items = await t.batch({
      cvms,
      action: 'stop',
      stop: { action: 'stop', shutdownTimeoutMs: 0 },
      locksCheckedAtMs: Date.now(),
    });
    expect(items.map((i) => i.outcome)).toEqual(['done', 'done', 'done']);
    t.close();
  });

  it('holds the calls of a batch prepared ahead until its instant, and checks locks again when theirs went stale', async () => {
    const t = setup({ locked: ['app-1'] });
    const cvms = fleet(t, 3, 'running');
    const calledAt: number[] = [];
    const push = t.api.calls.push.bind(t.api.calls);
    t.api.calls.push = (...entries: string[]) => {
      calledAt.push(Date.now());
      return push(...entries);
    };
    const notBeforeMs = Date.now() + 300;
    const items = await t.batch({
      cvms,
      action: 'stop',
      stop: { action: 'stop', shutdownTimeoutMs: 0 },
      // Fresh when the batch starts, older than the 2 s freshness by the instant: checked again then.
      locksCheckedAtMs: Date.now() - 1_800,
      notBeforeMs,
    });
    expect(items.map((i) => i.outcome)).toEqual(['done', 'deferred', 'done']);
    expect(t.api.calls.filter((c) => c.startsWith('stop ')).sort()).toEqual(['stop cvm000', 'stop cvm002']);
    expect(Math.min(...calledAt)).toBeGreaterThanOrEqual(notBeforeMs);
    t.close();
  });

  it('names a CVM that no longer exists as gone, without failing the batch', async () => {
    const t = setup();
    const cvms = [...fleet(t, 1, 'stopped'), { cvmId: 'deleted1', app: 'app-9' }];
    const items = await t.batch({ cvms, action: 'start' });
    expect(items).toMatchObject([
      { cvmId: 'cvm000', outcome: 'done' },
      { cvmId: 'deleted1', outcome: 'failed', gone: true, error: 'CVM deleted1 no longer exists' },
    ]);
    t.close();
  });
});

describe('powerReadStatuses', () => {
  it('reads the known CVMs in one call and names the missing ones', async () => {
    const t = setup();
    t.api.add('aaa111', 'web-app', 'running');
    t.api.add('bbb222', 'web-app', 'stopping');
    t.api.cvms.get('bbb222')!.inProgress = true;
    await expect(t.env.run(t.acts.powerReadStatuses, { cvmIds: ['aaa111', 'bbb222', 'zzz999'] })).resolves.toEqual({
      statuses: {
        aaa111: { status: 'running', inProgress: false },
        bbb222: { status: 'stopping', inProgress: true },
      },
      missing: ['zzz999'],
    });
    expect(t.api.calls).toEqual([]);
    t.close();
  });
});

describe('powerReadTargets', () => {
  it('lists the fleet once for schedules that ask at the same time, and pages where GET /cvms is missing', async () => {
    const t = setup();
    t.api.add('aaa111', 'web-app', 'running');
    t.api.add('bbb222', 'db-app', 'running');
    t.api.add('ccc333', 'db-app', 'stopped');
    const reads = await Promise.all(
      ['web-app', 'db-app', 'web-app'].map(
        (app): Promise<TargetRead> => t.env.run(t.acts.powerReadTargets, { targets: { apps: [app], cvms: [] } }),
      ),
    );
    expect(reads.map((r) => r.cvms.length)).toEqual([1, 2, 1]);
    expect(t.api.lists).toBe(1);
    t.api.noFullList = true;
    t.api.calls = [];
    const paged: TargetRead = await t.env.run(t.acts.powerReadTargets, { targets: { apps: ['db-app'], cvms: [] } });
    expect(paged.cvms.map((c) => c.cvmId)).toEqual(['bbb222', 'ccc333']);
    expect(t.api.calls).toEqual(['list', 'list page 1', 'list page 2']);
    t.close();
  });

  it('lets a drift check reuse a finished listing that started after its notBeforeMs, and nothing else', async () => {
    const t = setup();
    t.api.add('aaa111', 'web-app', 'running');
    const read = (notBeforeMs?: number): Promise<TargetRead> =>
      t.env.run(t.acts.powerReadTargets, { targets: { apps: ['web-app'], cvms: [] }, notBeforeMs });
    const before = Date.now();
    const first = await read();
    expect(first.listedAtMs).toBeGreaterThanOrEqual(before);
    // A replica made after that listing: a drift check that accepts the listing does not see it yet...
    t.api.add('bbb222', 'web-app', 'running');
    const reused = await read(before);
    expect(reused.cvms.map((c) => c.cvmId)).toEqual(['aaa111']);
    expect(reused.listedAtMs).toBe(first.listedAtMs);
    expect(t.api.lists).toBe(1);
    // ... nor, while that listing is younger than 3 s, one that asks for a later listing: a worker lists the fleet
    // for drift checks at most every 3 s, however many schedules ask ...
    expect((await read(first.listedAtMs! + 1)).cvms).toHaveLength(1);
    expect(t.api.lists).toBe(1);
    // ... after that, one that needs a listing started after the replica, or any read without notBeforeMs, lists.
    const realNow = Date.now.bind(Date);
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 3_001);
    const fresh = await read(first.listedAtMs! + 1);
    spy.mockRestore();
    expect(fresh.cvms.map((c) => c.cvmId)).toEqual(['aaa111', 'bbb222']);
    await read();
    expect(t.api.lists).toBe(3);
    t.close();
  });

  it('resolves apps by name and CVMs by any id form, reads statuses, and names what it could not find', async () => {
    const t = setup();
    const uuid = '7f3a1c2e-1111-4222-8333-444455556666';
    t.api.add(uuid, 'solo-cvm', 'running');
    t.api.add('aaa111', 'web-app', 'running');
    t.api.add('bbb222', 'web-app', 'stopped');
    t.api.add('ccc333', 'other-app', 'running');
    const read: TargetRead = await t.env.run(t.acts.powerReadTargets, {
      targets: { apps: ['web-app', 'gone-app'], cvms: [uuid.replaceAll('-', ''), 'cvm_404'] },
    });
    expect(read.cvms).toEqual([
      { cvmId: uuid, name: 'solo-cvm', app: 'solo-cvm', status: 'running', inProgress: false },
      { cvmId: 'aaa111', name: 'web-app', app: 'web-app', status: 'running', inProgress: false },
      { cvmId: 'bbb222', name: 'web-app', app: 'web-app', status: 'stopped', inProgress: false },
    ]);
    expect(read.unresolved).toEqual([
      { target: 'app gone-app', reason: 'no live CVM carries this name' },
      { target: 'cvm cvm_404', reason: 'no live CVM with this id in the workspace' },
    ]);
    t.close();
  });

  it('reports the deployment locks it finds', async () => {
    const t = setup({ locked: ['web-app'] });
    await expect(t.env.run(t.acts.powerLockedApps, { apps: ['web-app', 'other-app'] })).resolves.toEqual(['web-app']);
    t.close();
  });
});

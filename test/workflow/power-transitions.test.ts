// The power-schedule workflow on the real Temporal dev server with stubbed activities: plain functions over an
// in-memory fleet, registered on a worker here, so the workflow's timers, Updates and validators are exercised in
// seconds without the simulator. The schedule runs on a scaled clock (60×: a calendar minute is a real second);
// each power call the stubs take is logged at its time on that clock. The real activities against the simulator
// are covered in test/integration/power-schedule.test.ts.

import { activityInfo, cancellationSignal, heartbeat } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PowerActivities } from '../../src/activities/power-activities';
import { holdUntilInstant } from '../../src/activities/power-hold';
import {
  applyPowerSchedule,
  deletePowerSchedule,
  getPowerStatus,
  holdPower,
  PowerRequestRejectedError,
  pausePower,
  powerHandle,
  resumePower,
  skipNextTransition,
} from '../../src/client/power';
import { validateSpec } from '../../src/spec';
import type { PowerScheduleSpec } from '../../src/spec/power';
import {
  type PowerAction,
  type PowerStatus,
  powerHeldBatchWantedQuery,
  powerKeepRunningUntilUpdate,
  type ScheduleClock,
} from '../../src/workflows/power-types';
import { type StubbedWorker, startStubbedWorker } from '../support/stubbed-worker';
import { uniqueId } from '../support/temporal';

const SPEED = 60;
/** How late (schedule clock) a call may land after its instant: 90 s there is 1.5 s of real time. */
const LATE_MS = 90_000;
const vat = (text: string) => Date.parse(text);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface StubCvm {
  cvmId: string;
  name: string;
  app: string;
  status: string;
}
interface Call {
  cvmId: string;
  action: PowerAction;
  /** Real time; mapped onto a schedule's clock by `callsOn`. */
  atMs: number;
}

/** The fleet the stubs answer for, and every power call they took. */
const fleet = new Map<string, StubCvm>();
const calls: Call[] = [];
/** Real times of the fleet listings (powerReadTargets) per target app, and of each batch's start and end. */
const listings: { apps: string[]; atMs: number }[] = [];
const batches: { cvmIds: string[]; startedAtMs: number; endedAtMs?: number }[] = [];

function act(cvmId: string, action: PowerAction) {
  const cvm = fleet.get(cvmId)!;
  calls.push({ cvmId, action, atMs: Date.now() });
  cvm.status = action === 'stop' ? 'stopped' : 'running';
  return { outcome: 'done' as const, status: cvm.status, elapsedMs: 0 };
}

const stubs: Pick<
  PowerActivities,
  'powerReadTargets' | 'powerReadStatuses' | 'powerLockedApps' | 'powerCvms' | 'powerCvm'
> = {
  async powerReadTargets({ targets }) {
    listings.push({ apps: targets.apps, atMs: Date.now() });
    const cvms = [...fleet.values()].filter((c) => targets.apps.includes(c.app) || targets.cvms.includes(c.cvmId));
    return { cvms: cvms.map((c) => ({ ...c, inProgress: false })), unresolved: [], listedAtMs: Date.now() };
  },
  async powerReadStatuses({ cvmIds }) {
    const known = cvmIds.filter((id) => fleet.has(id));
    return {
      statuses: Object.fromEntries(known.map((id) => [id, { status: fleet.get(id)!.status, inProgress: false }])),
      missing: cvmIds.filter((id) => !fleet.has(id)),
    };
  },
  async powerLockedApps() {
    return [];
  },
  async powerCvms(req) {
    const batch: (typeof batches)[number] = { cvmIds: req.cvms.map((c) => c.cvmId), startedAtMs: Date.now() };
    batches.push(batch);
    // As the real batch does: one prepared ahead of its instant ('power-early-wake') holds its calls until then and
    // makes them only if its schedule still wants them (heartbeating, so a cancellation reaches it).
    if (req.notBeforeMs !== undefined) {
      const run = activityInfo().workflowExecution!;
      const cvmIds = batch.cvmIds;
      const beat = setInterval(() => heartbeat(), 200);
      try {
        await holdUntilInstant(req.notBeforeMs, cancellationSignal(), () =>
          client.workflow
            .getHandle(run.workflowId, run.runId)
            .query(powerHeldBatchWantedQuery, { cvmIds, notBeforeMs: req.notBeforeMs! }),
        );
      } finally {
        clearInterval(beat);
      }
    }
    const done = req.cvms.map(({ cvmId }) => ({ cvmId, ...act(cvmId, req.action) }));
    batch.endedAtMs = Date.now();
    return done;
  },
  async powerCvm(req) {
    return act(req.cvmId, req.action);
  },
};

let stubbed: StubbedWorker;
let client: Client;
const taskQueue = uniqueId('power-workflow');

beforeAll(async () => {
  stubbed = await startStubbedWorker(taskQueue, stubs);
  client = stubbed.client;
});

afterAll(async () => {
  await stubbed?.stop();
});

/** A schedule over one fresh CVM (running), started on a scaled clock at `virtualStart`. */
async function start(calendar: Record<string, unknown>, virtualStart: string) {
  const app = uniqueId('app');
  const cvmId = uniqueId('cvm');
  fleet.set(cvmId, { cvmId, name: app, app, status: 'running' });
  const spec: PowerScheduleSpec = validateSpec(
    { apiVersion: 'cvmflow/v1', kind: 'PowerSchedule', name: uniqueId('power'), targets: { apps: [app] }, calendar },
    { source: 'test', baseDir: '.', kinds: ['PowerSchedule'] },
  );
  const clock: Required<ScheduleClock> = { realAnchorMs: Date.now(), virtualAnchorMs: vat(virtualStart), speed: SPEED };
  const applied = await applyPowerSchedule(spec, { client, taskQueue, clock, tuning: { deferRecheckMs: 1_000 } });
  const scheduleNow = () => clock.virtualAnchorMs + (Date.now() - clock.realAnchorMs) * SPEED;
  return {
    name: spec.name,
    cvmId,
    applied,
    scheduleNow,
    /** The power calls made on this CVM, at their time on the schedule's clock. */
    callsOn: () =>
      calls
        .filter((c) => c.cvmId === cvmId)
        .map((c) => ({ action: c.action, atMs: clock.virtualAnchorMs + (c.atMs - clock.realAnchorMs) * SPEED })),
    /** Sleeps until the schedule's clock shows `text`. */
    until: (text: string) => sleep(Math.max(0, (vat(text) - scheduleNow()) / SPEED)),
    isoIn: (offsetMs: number) => new Date(scheduleNow() + offsetMs).toISOString(),
  };
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 10_000) {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const STOPPED_BUT_MONDAY_10_01 = {
  timezone: 'UTC',
  default: 'stopped',
  periods: [{ days: ['mon'], start: '10:01', end: '10:02', state: 'running' }],
};

describe('power schedule workflow (stubbed activities)', () => {
  it('acts at each calendar transition on time', async () => {
    const s = await start(STOPPED_BUT_MONDAY_10_01, '2026-03-02T10:00:00Z');
    expect(s.applied.evaluation.decisions).toMatchObject([{ cvmId: s.cvmId, decision: 'stop' }]);
    expect(s.applied.nextTransitions[0]).toMatchObject({ atMs: vat('2026-03-02T10:01:00Z'), state: 'running' });

    await eventually('the stop at 10:02', async () => s.callsOn().length >= 3);
    await s.until('2026-03-02T10:03:00Z');
    const got = s.callsOn();
    expect(got.map((c) => c.action)).toEqual(['stop', 'start', 'stop']);
    expect(got[0]!.atMs).toBeLessThan(vat('2026-03-02T10:01:00Z'));
    for (const [i, due] of [
      [1, '2026-03-02T10:01:00Z'],
      [2, '2026-03-02T10:02:00Z'],
    ] as const) {
      expect(got[i]!.atMs).toBeGreaterThanOrEqual(vat(due));
      expect(got[i]!.atMs).toBeLessThanOrEqual(vat(due) + LATE_MS);
    }
    const status = await getPowerStatus(client, s.name);
    expect(status.recent.filter((r) => r.kind === 'transition').map((r) => r.to)).toEqual([
      'stopped',
      'running',
      'stopped',
    ]);
    await deletePowerSchedule(client, s.name);
  });

  it('after a change prepared ahead, lists the fleet once its batch has ended, not while it holds its calls', async () => {
    const calendar = {
      timezone: 'UTC',
      default: 'stopped',
      periods: [{ days: ['mon'], start: '10:03', end: '10:30', state: 'running' }],
    };
    const s = await start(calendar, '2026-03-02T10:00:00Z');
    const app = fleet.get(s.cvmId)!.app;
    await eventually('the start at 10:03', async () => s.callsOn().some((c) => c.action === 'start'));
    const batch = batches.filter((b) => b.cvmIds.includes(s.cvmId)).at(-1)!;
    await eventually('the start batch to end', async () => batch.endedAtMs !== undefined);
    const ended = batch.endedAtMs!;
    await eventually('a listing after the batch', async () =>
      listings.some((l) => l.apps.includes(app) && l.atMs >= ended),
    );
    // The batch was started ahead of 10:03 and held its call until then ...
    expect(ended - batch.startedAtMs).toBeGreaterThan(500);
    expect(s.callsOn().find((c) => c.action === 'start')!.atMs).toBeGreaterThanOrEqual(vat('2026-03-02T10:03:00Z'));
    // ... and no listing ran meanwhile: the one that looks for CVMs made since came after it ended.
    const during = listings.filter((l) => l.apps.includes(app) && l.atMs > batch.startedAtMs && l.atMs < ended);
    expect(during).toEqual([]);
    await deletePowerSchedule(client, s.name);
  });

  it('an override holds the CVM until it expires, then the calendar takes over again', async () => {
    const s = await start({ timezone: 'UTC', default: 'stopped' }, '2026-03-02T10:00:00Z');
    await eventually('the first stop', async () => s.callsOn().length === 1);
    // Three calendar minutes (3 s real): long enough that a loaded machine still starts the CVM before it ends.
    const until = new Date(Math.ceil((s.scheduleNow() + 180_000) / 1000) * 1000).toISOString();
    const lease = await holdPower(client, s.name, 'keepRunning', until, { by: 'alice', reason: 'customer demo' });
    expect(lease).toMatchObject({ kind: 'keepRunning', by: 'alice', reason: 'customer demo', note: 'customer demo' });

    await eventually('the stop after the lease', async () => s.callsOn().length === 3, 20_000);
    const got = s.callsOn();
    expect(got.map((c) => c.action)).toEqual(['stop', 'start', 'stop']);
    expect(got[1]!.atMs).toBeLessThan(vat(until));
    expect(got[2]!.atMs).toBeGreaterThanOrEqual(vat(until));
    expect(got[2]!.atMs).toBeLessThanOrEqual(vat(until) + LATE_MS);
    const status = await getPowerStatus(client, s.name);
    expect(status.overrides).toEqual([]);
    expect(status.recent.find((r) => r.kind === 'override')).toMatchObject({ by: 'alice' });
    expect(status.recent.filter((r) => r.kind === 'override-expired')).toHaveLength(1);
    await deletePowerSchedule(client, s.name);
  });

  it('pause holds a transition back; resume applies it at once', async () => {
    const s = await start(STOPPED_BUT_MONDAY_10_01, '2026-03-02T10:00:00Z');
    await eventually('the first stop', async () => s.callsOn().length === 1);
    const paused = await pausePower(client, s.name, { by: 'bob', reason: 'incident 4711' });
    expect(paused).toMatchObject({ kind: 'pause', by: 'bob', reason: 'incident 4711', note: 'incident 4711' });

    await s.until('2026-03-02T10:01:30Z');
    const held: PowerStatus = await getPowerStatus(client, s.name);
    expect(s.callsOn()).toHaveLength(1);
    expect(held.paused).toMatchObject({ by: 'bob', reason: 'incident 4711', note: 'incident 4711' });
    expect(held.cvms[0]).toMatchObject({ actual: 'stopped', desired: 'running', owed: 'running', deferred: 'paused' });

    const resumedAt = s.scheduleNow();
    const resumed = await resumePower(client, s.name, { by: 'bob', reason: 'incident over' });
    expect(resumed).toMatchObject({ by: 'bob', reason: 'incident over' });
    await eventually('the start after resume', async () => s.callsOn().length === 2);
    const start2 = s.callsOn()[1]!;
    expect(start2.action).toBe('start');
    expect(start2.atMs).toBeLessThan(resumedAt + LATE_MS);
    expect((await getPowerStatus(client, s.name)).paused).toBeUndefined();
    await deletePowerSchedule(client, s.name);
  });

  it('validators refuse bad requests and record nothing; `note` is still accepted for `reason`', async () => {
    // No transition on this calendar, so the only records after the first evaluation are what requests leave.
    const s = await start({ timezone: 'UTC', default: 'stopped' }, '2026-03-02T10:00:00Z');
    const before = await getPowerStatus(client, s.name);
    const refused = (p: Promise<unknown>, message: RegExp) =>
      expect(p).rejects.toSatisfy((e: Error) => e instanceof PowerRequestRejectedError && message.test(e.message));
    await refused(holdPower(client, s.name, 'keepRunning', s.isoIn(-60_000), 'too late'), /not in the future/);
    await refused(holdPower(client, s.name, 'keepStopped', s.isoIn(60_000), {}), /note is required/);
    await refused(skipNextTransition(client, s.name, { by: 'carol' }), /note is required/);
    await refused(resumePower(client, s.name), /not paused/);
    await pausePower(client, s.name);
    await refused(pausePower(client, s.name, 'again'), /already paused since .* \(paused\); resume first/);
    const after = await getPowerStatus(client, s.name);
    // Only the pause left a trace.
    expect(after.recent.map((r) => r.seq)).toEqual([...before.recent.map((r) => r.seq), after.recent.at(-1)!.seq]);
    expect(after.overrides.map((o) => o.kind)).toEqual(['pause']);

    // What older clients send: the reason as `note`, no `by`.
    const legacy = await powerHandle(client, s.name).executeUpdate(powerKeepRunningUntilUpdate, {
      args: [{ until: s.isoIn(120_000), note: 'an old script' }],
    });
    expect(legacy).toMatchObject({ by: 'unknown', reason: 'an old script', note: 'an old script' });
    await deletePowerSchedule(client, s.name);
  });
});

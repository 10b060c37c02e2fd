// The power schedule's pure logic, table-driven: what a status means, what to do about one CVM, what the schedule
// wants once overrides apply, and the bookkeeping helpers. The calendar itself is tested in calendar-*.test.ts.
import { describe, expect, it } from 'vitest';
import type { Calendar } from '../../src/calendar';
import {
  addRecord,
  checkLeaseUntil,
  checkNote,
  type DecideInput,
  decide,
  effectiveDesired,
  nextPowerChange,
  partitionExpired,
  phaseOf,
  planSkip,
  type RecordBook,
  realDelayMs,
  retryDelayMs,
  scheduleNow,
} from '../../src/workflows/power-decide';
import type { Override } from '../../src/workflows/power-types';

describe('phaseOf', () => {
  it.each([
    ['running', false, 'running'],
    ['RUNNING', false, 'running'],
    ['running', true, 'busy'],
    ['stopped', false, 'stopped'],
    ['exited', false, 'stopped'],
    ['shutoff', false, 'stopped'],
    ['stopped', true, 'busy'],
    ['starting', true, 'starting'],
    ['restarting', true, 'starting'],
    ['creating', true, 'starting'],
    ['stopping', true, 'stopping'],
    ['shutting_down', true, 'stopping'],
    ['updating', true, 'busy'],
    ['deleting', true, 'missing'],
    ['error', false, 'failed'],
    ['unknown', false, 'failed'],
  ] as const)('%s (in progress: %s) is %s', (status, inProgress, phase) => {
    expect(phaseOf(status, inProgress)).toBe(phase);
  });
});

describe('decide', () => {
  const NOW = 1_000_000;
  const base: DecideInput = {
    desired: 'running',
    restartDue: false,
    phase: 'running',
    mode: 'enforce',
    owed: false,
    nowMs: NOW,
    graceMs: 300_000,
    stuck: false,
    paused: false,
    locked: false,
    inFlight: false,
  };
  type Expect = { kind: string; drift?: boolean; settled?: boolean; defer?: string; reason?: RegExp };

  it.each<[string, Partial<DecideInput>, Expect]>([
    ['in the desired state', {}, { kind: 'none', drift: false, settled: true }],
    ['on its way to the desired state', { phase: 'starting' }, { kind: 'none', settled: true }],
    ['on its way, but the last action on it failed', { phase: 'starting', stuck: true, owed: true }, { kind: 'start' }],
    ['owed a stop by a transition', { desired: 'stopped', owed: true }, { kind: 'stop', drift: false }],
    ['owed a start by a transition', { phase: 'stopped', owed: true }, { kind: 'start', drift: false }],
    ['owed, in transitions mode too', { phase: 'stopped', owed: true, mode: 'transitions' }, { kind: 'start' }],
    [
      'transitions: a manual start is left alone',
      { desired: 'stopped', mode: 'transitions', driftSinceMs: NOW - 3_600_000 },
      { kind: 'none', drift: true, settled: false, reason: /left alone until the next transition/ },
    ],
    [
      'enforce: drift seen for the first time waits for the grace period',
      { desired: 'stopped' },
      { kind: 'none', drift: true, reason: /grace period/ },
    ],
    [
      'enforce: drift shorter than the grace period waits',
      { desired: 'stopped', driftSinceMs: NOW - 299_999 },
      { kind: 'none', drift: true },
    ],
    [
      'enforce: drift that lasted the grace period is corrected',
      { desired: 'stopped', driftSinceMs: NOW - 300_000 },
      { kind: 'stop', drift: true, reason: /grace period/ },
    ],
    ['enforce with grace 0 corrects at once', { desired: 'stopped', graceMs: 0 }, { kind: 'stop', drift: true }],
    [
      'enforce: a crashed CVM is started after the grace period',
      { phase: 'failed', driftSinceMs: NOW - 300_000 },
      { kind: 'start', drift: true },
    ],
    ['restart window, running', { restartDue: true }, { kind: 'restart', reason: /restart window/ }],
    ['restart window, stopped: a start is the restart', { restartDue: true, phase: 'stopped' }, { kind: 'start' }],
    ['restart window, booting: waits for the boot', { restartDue: true, phase: 'starting' }, { kind: 'start' }],
    ['owed but paused', { desired: 'stopped', owed: true, paused: true }, { kind: 'defer', defer: 'paused' }],
    ['paused, drift not due: reported only', { desired: 'stopped', paused: true }, { kind: 'none', drift: true }],
    [
      'owed but a deployment holds the app',
      { desired: 'stopped', owed: true, locked: true },
      { kind: 'defer', defer: 'locked' },
    ],
    [
      'owed, back-off running',
      { desired: 'stopped', owed: true, retryAtMs: NOW + 1 },
      { kind: 'defer', defer: 'backoff' },
    ],
    ['owed, back-off over', { desired: 'stopped', owed: true, retryAtMs: NOW }, { kind: 'stop' }],
    [
      'paused wins over locked and back-off',
      { desired: 'stopped', owed: true, paused: true, locked: true, retryAtMs: NOW + 1 },
      { kind: 'defer', defer: 'paused' },
    ],
    [
      'an action is already in flight',
      { desired: 'stopped', owed: true, inFlight: true },
      { kind: 'none', drift: false, settled: false },
    ],
    ['a CVM being deleted', { phase: 'missing', owed: true }, { kind: 'none', settled: false }],
    [
      'busy with someone else’s operation',
      { phase: 'busy' },
      { kind: 'none', drift: false, reason: /another operation/ },
    ],
    [
      'busy, but owed: act (the action waits out 409)',
      { phase: 'busy', desired: 'stopped', owed: true },
      { kind: 'stop' },
    ],
    ['stopping while running is owed', { phase: 'stopping', owed: true }, { kind: 'start' }],
  ])('%s', (_name, patch, want) => {
    const d = decide({ ...base, ...patch });
    expect(d.kind).toBe(want.kind);
    if (want.drift !== undefined) expect(d.drift).toBe(want.drift);
    if (want.settled !== undefined) expect(d.settled).toBe(want.settled);
    if (want.defer !== undefined) expect(d.defer).toBe(want.defer);
    if (want.reason) expect(d.reason).toMatch(want.reason);
  });
});

// Europe/Berlin in March 2026 is UTC+1: Monday 2026-03-02 08:00 local = 07:00Z.
const at = (isoText: string) => Date.parse(isoText);
const calendar: Calendar = {
  timezone: 'Europe/Berlin',
  default: 'stopped',
  periods: [{ days: ['mon-fri'], start: '08:00', end: '18:00', state: 'running', note: 'office' }],
  windows: [
    { start: '2026-03-02T12:00', end: '2026-03-02T12:10', state: 'restart', note: 'kernel' },
    { start: '2026-03-03T12:00', end: '2026-03-03T13:00', state: 'stopped', note: 'maintenance' },
  ],
};

const override = (o: Partial<Override> & Pick<Override, 'kind'>): Override => ({
  id: 'o1',
  by: 'test',
  reason: 'n',
  at: '1970-01-01T00:00:00.000Z',
  createdAtMs: 0,
  ...o,
});

describe('effectiveDesired', () => {
  it('follows the calendar without overrides', () => {
    expect(effectiveDesired(calendar, [], at('2026-03-02T08:00:00Z'))).toMatchObject({
      state: 'running',
      key: 'running',
      cause: "calendar period #0 'office'",
    });
    expect(effectiveDesired(calendar, [], at('2026-03-02T06:59:59Z'))).toMatchObject({
      state: 'stopped',
      cause: 'calendar default',
    });
  });

  it('a restart window wants running and names itself in the key', () => {
    const eff = effectiveDesired(calendar, [], at('2026-03-02T11:05:00Z'));
    expect(eff).toMatchObject({ state: 'running', restartKey: 'window:2026-03-02T12:00/2026-03-02T12:10' });
    expect(eff.key).not.toBe('running');
  });

  it('a keep lease wins over the calendar until it expires', () => {
    const keep = override({ kind: 'keepStopped', untilMs: at('2026-03-02T09:00:00Z') });
    expect(effectiveDesired(calendar, [keep], at('2026-03-02T08:59:59Z'))).toMatchObject({
      state: 'stopped',
      key: 'stopped',
    });
    expect(effectiveDesired(calendar, [keep], at('2026-03-02T08:59:59Z')).cause).toMatch(
      /keepStopped until 2026-03-02T09:00:00.000Z \(n\)/,
    );
    expect(effectiveDesired(calendar, [keep], at('2026-03-02T09:00:00Z'))).toMatchObject({ state: 'running' });
  });

  it('the latest keep lease wins', () => {
    const a = override({ id: 'o1', kind: 'keepStopped', untilMs: at('2026-03-02T20:00:00Z') });
    const b = override({ id: 'o2', kind: 'keepRunning', untilMs: at('2026-03-02T20:00:00Z') });
    expect(effectiveDesired(calendar, [a, b], at('2026-03-02T19:00:00Z')).state).toBe('running');
  });

  it('a skip holds the previous state over the skipped transition, until the one after', () => {
    const plan = planSkip(calendar, [], at('2026-03-02T16:00:00Z'));
    expect(plan).toEqual({
      fromMs: at('2026-03-02T17:00:00Z'),
      untilMs: at('2026-03-03T07:00:00Z'),
      holdState: 'running',
      skippedState: 'stopped',
    });
    const skip = override({ kind: 'skip', ...plan });
    expect(effectiveDesired(calendar, [skip], at('2026-03-02T16:59:59Z')).state).toBe('running');
    expect(effectiveDesired(calendar, [skip], at('2026-03-02T23:00:00Z'))).toMatchObject({
      state: 'running',
      key: 'running',
    });
    expect(effectiveDesired(calendar, [skip], at('2026-03-03T07:00:00Z')).cause).toMatch(/^calendar period/);
    expect(() => planSkip(calendar, [skip], at('2026-03-02T16:00:00Z'))).toThrow(/already skipped/);
  });
});

describe('nextPowerChange', () => {
  it('skips label changes that keep the power state, but not the start of a restart window', () => {
    // 11:00Z (12:00 local) enters the restart window; its end at 12:10 local is still running: not a change.
    expect(nextPowerChange(calendar, at('2026-03-02T09:00:00Z'))).toMatchObject({
      atMs: at('2026-03-02T11:00:00Z'),
      state: 'restart',
    });
    expect(nextPowerChange(calendar, at('2026-03-02T11:00:00Z'))).toMatchObject({
      atMs: at('2026-03-02T17:00:00Z'),
      state: 'stopped',
    });
  });

  it('finds nothing in a calendar that never changes', () => {
    expect(nextPowerChange({ timezone: 'UTC', default: 'running' }, 0)).toBeUndefined();
  });
});

describe('override checks', () => {
  const now = at('2026-03-02T08:00:00Z');
  it.each([
    ['2026-03-02T09:00:00Z', at('2026-03-02T09:00:00Z')],
    ['2026-03-02T10:00+01:00', at('2026-03-02T09:00:00Z')],
  ])('accepts %s', (text, ms) => {
    expect(checkLeaseUntil(text, now)).toBe(ms);
  });

  it.each([
    ['2026-03-02T08:00:00Z', /not in the future/],
    ['2026-03-01T09:00:00Z', /not in the future/],
    ['2026-03-02T09:00', /with an offset/],
    ['tomorrow', /ISO 8601/],
    [42, /ISO 8601/],
    ['2026-06-02T09:00:00Z', /more than 90 days/],
    ['2026-02-30T09:00:00Z', /not a real date-time/],
  ])('rejects %s', (text, message) => {
    expect(() => checkLeaseUntil(text, now)).toThrow(message);
  });

  it('requires a note where asked, and keeps it short', () => {
    expect(checkNote('  release night ', true)).toBe('release night');
    expect(checkNote(undefined, false)).toBe('');
    expect(() => checkNote('', true)).toThrow(/note is required/);
    expect(() => checkNote(undefined, true)).toThrow(/note is required/);
    expect(() => checkNote('x'.repeat(501), true)).toThrow(/under 500/);
  });

  it('expires leases at their until, never pause', () => {
    const lease = override({ id: 'a', kind: 'keepRunning', untilMs: 100 });
    const pause = override({ id: 'b', kind: 'pause' });
    expect(partitionExpired([lease, pause], 99)).toEqual({ active: [lease, pause], expired: [] });
    expect(partitionExpired([lease, pause], 100)).toEqual({ active: [pause], expired: [lease] });
  });
});

describe('clock, back-off and records', () => {
  it('maps real time to the schedule clock and back, never early', () => {
    const clock = { realAnchorMs: 1_000, virtualAnchorMs: 50_000, speed: 60 };
    expect(scheduleNow(clock, 2_000)).toBe(110_000);
    expect(scheduleNow(undefined, 2_000)).toBe(2_000);
    expect(realDelayMs(clock, 60_000)).toBe(1_000);
    expect(realDelayMs(clock, 61)).toBe(2);
    expect(realDelayMs(undefined, 0)).toBe(1);
  });

  it('doubles the back-off up to its maximum', () => {
    const retry = { initialIntervalMs: 1_000, maximumIntervalMs: 5_000 };
    expect([1, 2, 3, 4, 100].map((n) => retryDelayMs(n, retry))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
  });

  it('keeps the newest records and folds the rest into the summary', () => {
    const book: RecordBook = { records: [], summary: { folded: 0, byKind: {} }, nextSeq: 1 };
    for (let i = 0; i < 5; i++) addRecord(book, { atMs: i * 10, kind: i % 2 ? 'drift' : 'action', reason: `r${i}` }, 3);
    expect(book.records.map((r) => [r.seq, r.reason])).toEqual([
      [3, 'r2'],
      [4, 'r3'],
      [5, 'r4'],
    ]);
    expect(book.summary).toEqual({ folded: 2, sinceMs: 0, untilMs: 10, byKind: { action: 1, drift: 1 } });
  });
});

// The power schedule's update validators and continue-as-new carry-over, as the pure functions they are: a state
// (spec and overrides), a request and the schedule's clock in, a refusal out — no server, no worker.
import { describe, expect, it } from 'vitest';
import type { Calendar } from '../../src/calendar';
import { carriedFrom, upgradeOverride } from '../../src/workflows/power-carry';
import type { CarriedState, LegacyOverride, Override, PowerConfig } from '../../src/workflows/power-types';
import {
  checkPowerConfig,
  type PowerRequestState,
  validateApply,
  validateLease,
  validatePause,
  validateResume,
  validateSkip,
} from '../../src/workflows/power-validators';

const at = (text: string) => Date.parse(text);
const NOW = at('2026-03-02T10:00:00Z');

const calendar: Calendar = {
  timezone: 'UTC',
  default: 'stopped',
  periods: [{ days: ['mon'], start: '12:00', end: '13:00', state: 'running' }],
  windows: [],
};

const config: PowerConfig = {
  name: 'office',
  targets: { apps: ['web'], cvms: [] },
  calendar,
  mode: 'transitions',
  graceMs: 60_000,
  driftCheckIntervalMs: 300_000,
  stop: { action: 'shutdown', shutdownTimeoutMs: 60_000 },
  waitForState: true,
  waitTimeoutMs: 300_000,
  onBusy: 'defer',
  retry: { initialIntervalMs: 1_000, maximumIntervalMs: 60_000 },
};

const audit = { by: 'alice', reason: 'incident 4711', at: '2026-03-02T09:00:00.000Z' };
const pause: Override = { id: 'o1', kind: 'pause', createdAtMs: at('2026-03-02T09:00:00Z'), ...audit };
const state = (overrides: Override[] = []): PowerRequestState => ({ config, overrides });

describe('power update validators', () => {
  it('accept a lease with a reason (or its older name, note) and an end within 90 days', () => {
    for (const request of [
      { until: '2026-03-02T18:00:00Z', reason: 'release night', by: 'bob' },
      { until: '2026-03-02T18:00:00+01:00', note: 'release night' },
    ]) {
      expect(() => validateLease(state(), request, NOW)).not.toThrow();
    }
  });

  it.each([
    [{ until: '2026-03-02T09:59:00Z', reason: 'x' }, /not in the future/],
    [{ until: '2026-03-02T18:00', reason: 'x' }, /with an offset/],
    [{ until: '2026-07-01T00:00:00Z', reason: 'x' }, /more than 90 days/],
    [{ until: '2026-03-02T18:00:00Z' }, /note is required/],
    [{ until: '2026-03-02T18:00:00Z', reason: '   ', note: 'hidden behind an empty reason' }, /note is required/],
    [{ until: '2026-03-02T18:00:00Z', reason: 'x'.repeat(501) }, /under 500/],
  ])('refuse the lease %j', (request, message) => {
    expect(() => validateLease(state(), request, NOW)).toThrow(message);
  });

  it('refuse a skip without a reason, or of a transition already skipped', () => {
    expect(() => validateSkip(state(), { reason: 'no demo today' }, NOW)).not.toThrow();
    expect(() => validateSkip(state(), {}, NOW)).toThrow(/note is required/);
    const skipped: Override = {
      id: 'o2',
      kind: 'skip',
      createdAtMs: NOW,
      fromMs: at('2026-03-02T12:00:00Z'),
      ...audit,
    };
    expect(() => validateSkip(state([skipped]), { reason: 'again' }, NOW)).toThrow(/already skipped/);
  });

  it('pause once, resume only while paused; the reason is optional for both', () => {
    expect(() => validatePause(state(), {}, NOW)).not.toThrow();
    expect(() => validatePause(state([pause]), { reason: 'again' }, NOW)).toThrow(
      /already paused since 2026-03-02T09:00:00.000Z \(incident 4711\); resume first/,
    );
    expect(() => validateResume(state(), {}, NOW)).toThrow(/not paused/);
    expect(() => validateResume(state([pause]), {}, NOW)).not.toThrow();
    expect(() => validateResume(state([pause]), { note: 42 as unknown as string }, NOW)).toThrow(/must be text/);
  });

  it('apply: the same schedule only, with a valid spec', () => {
    expect(() => validateApply(state(), { ...config, mode: 'enforce' }, NOW)).not.toThrow();
    expect(() => validateApply(state(), { ...config, name: 'other' }, NOW)).toThrow(/a different schedule/);
    expect(() => validateApply(state(), { ...config, targets: { apps: [], cvms: [] } }, NOW)).toThrow(/no targets/);
    expect(() => checkPowerConfig({ ...config, calendar: { ...calendar, timezone: 'Mars/Olympus' } })).toThrow(
      /calendar\.timezone/,
    );
  });
});

describe('power continue-as-new carry-over', () => {
  it('starts empty', () => {
    expect(carriedFrom(undefined)).toMatchObject({ overrides: [], records: [], nextSeq: 1, runs: 0, applies: 0 });
  });

  it('takes over overrides carried with a note by runs from before the audit fields, as {by, reason, at}', () => {
    const legacy: LegacyOverride = { id: 'o3', kind: 'keepRunning', note: 'demo', createdAtMs: NOW, untilMs: NOW + 1 };
    const carried = { ...carriedFrom(undefined), overrides: [legacy, pause] } as unknown as CarriedState;
    expect(carriedFrom(carried).overrides).toEqual([
      {
        id: 'o3',
        kind: 'keepRunning',
        createdAtMs: NOW,
        untilMs: NOW + 1,
        by: 'unknown',
        reason: 'demo',
        at: '2026-03-02T10:00:00.000Z',
      },
      pause,
    ]);
    expect(upgradeOverride(pause)).toBe(pause);
  });
});

import { describe, expect, it } from 'vitest';
import {
  type Calendar,
  type Change,
  changesBetween,
  DEFAULT_HORIZON_MS,
  desiredAt,
  nextChange,
} from '../../src/calendar/index';

const utc = (iso: string) => Date.parse(iso.endsWith('Z') ? iso : `${iso}Z`);
const minute = (ms: number) => new Date(ms).toISOString().slice(0, 16);
const summary = (changes: Change[]) => changes.map((c) => `${minute(c.atMs)} ${c.state}`);
const DAY_MS = 86_400_000;

const officeHours: Calendar = {
  timezone: 'Europe/Berlin',
  periods: [{ days: ['mon-fri'], start: '08:00', end: '18:00', state: 'running', note: 'office hours' }],
  default: 'stopped',
};

describe('weekly periods', () => {
  it('a week of office hours in Europe/Berlin yields exactly 10 changes', () => {
    // Monday 2026-06-08 00:00 CEST to the next Monday 00:00 CEST.
    const changes = changesBetween(officeHours, utc('2026-06-07T22:00'), utc('2026-06-14T22:00'));
    expect(summary(changes)).toEqual([
      '2026-06-08T06:00 running',
      '2026-06-08T16:00 stopped',
      '2026-06-09T06:00 running',
      '2026-06-09T16:00 stopped',
      '2026-06-10T06:00 running',
      '2026-06-10T16:00 stopped',
      '2026-06-11T06:00 running',
      '2026-06-11T16:00 stopped',
      '2026-06-12T06:00 running',
      '2026-06-12T16:00 stopped',
    ]);
    expect(changes[0]!.source).toEqual({ kind: 'period', index: 0, note: 'office hours' });
    expect(changes[1]!.source).toEqual({ kind: 'default' });
  });

  it('starts inclusive and ends exclusive', () => {
    expect(desiredAt(officeHours, utc('2026-06-08T05:59:59.999')).state).toBe('stopped');
    expect(desiredAt(officeHours, utc('2026-06-08T06:00')).state).toBe('running');
    expect(desiredAt(officeHours, utc('2026-06-08T15:59:59.999')).state).toBe('running');
    expect(desiredAt(officeHours, utc('2026-06-08T16:00')).state).toBe('stopped');
    expect(desiredAt(officeHours, utc('2026-06-13T10:00'))).toEqual({ state: 'stopped', source: { kind: 'default' } });
  });

  it('a period whose end is not after its start crosses midnight, on the day it starts', () => {
    const nights: Calendar = {
      timezone: 'UTC',
      periods: [{ days: ['fri'], start: '22:00', end: '06:00', state: 'batch' }],
      default: 'idle',
    };
    // Thursday 2026-06-11 through Sunday 2026-06-14: only Friday night runs, into Saturday morning.
    expect(summary(changesBetween(nights, utc('2026-06-11T00:00'), utc('2026-06-15T00:00')))).toEqual([
      '2026-06-12T22:00 batch',
      '2026-06-13T06:00 idle',
    ]);
    expect(desiredAt(nights, utc('2026-06-12T03:00')).state).toBe('idle');
  });

  it('end 24:00 runs to midnight, and start equal to end runs a full 24 hours', () => {
    const calendar: Calendar = {
      timezone: 'UTC',
      periods: [
        { days: ['mon'], start: '20:00', end: '24:00', state: 'late' },
        { days: ['wed'], start: '09:00', end: '09:00', state: 'day' },
        { days: ['sat'], start: '00:00', end: '24:00', state: 'weekend' },
      ],
      default: 'off',
    };
    expect(summary(changesBetween(calendar, utc('2026-06-08T00:00'), utc('2026-06-15T00:00')))).toEqual([
      '2026-06-08T20:00 late',
      '2026-06-09T00:00 off',
      '2026-06-10T09:00 day',
      '2026-06-11T09:00 off',
      '2026-06-13T00:00 weekend',
      '2026-06-14T00:00 off',
    ]);
  });

  it('back-to-back periods and periods over midnight with the same state make no change at the seam', () => {
    const calendar: Calendar = {
      timezone: 'UTC',
      periods: [
        { days: ['mon'], start: '08:00', end: '12:00', state: 'on' },
        { days: ['mon'], start: '12:00', end: '24:00', state: 'on' },
        { days: ['tue'], start: '00:00', end: '03:00', state: 'on' },
      ],
      default: 'off',
    };
    expect(summary(changesBetween(calendar, utc('2026-06-08T00:00'), utc('2026-06-10T00:00')))).toEqual([
      '2026-06-08T08:00 on',
      '2026-06-09T03:00 off',
    ]);
    expect(nextChange(calendar, utc('2026-06-08T09:00'))?.atMs).toBe(utc('2026-06-09T03:00'));
    expect(desiredAt(calendar, utc('2026-06-09T01:00')).source).toEqual({ kind: 'period', index: 2 });
  });
});

describe('precedence', () => {
  it('among overlapping periods the later one in the list wins, in both directions', () => {
    const calendar: Calendar = {
      timezone: 'UTC',
      periods: [
        { days: ['mon'], start: '08:00', end: '18:00', state: 'running' },
        { days: ['mon'], start: '12:00', end: '13:00', state: 'lunch' },
        { days: ['mon'], start: '17:00', end: '20:00', state: 'running' },
        { days: ['mon'], start: '06:00', end: '09:00', state: 'warmup' },
      ],
      default: 'stopped',
    };
    expect(summary(changesBetween(calendar, utc('2026-06-08T00:00'), utc('2026-06-09T00:00')))).toEqual([
      '2026-06-08T06:00 warmup',
      '2026-06-08T09:00 running',
      '2026-06-08T12:00 lunch',
      '2026-06-08T13:00 running',
      '2026-06-08T20:00 stopped',
    ]);
    // 09:00–12:00 belongs to period #0 (the only one active); 17:00–18:00 to #2, the later of #0 and #2.
    expect(desiredAt(calendar, utc('2026-06-08T10:00')).source).toEqual({ kind: 'period', index: 0 });
    expect(desiredAt(calendar, utc('2026-06-08T17:30')).source).toEqual({ kind: 'period', index: 2 });
  });

  it('windows beat date ranges, which beat periods, which beat the default', () => {
    const calendar: Calendar = {
      timezone: 'UTC',
      periods: [{ days: ['mon-sun'], start: '00:00', end: '24:00', state: 'running', note: 'always' }],
      dates: [{ from: '2026-12-24', to: '2026-12-26', state: 'frozen', note: 'holidays' }],
      windows: [
        { start: '2026-12-25T10:00', end: '2026-12-25T11:00', state: 'maintenance', note: 'patch' },
        { start: '2026-12-20T00:00', end: '2026-12-20T01:00', state: 'maintenance' },
      ],
      default: 'stopped',
    };
    expect(desiredAt(calendar, utc('2026-12-23T12:00')).source).toEqual({ kind: 'period', index: 0, note: 'always' });
    expect(desiredAt(calendar, utc('2026-12-25T09:00')).source).toEqual({ kind: 'date', index: 0, note: 'holidays' });
    expect(desiredAt(calendar, utc('2026-12-25T10:30')).source).toEqual({ kind: 'window', index: 0, note: 'patch' });
    expect(summary(changesBetween(calendar, utc('2026-12-19T00:00'), utc('2026-12-31T00:00')))).toEqual([
      '2026-12-20T00:00 maintenance',
      '2026-12-20T01:00 running',
      '2026-12-24T00:00 frozen',
      '2026-12-25T10:00 maintenance',
      '2026-12-25T11:00 frozen',
      '2026-12-27T00:00 running',
    ]);
    expect(desiredAt({ ...calendar, periods: [] }, utc('2026-12-23T12:00')).source).toEqual({ kind: 'default' });
  });

  it('among overlapping windows and among overlapping date ranges the later entry wins', () => {
    const calendar: Calendar = {
      timezone: 'UTC',
      windows: [
        { start: '2026-03-01T00:00', end: '2026-03-01T12:00', state: 'a' },
        { start: '2026-03-01T06:00', end: '2026-03-01T08:00', state: 'b' },
      ],
      dates: [
        { from: '2026-04-01', to: '2026-04-10', state: 'c' },
        { from: '2026-04-03', to: '2026-04-04', state: 'd' },
        { from: '2026-04-04', to: '2026-04-05', state: 'c' },
      ],
      default: 'z',
    };
    expect(summary(changesBetween(calendar, utc('2026-02-28T00:00'), utc('2026-04-30T00:00')))).toEqual([
      '2026-03-01T00:00 a',
      '2026-03-01T06:00 b',
      '2026-03-01T08:00 a',
      '2026-03-01T12:00 z',
      '2026-04-01T00:00 c',
      '2026-04-03T00:00 d',
      '2026-04-04T00:00 c',
      '2026-04-11T00:00 z',
    ]);
    expect(desiredAt(calendar, utc('2026-04-04T12:00')).source).toEqual({ kind: 'date', index: 2 });
  });
});

describe('one-off windows and date ranges', () => {
  it('a window crosses midnight, a month end and a year end in local time', () => {
    const calendar: Calendar = {
      timezone: 'Asia/Kolkata',
      windows: [
        { start: '2026-01-31T23:30', end: '2026-02-01T01:00', state: 'maintenance' },
        { start: '2026-12-31T22:00', end: '2027-01-01T02:00', state: 'frozen', note: 'new year' },
      ],
      default: 'open',
    };
    expect(summary(changesBetween(calendar, utc('2026-01-01T00:00'), utc('2027-12-31T00:00')))).toEqual([
      '2026-01-31T18:00 maintenance',
      '2026-01-31T19:30 open',
      '2026-12-31T16:30 frozen',
      '2026-12-31T20:30 open',
    ]);
  });

  it('a date range covers whole local days, both ends inclusive, across a year end', () => {
    const calendar: Calendar = {
      timezone: 'America/New_York',
      dates: [
        { from: '2026-12-24', to: '2027-01-02', state: 'frozen', note: 'holiday freeze' },
        { from: '2027-02-14', to: '2027-02-14', state: 'frozen' },
      ],
      default: 'open',
    };
    expect(summary(changesBetween(calendar, utc('2026-12-01T00:00'), utc('2027-03-01T00:00')))).toEqual([
      '2026-12-24T05:00 frozen',
      '2027-01-03T05:00 open',
      '2027-02-14T05:00 frozen',
      '2027-02-15T05:00 open',
    ]);
  });
});

describe('nextChange', () => {
  it('looks strictly after the given instant', () => {
    const at = utc('2026-06-08T06:00');
    expect(nextChange(officeHours, at - 1)).toEqual({
      atMs: at,
      state: 'running',
      source: { kind: 'period', index: 0, note: 'office hours' },
    });
    expect(nextChange(officeHours, at)?.atMs).toBe(utc('2026-06-08T16:00'));
  });

  it('skips boundaries that keep the state, and spans a weekend', () => {
    const calendar: Calendar = {
      timezone: 'UTC',
      periods: [
        { days: ['mon-fri'], start: '08:00', end: '18:00', state: 'running' },
        { days: ['fri'], start: '18:00', end: '20:00', state: 'stopped', note: 'explicit stop' },
      ],
      default: 'stopped',
    };
    expect(nextChange(calendar, utc('2026-06-12T17:00'))?.atMs).toBe(utc('2026-06-12T18:00'));
    expect(nextChange(calendar, utc('2026-06-12T18:30'))?.atMs).toBe(utc('2026-06-15T08:00'));
  });

  it('gives up after the horizon, and the default horizon covers a yearly date range', () => {
    const yearly: Calendar = {
      timezone: 'UTC',
      dates: [{ from: '2027-05-01', to: '2027-05-01', state: 'on' }],
      default: 'off',
    };
    const from = utc('2026-05-02T00:00');
    expect(nextChange(yearly, from)?.atMs).toBe(utc('2027-05-01T00:00'));
    expect(nextChange(yearly, from, { horizonMs: 300 * DAY_MS })).toBeUndefined();
    expect(nextChange(yearly, utc('2027-05-01T00:00') - DEFAULT_HORIZON_MS - 1)).toBeUndefined();
    expect(nextChange(yearly, utc('2027-05-01T00:00') - DEFAULT_HORIZON_MS)?.state).toBe('on');
    expect(nextChange({ timezone: 'UTC', default: 'off' }, from)).toBeUndefined();
  });

  it('rejects instants and horizons that are not numbers', () => {
    expect(() => desiredAt(officeHours, Number.NaN)).toThrow(RangeError);
    expect(() => nextChange(officeHours, 0, { horizonMs: 0 })).toThrow(/horizonMs/);
    expect(() => nextChange(officeHours, 0, { horizonMs: Number.POSITIVE_INFINITY })).toThrow(/horizonMs/);
  });
});

describe('changesBetween', () => {
  it('covers (from, to]: a change exactly at `from` is excluded, one exactly at `to` included', () => {
    const from = utc('2026-06-08T06:00');
    const to = utc('2026-06-09T06:00');
    expect(summary(changesBetween(officeHours, from, to))).toEqual([
      '2026-06-08T16:00 stopped',
      '2026-06-09T06:00 running',
    ]);
    expect(changesBetween(officeHours, from, from)).toEqual([]);
    expect(() => changesBetween(officeHours, to, from)).toThrow(RangeError);
  });

  it('runs over years without a horizon', () => {
    const changes = changesBetween(officeHours, utc('2025-12-31T23:00'), utc('2028-12-31T23:00'));
    // Weekdays in 2026, 2027 and 2028 (261 + 261 + 260), two changes each.
    expect(changes).toHaveLength(2 * (261 + 261 + 260));
  });
});

describe('speed', () => {
  it('evaluates 10,000 instants spread over ten years in well under a second, cold', () => {
    // A fresh calendar object: nothing is cached yet, and instants ten years apart rarely share a cached day.
    const calendar: Calendar = {
      ...officeHours,
      periods: [...officeHours.periods!, { days: ['sat'], start: '22:00', end: '06:00', state: 'backup' }],
    };
    const start = utc('2020-01-01T00:00');
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) desiredAt(calendar, start + ((i * 7_919 * 60_000) % (3_650 * DAY_MS)));
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

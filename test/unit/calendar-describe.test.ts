import { describe, expect, it } from 'vitest';
import {
  type Calendar,
  describeChange,
  describeDesired,
  describeSource,
  formatInstant,
  nextChange,
} from '../../src/calendar/index';

const utc = (iso: string) => Date.parse(`${iso}Z`);

describe('describe', () => {
  it('renders a change in zone-local time and UTC, with its source', () => {
    const calendar: Calendar = {
      timezone: 'Europe/Berlin',
      periods: [{ days: ['mon-fri'], start: '08:00', end: '18:00', state: 'running', note: 'office hours' }],
      default: 'stopped',
    };
    // Sunday 2026-03-29 is the spring-forward day; the next change is Monday 08:00, now in summer time.
    const change = nextChange(calendar, utc('2026-03-28T12:00'))!;
    expect(describeChange(calendar, change)).toBe(
      "Mon 2026-03-30 08:00 CEST (06:00 UTC) → running, period #0 'office hours'",
    );
  });

  it.each([
    ['Europe/Berlin', '2026-10-25T00:30', 'Sun 2026-10-25 02:30 CEST (00:30 UTC)'],
    ['Europe/Berlin', '2026-10-25T01:30', 'Sun 2026-10-25 02:30 CET (01:30 UTC)'],
    ['America/New_York', '2026-11-01T05:30', 'Sun 2026-11-01 01:30 EDT (05:30 UTC)'],
    ['America/New_York', '2026-11-01T06:30', 'Sun 2026-11-01 01:30 EST (06:30 UTC)'],
    ['Australia/Sydney', '2026-10-03T16:00', 'Sun 2026-10-04 03:00 AEDT (2026-10-03 16:00 UTC)'],
    ['Australia/Lord_Howe', '2026-04-04T15:15', 'Sun 2026-04-05 01:45 LHST (2026-04-04 15:15 UTC)'],
    ['Asia/Kolkata', '2026-01-15T03:30', 'Thu 2026-01-15 09:00 IST (03:30 UTC)'],
    ['Asia/Kathmandu', '2026-12-31T18:15', 'Fri 2027-01-01 00:00 UTC+05:45 (2026-12-31 18:15 UTC)'],
    ['Pacific/Chatham', '2026-09-26T14:00', 'Sun 2026-09-27 03:45 CHADT (2026-09-26 14:00 UTC)'],
    ['UTC', '2026-06-08T06:00:30', 'Mon 2026-06-08 06:00:30 UTC (06:00:30 UTC)'],
  ])('formats %s at %s', (timezone, iso, expected) => {
    expect(formatInstant(timezone, utc(iso))).toBe(expected);
  });

  it('names every kind of source', () => {
    expect(describeSource({ kind: 'default' })).toBe('default');
    expect(describeSource({ kind: 'window', index: 2 })).toBe('window #2');
    expect(describeSource({ kind: 'date', index: 1, note: 'year-end freeze' })).toBe("date range #1 'year-end freeze'");
    expect(describeDesired({ state: 'stopped', source: { kind: 'period', index: 0, note: 'nights' } })).toBe(
      "stopped, period #0 'nights'",
    );
  });

  it('rejects an unknown zone instead of printing "Invalid DateTime"', () => {
    expect(() => formatInstant('Europe/Berln', 0)).toThrow('"Europe/Berln" is not an IANA time zone');
  });
});

import { describe, expect, it } from 'vitest';
import {
  type Calendar,
  CalendarValidationError,
  desiredAt,
  parseCalendar,
  safeParseCalendar,
} from '../../src/calendar/index';

const valid = {
  timezone: 'Europe/Berlin',
  periods: [{ days: ['mon-fri'], start: '08:00', end: '18:00', state: 'running', note: 'office hours' }],
  windows: [{ start: '2026-12-31T22:00', end: '2027-01-01T02:00', state: 'stopped', note: 'new year' }],
  dates: [{ from: '2026-12-24', to: '2026-12-26', state: 'stopped' }],
  default: 'stopped',
};

function issuesOf(input: unknown): string[] {
  const result = safeParseCalendar(input);
  if (result.ok) throw new Error('expected the calendar to be rejected');
  return result.issues.map((issue) => `${issue.path}: ${issue.message}`);
}

const withPeriod = (period: Record<string, unknown>) => ({
  timezone: 'UTC',
  periods: [{ days: ['mon'], start: '08:00', end: '18:00', state: 'on', ...period }],
  default: 'off',
});
const withWindow = (window: Record<string, unknown>) => ({
  timezone: 'UTC',
  windows: [{ start: '2026-01-01T00:00', end: '2026-01-02T00:00', state: 'on', ...window }],
  default: 'off',
});
const withDates = (range: Record<string, unknown>) => ({
  timezone: 'UTC',
  dates: [{ from: '2026-01-01', to: '2026-01-02', state: 'on', ...range }],
  default: 'off',
});

describe('calendar schema', () => {
  it('accepts a full calendar unchanged, and one with only a zone and a default', () => {
    expect(parseCalendar(valid)).toEqual(valid);
    expect(parseCalendar({ timezone: 'Asia/Kathmandu', default: 'open' })).toEqual({
      timezone: 'Asia/Kathmandu',
      default: 'open',
    });
  });

  it.each([
    ['an unknown zone', { ...valid, timezone: 'Europe/Berln' }, 'timezone: "Europe/Berln" is not an IANA time zone'],
    ['a missing zone', { default: 'off' }, 'timezone: is required'],
    ['a zone that is not a string', { timezone: 1, default: 'off' }, 'timezone: must be an IANA time zone'],
    ['a missing default', { timezone: 'UTC' }, 'default: is required'],
    ['an empty default', { timezone: 'UTC', default: '' }, 'default: must be a non-empty label'],
    ['a misspelt field', { ...valid, peroids: [] }, 'peroids: is not a known field'],
    ['a misspelt period field', withPeriod({ stat: 'on' }), 'periods[0].stat: is not a known field'],
    ['periods that are not a list', { ...valid, periods: {} }, 'periods: must be a list of periods'],
    ['no days', withPeriod({ days: [] }), 'periods[0].days: must name at least one day'],
    ['a full day name', withPeriod({ days: ['mon', 'friday'] }), 'periods[0].days[1]: "friday" is not a day'],
    ['a capitalised day', withPeriod({ days: ['Mon'] }), 'periods[0].days[0]: "Mon" is not a day'],
    ['a day range typo', withPeriod({ days: ['mon-fry'] }), 'periods[0].days[0]: "mon-fry" is not a day'],
    ['a start of 24:00', withPeriod({ start: '24:00' }), 'periods[0].start: "24:00" is not a time HH:MM'],
    ['a one-digit hour', withPeriod({ start: '8:00' }), 'periods[0].start: "8:00" is not a time HH:MM'],
    ['an end past 24:00', withPeriod({ end: '24:30' }), 'periods[0].end: "24:30" is not a time HH:MM'],
    ['minute 60', withPeriod({ end: '10:60' }), 'periods[0].end: "10:60" is not a time HH:MM'],
    ['a missing state', withPeriod({ state: undefined }), 'periods[0].state: is required'],
    ['a padded state', withPeriod({ state: ' on' }), 'periods[0].state: must be a non-empty label'],
    ['a note that is not text', withPeriod({ note: 3 }), 'periods[0].note: must be a string'],
    [
      'a window date that does not exist',
      withWindow({ start: '2026-02-29T10:00' }),
      'windows[0].start: "2026-02-29T10:00" is not a local date-time',
    ],
    [
      'a window with seconds',
      withWindow({ end: '2026-01-02T00:00:00' }),
      'windows[0].end: "2026-01-02T00:00:00" is not a local date-time',
    ],
    [
      'a window ending before it starts',
      withWindow({ end: '2025-12-31T23:00' }),
      'windows[0].end: must be after start (2026-01-01T00:00)',
    ],
    ['an empty window', withWindow({ end: '2026-01-01T00:00' }), 'windows[0].end: must be after start'],
    ['month 13', withDates({ from: '2026-13-01' }), 'dates[0].from: "2026-13-01" is not a date YYYY-MM-DD'],
    [
      'a date range ending before it starts',
      withDates({ to: '2025-12-31' }),
      'dates[0].to: must not be before from (2026-01-01)',
    ],
    ['not an object at all', 'mon-fri 08:00-18:00', 'calendar: '],
  ])('rejects %s, naming the field', (_name, input, expected) => {
    expect(issuesOf(input).join('\n')).toContain(expected);
  });

  it('reports every problem at once', () => {
    const issues = issuesOf({
      timezone: 'Mars/Olympus',
      periods: [{ days: ['mon'], start: '25:00', end: '18:00', state: 'on' }],
      dates: [{ from: '2026-01-02', to: '2026-01-01', state: 'on' }],
    });
    expect(issues.map((issue) => issue.split(':')[0])).toEqual([
      'timezone',
      'periods[0].start',
      'dates[0].to',
      'default',
    ]);
  });

  it('accepts leap days only in leap years', () => {
    expect(safeParseCalendar(withDates({ from: '2028-02-29', to: '2028-02-29' })).ok).toBe(true);
    expect(issuesOf(withDates({ from: '2026-02-29' }))).toEqual([
      'dates[0].from: "2026-02-29" is not a date YYYY-MM-DD',
    ]);
  });

  it('throws CalendarValidationError with a code and the issues, from parseCalendar and from evaluation', () => {
    const bad = { timezone: 'Europe/Berln', default: 'off' } as Calendar;
    for (const attempt of [() => parseCalendar(bad), () => desiredAt(bad, 0)]) {
      const error = (() => {
        try {
          attempt();
        } catch (e) {
          return e;
        }
        throw new Error('expected a validation error');
      })();
      expect(error).toBeInstanceOf(CalendarValidationError);
      expect((error as CalendarValidationError).code).toBe('CALENDAR_INVALID');
      expect((error as CalendarValidationError).message).toBe('timezone: "Europe/Berln" is not an IANA time zone');
      expect((error as CalendarValidationError).issues).toEqual([
        { path: 'timezone', message: '"Europe/Berln" is not an IANA time zone' },
      ]);
    }
  });

  it('expands day ranges, including ranges that wrap past Sunday', () => {
    // 2026-01-05 is a Monday; the period runs at noon UTC on the days it covers.
    const covered = (days: string[]) => {
      const calendar = parseCalendar({
        timezone: 'UTC',
        periods: [{ days, start: '12:00', end: '13:00', state: 'on' }],
        default: 'off',
      });
      return [0, 1, 2, 3, 4, 5, 6].filter((i) => desiredAt(calendar, Date.UTC(2026, 0, 5 + i, 12, 30)).state === 'on');
    };
    expect(covered(['mon-fri'])).toEqual([0, 1, 2, 3, 4]);
    expect(covered(['fri-mon'])).toEqual([0, 4, 5, 6]);
    expect(covered(['sun', 'wed-wed', 'tue'])).toEqual([1, 2, 6]);
    expect(covered(['mon-sun'])).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});

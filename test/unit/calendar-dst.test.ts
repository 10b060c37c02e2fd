// DST rules, table-driven over real transitions. Transition instants were read from luxon (Node's tz data) first:
//   Europe/Berlin        2026-03-29T01:00Z 02:00→03:00 (+1→+2)      2026-10-25T01:00Z 03:00→02:00 (+2→+1)
//   America/New_York     2026-03-08T07:00Z 02:00→03:00 (−5→−4)      2026-11-01T06:00Z 02:00→01:00 (−4→−5)
//   Australia/Lord_Howe  2026-04-04T15:00Z 02:00→01:30 (+11→+10:30) 2026-10-03T15:30Z 02:00→02:30 (+10:30→+11)
//   Pacific/Chatham      2026-04-04T14:00Z 03:45→02:45 (+13:45→+12:45) 2026-09-26T14:00Z 02:45→03:45
//   Australia/Sydney     2026-04-04T16:00Z 03:00→02:00 (+11→+10)    2026-10-03T16:00Z 02:00→03:00 (+10→+11)
//   America/Santiago     2026-04-05T03:00Z 24:00→23:00 (−3→−4)      2026-09-06T04:00Z 00:00→01:00 (−4→−3)
//   Pacific/Apia         2011-12-30T10:00Z 2011-12-29 24:00 → 2011-12-31 00:00 (−10→+14: a whole day skipped)
//   Asia/Kolkata +05:30 and Asia/Kathmandu +05:45 have no DST.
import { describe, expect, it } from 'vitest';
import {
  type Calendar,
  changesBetween,
  type DateRange,
  desiredAt,
  nextChange,
  type OneOffWindow,
  type WeeklyPeriod,
} from '../../src/calendar/index';

const utc = (iso: string) => Date.parse(`${iso}Z`);
const minute = (ms: number) => new Date(ms).toISOString().slice(0, 16);

interface DstCase {
  name: string;
  timezone: string;
  periods?: Omit<WeeklyPeriod, 'state'>[];
  windows?: Omit<OneOffWindow, 'state'>[];
  dates?: Omit<DateRange, 'state'>[];
  /** UTC range to list changes in, (from, to]. */
  from: string;
  to: string;
  /** UTC instants (minutes) where the state turns 'on' and back 'off', alternating. */
  on: string[];
}

const CASES: DstCase[] = [
  // Europe/Berlin, spring forward: 02:00–02:59 does not exist on 2026-03-29.
  {
    name: 'Berlin: a period starting in the gap starts when the gap ends (03:00 CEST)',
    timezone: 'Europe/Berlin',
    periods: [{ days: ['sun'], start: '02:30', end: '04:00' }],
    from: '2026-03-28T00:00',
    to: '2026-03-30T00:00',
    on: ['2026-03-29T01:00', '2026-03-29T02:00'],
  },
  {
    name: 'Berlin: a period wholly inside the gap does not happen that day, but does the Sunday before',
    timezone: 'Europe/Berlin',
    periods: [{ days: ['sun'], start: '02:15', end: '02:45' }],
    from: '2026-03-21T00:00',
    to: '2026-03-30T00:00',
    on: ['2026-03-22T01:15', '2026-03-22T01:45'],
  },
  {
    name: 'Berlin: a period over midnight that ends in the gap ends when the gap ends',
    timezone: 'Europe/Berlin',
    periods: [{ days: ['sat'], start: '22:00', end: '02:30' }],
    from: '2026-03-28T00:00',
    to: '2026-03-30T00:00',
    on: ['2026-03-28T21:00', '2026-03-29T01:00'],
  },
  {
    name: 'Berlin: a window starting in the gap',
    timezone: 'Europe/Berlin',
    windows: [{ start: '2026-03-29T02:00', end: '2026-03-29T06:00' }],
    from: '2026-03-28T00:00',
    to: '2026-03-30T00:00',
    on: ['2026-03-29T01:00', '2026-03-29T04:00'],
  },
  {
    name: 'Berlin: the spring-forward date lasts 23 hours',
    timezone: 'Europe/Berlin',
    dates: [{ from: '2026-03-29', to: '2026-03-29' }],
    from: '2026-03-28T00:00',
    to: '2026-03-31T00:00',
    on: ['2026-03-28T23:00', '2026-03-29T22:00'],
  },
  // Europe/Berlin, fall back: 02:00–02:59 happens twice on 2026-10-25 (CEST 00:00–01:00Z, then CET 01:00–02:00Z).
  {
    name: 'Berlin: a period starting in the repeated hour starts at the first 02:30 and never again',
    timezone: 'Europe/Berlin',
    periods: [{ days: ['sun'], start: '02:30', end: '05:00' }],
    from: '2026-10-24T00:00',
    to: '2026-10-26T00:00',
    on: ['2026-10-25T00:30', '2026-10-25T04:00'],
  },
  {
    name: 'Berlin: a period ending in the repeated hour ends at the first 02:30 and does not resume',
    timezone: 'Europe/Berlin',
    periods: [{ days: ['sun'], start: '01:00', end: '02:30' }],
    from: '2026-10-24T00:00',
    to: '2026-10-26T00:00',
    on: ['2026-10-24T23:00', '2026-10-25T00:30'],
  },
  {
    name: 'Berlin: a period wholly inside the repeated hour happens once',
    timezone: 'Europe/Berlin',
    periods: [{ days: ['sun'], start: '02:10', end: '02:20' }],
    from: '2026-10-24T00:00',
    to: '2026-10-26T00:00',
    on: ['2026-10-25T00:10', '2026-10-25T00:20'],
  },
  {
    name: 'Berlin: a window from 02:00 to 03:00 on the fall-back day lasts two real hours',
    timezone: 'Europe/Berlin',
    windows: [{ start: '2026-10-25T02:00', end: '2026-10-25T03:00' }],
    from: '2026-10-24T00:00',
    to: '2026-10-26T00:00',
    on: ['2026-10-25T00:00', '2026-10-25T02:00'],
  },
  {
    name: 'Berlin: the fall-back date lasts 25 hours',
    timezone: 'Europe/Berlin',
    dates: [{ from: '2026-10-25', to: '2026-10-25' }],
    from: '2026-10-24T00:00',
    to: '2026-10-27T00:00',
    on: ['2026-10-24T22:00', '2026-10-25T23:00'],
  },
  // America/New_York.
  {
    name: 'New York: 02:00–03:00 on the spring-forward day is wholly in the gap and does not happen',
    timezone: 'America/New_York',
    periods: [{ days: ['sun'], start: '02:00', end: '03:00' }],
    from: '2026-03-07T00:00',
    to: '2026-03-09T00:00',
    on: [],
  },
  {
    name: 'New York: a daily 01:30–02:30 is cut to 30 minutes by the gap',
    timezone: 'America/New_York',
    periods: [{ days: ['mon-sun'], start: '01:30', end: '02:30' }],
    from: '2026-03-07T00:00',
    to: '2026-03-09T00:00',
    on: ['2026-03-07T06:30', '2026-03-07T07:30', '2026-03-08T06:30', '2026-03-08T07:00'],
  },
  {
    name: 'New York: 01:30–01:45 on the fall-back day happens once, in EDT',
    timezone: 'America/New_York',
    periods: [{ days: ['sun'], start: '01:30', end: '01:45' }],
    from: '2026-11-01T00:00',
    to: '2026-11-02T00:00',
    on: ['2026-11-01T05:30', '2026-11-01T05:45'],
  },
  {
    name: 'New York: office hours over the fall-back weekend keep their wall-clock times (EDT, then EST)',
    timezone: 'America/New_York',
    periods: [{ days: ['mon-fri'], start: '08:00', end: '18:00' }],
    from: '2026-10-29T00:00',
    to: '2026-11-05T00:00',
    on: [
      '2026-10-29T12:00',
      '2026-10-29T22:00',
      '2026-10-30T12:00',
      '2026-10-30T22:00',
      '2026-11-02T13:00',
      '2026-11-02T23:00',
      '2026-11-03T13:00',
      '2026-11-03T23:00',
      '2026-11-04T13:00',
      '2026-11-04T23:00',
    ],
  },
  // Australia/Lord_Howe: DST moves the clock by 30 minutes.
  {
    name: 'Lord Howe: a period starting in the repeated half hour starts at its first occurrence',
    timezone: 'Australia/Lord_Howe',
    periods: [{ days: ['sun'], start: '01:45', end: '02:15' }],
    from: '2026-04-04T00:00',
    to: '2026-04-05T00:00',
    on: ['2026-04-04T14:45', '2026-04-04T15:45'],
  },
  {
    name: 'Lord Howe: a period wholly inside the repeated half hour happens once',
    timezone: 'Australia/Lord_Howe',
    periods: [{ days: ['sun'], start: '01:35', end: '01:50' }],
    from: '2026-04-04T00:00',
    to: '2026-04-05T00:00',
    on: ['2026-04-04T14:35', '2026-04-04T14:50'],
  },
  {
    name: 'Lord Howe: a period wholly inside the 30-minute gap does not happen that day',
    timezone: 'Australia/Lord_Howe',
    periods: [{ days: ['sun'], start: '02:05', end: '02:25' }],
    from: '2026-09-26T00:00',
    to: '2026-10-04T00:00',
    on: ['2026-09-26T15:35', '2026-09-26T15:55'],
  },
  {
    name: 'Lord Howe: a period starting in the 30-minute gap starts at 02:30',
    timezone: 'Australia/Lord_Howe',
    periods: [{ days: ['sun'], start: '02:15', end: '03:00' }],
    from: '2026-10-03T00:00',
    to: '2026-10-04T00:00',
    on: ['2026-10-03T15:30', '2026-10-03T16:00'],
  },
  // Pacific/Chatham: +12:45 / +13:45, transitions at 02:45 local standard time.
  {
    name: 'Chatham: 03:00–03:30 in the repeated hour happens once, at +13:45',
    timezone: 'Pacific/Chatham',
    periods: [{ days: ['sun'], start: '03:00', end: '03:30' }],
    from: '2026-04-04T00:00',
    to: '2026-04-05T00:00',
    on: ['2026-04-04T13:15', '2026-04-04T13:45'],
  },
  {
    name: 'Chatham: 03:00–04:00 on the spring-forward day starts when the gap ends (03:45)',
    timezone: 'Pacific/Chatham',
    periods: [{ days: ['sun'], start: '03:00', end: '04:00' }],
    from: '2026-09-26T00:00',
    to: '2026-09-27T00:00',
    on: ['2026-09-26T14:00', '2026-09-26T14:15'],
  },
  // Australia/Sydney: southern hemisphere, DST ends in April and starts in October.
  {
    name: 'Sydney: a Saturday-night period ends at the first 02:30 on the fall-back night',
    timezone: 'Australia/Sydney',
    periods: [{ days: ['sat'], start: '22:00', end: '02:30' }],
    from: '2026-04-04T00:00',
    to: '2026-04-05T00:00',
    on: ['2026-04-04T11:00', '2026-04-04T15:30'],
  },
  {
    name: 'Sydney: 02:30–06:00 on the spring-forward day starts at 03:00 AEDT',
    timezone: 'Australia/Sydney',
    periods: [{ days: ['sun'], start: '02:30', end: '06:00' }],
    from: '2026-10-03T00:00',
    to: '2026-10-04T00:00',
    on: ['2026-10-03T16:00', '2026-10-03T19:00'],
  },
  // America/Santiago: the transitions happen at midnight.
  {
    name: 'Santiago: midnight does not exist on 2026-09-06, so that date starts at 01:00',
    timezone: 'America/Santiago',
    dates: [{ from: '2026-09-06', to: '2026-09-06' }],
    from: '2026-09-05T00:00',
    to: '2026-09-08T00:00',
    on: ['2026-09-06T04:00', '2026-09-07T03:00'],
  },
  {
    name: 'Santiago: 23:30–00:30 over the repeated hour before midnight starts at the first 23:30',
    timezone: 'America/Santiago',
    periods: [{ days: ['sat'], start: '23:30', end: '00:30' }],
    from: '2026-04-04T00:00',
    to: '2026-04-06T00:00',
    on: ['2026-04-05T02:30', '2026-04-05T04:30'],
  },
  // Pacific/Apia skipped Friday 2011-12-30 entirely.
  {
    name: 'Apia: a skipped date never happens; periods of that day do not happen; one ending in it ends at 12-31 00:00',
    timezone: 'Pacific/Apia',
    periods: [
      { days: ['thu'], start: '22:00', end: '02:00' },
      { days: ['fri'], start: '10:00', end: '12:00' },
    ],
    dates: [{ from: '2011-12-30', to: '2011-12-30' }],
    from: '2011-12-29T12:00',
    to: '2011-12-31T12:00',
    on: ['2011-12-30T08:00', '2011-12-30T10:00'],
  },
  // Zones without DST, with offsets that are not whole hours.
  {
    name: 'Kolkata: +05:30 all year (January)',
    timezone: 'Asia/Kolkata',
    periods: [{ days: ['mon-sun'], start: '09:00', end: '17:30' }],
    from: '2026-01-15T00:00',
    to: '2026-01-16T00:00',
    on: ['2026-01-15T03:30', '2026-01-15T12:00'],
  },
  {
    name: 'Kolkata: +05:30 all year (July)',
    timezone: 'Asia/Kolkata',
    periods: [{ days: ['mon-sun'], start: '09:00', end: '17:30' }],
    from: '2026-07-15T00:00',
    to: '2026-07-16T00:00',
    on: ['2026-07-15T03:30', '2026-07-15T12:00'],
  },
  {
    name: 'Kathmandu: a whole Monday at +05:45',
    timezone: 'Asia/Kathmandu',
    periods: [{ days: ['mon'], start: '00:00', end: '24:00' }],
    from: '2026-03-28T00:00',
    to: '2026-04-01T00:00',
    on: ['2026-03-29T18:15', '2026-03-30T18:15'],
  },
];

function calendarOf(c: DstCase): Calendar {
  return {
    timezone: c.timezone,
    periods: c.periods?.map((p) => ({ ...p, state: 'on' })),
    windows: c.windows?.map((w) => ({ ...w, state: 'on' })),
    dates: c.dates?.map((d) => ({ ...d, state: 'on' })),
    default: 'off',
  };
}

describe('DST rules over real transitions', () => {
  it.each(CASES)('$name', (c) => {
    const calendar = calendarOf(c);
    const expected = c.on.map((at, i) => `${at} ${i % 2 === 0 ? 'on' : 'off'}`);
    const changes = changesBetween(calendar, utc(c.from), utc(c.to));
    expect(changes.map((change) => `${minute(change.atMs)} ${change.state}`)).toEqual(expected);

    // The same boundaries through nextChange and desiredAt: off just before each 'on', on from it until the 'off'.
    for (let i = 0; i < c.on.length; i += 2) {
      const start = utc(c.on[i]!);
      const end = utc(c.on[i + 1]!);
      expect(nextChange(calendar, start - 60_000)?.atMs).toBe(start);
      expect(desiredAt(calendar, start - 1).state).toBe('off');
      expect(desiredAt(calendar, start).state).toBe('on');
      expect(desiredAt(calendar, end - 1).state).toBe('on');
      expect(desiredAt(calendar, end).state).toBe('off');
    }
  });

  it('the second occurrence of a repeated wall time is not a boundary', () => {
    // Berlin 2026-10-25: the first 02:30 is 00:30Z (CEST), the second 01:30Z (CET).
    const sunday = (start: string, end: string): Calendar => ({
      timezone: 'Europe/Berlin',
      periods: [{ days: ['sun'], start, end, state: 'on' }],
      default: 'off',
    });
    // Starting at 02:30: already on at the second 02:30, and the next change is its end (05:00 CET).
    expect(desiredAt(sunday('02:30', '05:00'), utc('2026-10-25T01:29')).state).toBe('on');
    expect(nextChange(sunday('02:30', '05:00'), utc('2026-10-25T01:00'))?.atMs).toBe(utc('2026-10-25T04:00'));
    // Ending at 02:30: off through the whole repeated hour; next on is the following Sunday 01:00 CET.
    expect(desiredAt(sunday('01:00', '02:30'), utc('2026-10-25T01:15')).state).toBe('off');
    expect(nextChange(sunday('01:00', '02:30'), utc('2026-10-25T00:30'))?.atMs).toBe(utc('2026-11-01T00:00'));
  });
});

// Property checks over random calendars and instants, from a seeded PRNG so every run checks the same cases and a
// failure names a seed that reproduces it.
import { DateTime, IANAZone } from 'luxon';
import { describe, expect, it } from 'vitest';
import {
  type Calendar,
  type Change,
  changesBetween,
  type Desired,
  desiredAt,
  nextChange,
  WEEKDAYS,
} from '../../src/calendar/index';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

// mulberry32: tiny, fast and good enough to spread test inputs.
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  return { next, int, pick };
}
type Prng = ReturnType<typeof prng>;

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Pacific/Chatham',
  'Australia/Sydney',
  'America/Santiago',
];
// The 2026 transitions of those zones (see calendar-dst.test.ts); instants are drawn near them half of the time.
const TRANSITIONS = [
  '2026-03-29T01:00',
  '2026-10-25T01:00',
  '2026-03-08T07:00',
  '2026-11-01T06:00',
  '2026-04-04T15:00',
  '2026-10-03T15:30',
  '2026-04-04T14:00',
  '2026-09-26T14:00',
  '2026-04-04T16:00',
  '2026-10-03T16:00',
  '2026-04-05T03:00',
  '2026-09-06T04:00',
].map((iso) => Date.parse(`${iso}Z`));
const YEAR_START = Date.parse('2026-01-01T00:00Z');
const STATES = ['a', 'b', 'c'];
const DAY_CHOICES = ['mon', 'wed', 'sat', 'sun', 'mon-fri', 'sat-sun', 'fri-mon', 'mon-sun'] as const;
// Wall times in and around the DST gaps and repeated hours of the zones above.
const TRICKY_CLOCKS = ['00:00', '01:30', '01:45', '02:00', '02:15', '02:30', '02:45', '03:00', '03:30', '23:30'];

const pad = (n: number) => String(n).padStart(2, '0');
const isoWall = (wallMs: number) => new Date(wallMs).toISOString().slice(0, 16);

function clock(r: Prng): string {
  if (r.next() < 0.5) return r.pick(TRICKY_CLOCKS);
  const minutes = r.int(0, 95) * 15;
  return `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

/** A local wall time in 2026, on a transition day half of the time. */
function wallIn2026(r: Prng): number {
  if (r.next() < 0.5) {
    const day = Math.floor(r.pick(TRANSITIONS) / DAY_MS) + r.int(-1, 1);
    return day * DAY_MS + r.int(0, 95) * 15 * MINUTE_MS;
  }
  return YEAR_START + r.int(0, 365 * 96 - 1) * 15 * MINUTE_MS;
}

function randomCalendar(r: Prng): Calendar {
  return {
    timezone: r.pick(ZONES),
    periods: Array.from({ length: r.int(0, 4) }, () => ({
      days: Array.from({ length: r.int(1, 2) }, () => r.pick(DAY_CHOICES)),
      start: clock(r),
      end: r.next() < 0.1 ? '24:00' : clock(r),
      state: r.pick(STATES),
    })),
    windows: Array.from({ length: r.int(0, 2) }, () => {
      const start = wallIn2026(r);
      return {
        start: isoWall(start),
        end: isoWall(start + r.int(1, 288) * 15 * MINUTE_MS),
        state: r.pick(STATES),
      };
    }),
    dates: Array.from({ length: r.int(0, 2) }, () => {
      const from = wallIn2026(r);
      return {
        from: isoWall(from).slice(0, 10),
        to: isoWall(from + r.int(0, 4) * DAY_MS).slice(0, 10),
        state: r.pick(STATES),
      };
    }),
    default: r.pick(STATES),
  };
}

function instantIn2026(r: Prng): number {
  if (r.next() < 0.5) return r.pick(TRANSITIONS) + r.int(-6 * 60, 6 * 60) * MINUTE_MS + r.int(-1, 1);
  return YEAR_START + Math.floor(r.next() * 365 * DAY_MS);
}

/** Instants strictly between a and b, spread out, including both neighbours of each end. */
function between(r: Prng, a: number, b: number): number[] {
  const inside = Array.from({ length: 6 }, () => a + 1 + Math.floor(r.next() * (b - a - 1)));
  return [a + 1, b - 1, ...inside].filter((t) => t > a && t < b);
}

/**
 * An independent model of the calendar that reads the wall clock at the instant and tests membership in wall
 * time. It agrees with the evaluator everywhere except inside a repeated hour, where wall time goes backwards.
 */
function wallClockModel(calendar: Calendar, instantMs: number): Desired {
  const local = DateTime.fromMillis(instantMs, { zone: calendar.timezone });
  const wall = Date.UTC(
    local.year,
    local.month - 1,
    local.day,
    local.hour,
    local.minute,
    local.second,
    local.millisecond,
  );
  const wallOf = (iso: string) => Date.parse(`${iso}Z`);
  for (let i = (calendar.windows ?? []).length - 1; i >= 0; i--) {
    const w = calendar.windows![i]!;
    if (wallOf(w.start) <= wall && wall < wallOf(w.end))
      return { state: w.state, source: { kind: 'window', index: i } };
  }
  for (let i = (calendar.dates ?? []).length - 1; i >= 0; i--) {
    const d = calendar.dates![i]!;
    if (wallOf(`${d.from}T00:00`) <= wall && wall < wallOf(`${d.to}T00:00`) + DAY_MS) {
      return { state: d.state, source: { kind: 'date', index: i } };
    }
  }
  const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
  let best: Desired | undefined;
  let bestIndex = -1;
  (calendar.periods ?? []).forEach((p, index) => {
    for (const startDay of [Math.floor(wall / DAY_MS), Math.floor(wall / DAY_MS) - 1]) {
      // 1970-01-01 was a Thursday.
      const weekday = WEEKDAYS[(startDay + 3 + 7 * 1e6) % 7]!;
      const covered = p.days.some((spec) => {
        const [from, to = from] = spec.split('-').map((d) => WEEKDAYS.indexOf(d as (typeof WEEKDAYS)[number]));
        const at = WEEKDAYS.indexOf(weekday);
        return from! <= to! ? from! <= at && at <= to! : at >= from! || at <= to!;
      });
      const start = minutes(p.start);
      const end = minutes(p.end) > start ? minutes(p.end) : minutes(p.end) + 24 * 60;
      const inside = startDay * DAY_MS + start * MINUTE_MS <= wall && wall < startDay * DAY_MS + end * MINUTE_MS;
      if (covered && inside && index > bestIndex) {
        best = { state: p.state, source: { kind: 'period', index } };
        bestIndex = index;
      }
    }
  });
  return best ?? { state: calendar.default, source: { kind: 'default' } };
}

function nearTransition(timezone: string, instantMs: number): boolean {
  const zone = IANAZone.create(timezone);
  const offset = zone.offset(instantMs);
  return zone.offset(instantMs - 3 * HOUR_MS) !== offset || zone.offset(instantMs + 3 * HOUR_MS) !== offset;
}

const SEEDS = Array.from({ length: 40 }, (_, i) => 20_260_000 + i);

describe('calendar properties over random calendars (seeded)', () => {
  it.each(SEEDS)('seed %i: nextChange is a real change, and the state is constant until it', (seed) => {
    const r = prng(seed);
    for (let c = 0; c < 10; c++) {
      const calendar = randomCalendar(r);
      for (let k = 0; k < 8; k++) {
        const t = instantIn2026(r);
        const here = desiredAt(calendar, t);
        const horizonMs = 60 * DAY_MS;
        const change = nextChange(calendar, t, { horizonMs });
        const until = change ? change.atMs : t + horizonMs + 1;
        const context = JSON.stringify({ calendar, t, change });
        if (change) {
          expect(change.atMs, context).toBeGreaterThan(t);
          expect(change.state, context).not.toBe(here.state);
          expect({ state: change.state, source: change.source }, context).toEqual(desiredAt(calendar, change.atMs));
          expect(desiredAt(calendar, change.atMs - 1).state, context).toBe(here.state);
        }
        for (const s of between(r, t, until)) expect(desiredAt(calendar, s).state, context).toBe(here.state);
      }
    }
  });

  it.each(SEEDS)('seed %i: changesBetween agrees with repeated nextChange', (seed) => {
    const r = prng(seed);
    for (let c = 0; c < 10; c++) {
      const calendar = randomCalendar(r);
      const from = instantIn2026(r);
      const to = from + r.int(1, 21 * 24) * HOUR_MS;
      const stepped: Change[] = [];
      for (let at = from; at < to; ) {
        const change = nextChange(calendar, at, { horizonMs: to - at });
        if (!change) break;
        stepped.push(change);
        at = change.atMs;
      }
      const listed = changesBetween(calendar, from, to);
      expect(listed, JSON.stringify({ calendar, from, to })).toEqual(stepped);
      listed.forEach((change, i) => {
        const before = i === 0 ? desiredAt(calendar, from).state : listed[i - 1]!.state;
        expect(change.state).not.toBe(before);
      });
    }
  });

  it.each(SEEDS)('seed %i: agrees with a wall-clock model outside repeated hours', (seed) => {
    const r = prng(seed);
    let compared = 0;
    for (let c = 0; c < 10; c++) {
      const calendar = randomCalendar(r);
      for (let k = 0; k < 20; k++) {
        const t = instantIn2026(r);
        if (nearTransition(calendar.timezone, t)) continue;
        compared++;
        expect(desiredAt(calendar, t), JSON.stringify({ calendar, t })).toEqual(wallClockModel(calendar, t));
      }
    }
    expect(compared).toBeGreaterThan(100);
  });
});

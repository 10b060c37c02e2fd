// Turns a calendar into instants once, so each evaluation is a few comparisons instead of date parsing.
import { expandDays, parseClock, parseDate, parseDateTime, weekdayOf } from './fields';
import { DAY_MS, MINUTE_MS, ZoneClock } from './local-time';
import { parseCalendar } from './schema';
import type { Calendar, Desired, EntryKind } from './types';

/** An entry active over the instants [startMs, endMs); `index` ranks entries of the same kind (later wins). */
export interface Span {
  readonly startMs: number;
  readonly endMs: number;
  readonly index: number;
  readonly desired: Desired;
}

interface CompiledPeriod {
  readonly weekdays: readonly boolean[];
  readonly startMinute: number;
  /** Minutes after the start day's midnight; past 1440 when the period crosses midnight. */
  readonly endMinute: number;
  readonly index: number;
  readonly desired: Desired;
}

// Bounded like the zone clock's cache: evaluations usually revisit the same few days, but a scan over years must
// not keep every day.
const DAY_CACHE_LIMIT = 4096;

export class CompiledCalendar {
  readonly clock: ZoneClock;
  readonly fallback: Desired;
  readonly windows: readonly Span[];
  readonly dates: readonly Span[];
  /** Sorted, distinct starts and ends of windows and date ranges. */
  readonly fixedBoundaries: readonly number[];
  readonly #periods: readonly CompiledPeriod[];
  readonly #days = new Map<number, readonly Span[]>();

  constructor(calendar: Calendar) {
    this.clock = new ZoneClock(calendar.timezone);
    this.fallback = Object.freeze({ state: calendar.default, source: Object.freeze({ kind: 'default' as const }) });
    this.windows = (calendar.windows ?? []).map((window, index) => ({
      startMs: this.clock.instantOf(must(parseDateTime(window.start))),
      endMs: this.clock.instantOf(must(parseDateTime(window.end))),
      index,
      desired: desired('window', index, window),
    }));
    this.dates = (calendar.dates ?? []).map((range, index) => ({
      startMs: this.clock.instantOf(must(parseDate(range.from)) * DAY_MS),
      endMs: this.clock.instantOf((must(parseDate(range.to)) + 1) * DAY_MS),
      index,
      desired: desired('date', index, range),
    }));
    this.#periods = (calendar.periods ?? []).map((period, index) => {
      const startMinute = must(parseClock(period.start, false));
      const end = must(parseClock(period.end, true));
      return {
        weekdays: expandDays(period.days),
        startMinute,
        endMinute: end > startMinute ? end : end + 24 * 60,
        index,
        desired: desired('period', index, period),
      };
    });
    const edges = [...this.windows, ...this.dates].filter(isNonEmpty).flatMap((span) => [span.startMs, span.endMs]);
    this.fixedBoundaries = [...new Set(edges)].sort((a, b) => a - b);
  }

  /** The periods that start on a local date (days since 1970-01-01), as instants; empty spans are dropped. */
  periodSpans(day: number): readonly Span[] {
    const cached = this.#days.get(day);
    if (cached) return cached;
    const weekday = weekdayOf(day);
    const midnight = day * DAY_MS;
    const spans: Span[] = [];
    for (const period of this.#periods) {
      if (!period.weekdays[weekday]) continue;
      const startMs = this.clock.instantOf(midnight + period.startMinute * MINUTE_MS);
      const endMs = this.clock.instantOf(midnight + period.endMinute * MINUTE_MS);
      // Only a period lying wholly inside a spring-forward gap comes out empty: it does not happen that day.
      if (endMs > startMs) spans.push({ startMs, endMs, index: period.index, desired: period.desired });
    }
    if (this.#days.size >= DAY_CACHE_LIMIT) this.#days.clear();
    this.#days.set(day, spans);
    return spans;
  }
}

type Entry = { readonly state: string; readonly note?: string };

function desired(kind: EntryKind, index: number, entry: Entry): Desired {
  const source = entry.note === undefined ? { kind, index } : { kind, index, note: entry.note };
  return Object.freeze({ state: entry.state, source: Object.freeze(source) });
}

function isNonEmpty(span: Span): boolean {
  return span.endMs > span.startMs;
}

function must<T>(value: T | undefined): T {
  // parseCalendar has accepted every field already, so a parser cannot reject one here.
  if (value === undefined) throw new Error('calendar field failed to parse after validation');
  return value;
}

const compiled = new WeakMap<Calendar, CompiledCalendar>();

/**
 * Validates and compiles a calendar once per calendar object. Calendars arrive as workflow inputs and literals, so
 * validation happens here too: evaluating an invalid calendar throws CalendarValidationError instead of guessing.
 */
export function compile(calendar: Calendar): CompiledCalendar {
  let result = compiled.get(calendar);
  if (!result) {
    result = new CompiledCalendar(parseCalendar(calendar));
    compiled.set(calendar, result);
  }
  return result;
}

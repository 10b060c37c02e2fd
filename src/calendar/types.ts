// The calendar format shared by maintenance-window power schedules and rollout deploy windows.
// Times are local wall-clock times in `timezone`; docs/calendar.md is the user-facing reference.

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
/** One day, or an inclusive range that may wrap past Sunday ('fri-mon' = fri, sat, sun, mon). */
export type DaySpec = Weekday | `${Weekday}-${Weekday}`;

/** A weekly recurring period. `end <= start` crosses midnight; `days` names the day it starts. */
export interface WeeklyPeriod {
  readonly days: readonly DaySpec[];
  /** 'HH:MM', 00:00–23:59. */
  readonly start: string;
  /** 'HH:MM', 00:00–24:00. */
  readonly end: string;
  readonly state: string;
  readonly note?: string;
}

/** A one-off range of local wall time, e.g. a maintenance window or an incident freeze. */
export interface OneOffWindow {
  /** 'YYYY-MM-DDTHH:MM', local wall time in the calendar's zone. */
  readonly start: string;
  /** 'YYYY-MM-DDTHH:MM', strictly after `start`. */
  readonly end: string;
  readonly state: string;
  readonly note?: string;
}

/** Whole local days, both ends inclusive, e.g. a holiday freeze. */
export interface DateRange {
  /** 'YYYY-MM-DD'. */
  readonly from: string;
  /** 'YYYY-MM-DD', on or after `from`. */
  readonly to: string;
  readonly state: string;
  readonly note?: string;
}

/**
 * Precedence: windows > dates > periods > default; within one list the later entry wins.
 * Treat a calendar as immutable: evaluation caches per calendar object.
 */
export interface Calendar {
  /** IANA time zone name, e.g. 'Europe/Berlin'. */
  readonly timezone: string;
  readonly periods?: readonly WeeklyPeriod[];
  readonly windows?: readonly OneOffWindow[];
  readonly dates?: readonly DateRange[];
  /** The state outside every period, date range and window. */
  readonly default: string;
}

export type EntryKind = 'window' | 'date' | 'period';

/** Which calendar entry decided a state; `index` is the position in that entry's list. */
export type CalendarSource = { readonly kind: 'default' } | EntrySource;
export interface EntrySource {
  readonly kind: EntryKind;
  readonly index: number;
  readonly note?: string;
}

export interface Desired {
  readonly state: string;
  readonly source: CalendarSource;
}

/** The desired state becomes `state` at `atMs` (epoch milliseconds). */
export interface Change extends Desired {
  readonly atMs: number;
}

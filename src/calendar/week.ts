// A calendar laid out over a span of days (a week by default): the desired state as contiguous segments, the
// transitions between them, and the local days on which the zone's UTC offset changes (DST). What `cvmflow power
// preview` prints and draws, and what the dashboard's power page draws, before or while a schedule runs.
// Not exported from index.ts: luxon stays out of the workflow bundle, which imports the calendar's index only.
import { DateTime } from 'luxon';
import { changesBetween, desiredAt } from './evaluate';
import { DAY_MS } from './local-time';
import type { Calendar, CalendarSource, Change } from './types';

export interface Segment {
  startMs: number;
  endMs: number;
  state: string;
  source: CalendarSource;
}

export interface DstDay {
  /** The local date ('YYYY-MM-DD') whose length is not 24 hours. */
  date: string;
  /** UTC offsets in minutes before and after the change. */
  offsetBefore: number;
  offsetAfter: number;
}

export interface WeekLayout {
  timezone: string;
  /** Local midnight of the first day, in the calendar's zone. */
  fromMs: number;
  toMs: number;
  days: number;
  segments: Segment[];
  transitions: Change[];
  dstDays: DstDay[];
}

/**
 * Lays the calendar out from local midnight of the day holding `fromMs` (in the calendar's zone) for `days` local
 * days: the span is measured in local days, so a week with a DST change is 167 or 169 hours long.
 */
export function layoutWeek(calendar: Calendar, fromMs: number, days = 7): WeekLayout {
  if (!Number.isInteger(days) || days < 1 || days > 62) throw new RangeError('days must be an integer 1-62');
  const start = DateTime.fromMillis(fromMs, { zone: calendar.timezone }).startOf('day');
  const end = start.plus({ days });
  const startMs = start.toMillis();
  const endMs = end.toMillis();
  const transitions = changesBetween(calendar, startMs, endMs).filter((c) => c.atMs < endMs);
  const segments: Segment[] = [];
  let current = { ...desiredAt(calendar, startMs), startMs };
  for (const change of transitions) {
    segments.push({ startMs: current.startMs, endMs: change.atMs, state: current.state, source: current.source });
    current = { state: change.state, source: change.source, startMs: change.atMs };
  }
  segments.push({ startMs: current.startMs, endMs, state: current.state, source: current.source });
  const dstDays: DstDay[] = [];
  for (let day = start; day < end; day = day.plus({ days: 1 })) {
    const next = day.plus({ days: 1 });
    if (next.toMillis() - day.toMillis() !== DAY_MS)
      dstDays.push({ date: day.toISODate()!, offsetBefore: day.offset, offsetAfter: next.offset });
  }
  return { timezone: calendar.timezone, fromMs: startMs, toMs: endMs, days, segments, transitions, dstDays };
}

/** Milliseconds in `state` within the layout: CVM-hours off are this times the CVM count, over an hour. */
export function timeIn(layout: WeekLayout, state: string): number {
  return layout.segments.filter((s) => s.state === state).reduce((sum, s) => sum + (s.endMs - s.startMs), 0);
}

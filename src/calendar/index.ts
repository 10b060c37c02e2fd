// Calendar evaluation for power schedules and deploy windows. Pure and deterministic: safe to import from Temporal
// workflow code. Format, precedence and DST rules: docs/calendar.md.
export { describeChange, describeDesired, describeSource, formatInstant } from './describe';
export { changesBetween, DEFAULT_HORIZON_MS, desiredAt, type NextChangeOptions, nextChange } from './evaluate';
export {
  type CalendarIssue,
  type CalendarParseResult,
  CalendarValidationError,
  calendarSchema,
  parseCalendar,
  safeParseCalendar,
} from './schema';
export type {
  Calendar,
  CalendarSource,
  Change,
  DateRange,
  DaySpec,
  Desired,
  EntryKind,
  EntrySource,
  OneOffWindow,
  Weekday,
  WeeklyPeriod,
} from './types';
export { WEEKDAYS } from './types';

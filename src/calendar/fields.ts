// Parsers for the calendar's textual fields. Each returns undefined for text it does not accept, so the schema can
// report the field and the compiler can convert already-validated text with the same code.
import { DAY_MS, MINUTE_MS } from './local-time';
import { type DaySpec, WEEKDAYS, type Weekday } from './types';

const CLOCK = /^(\d{2}):(\d{2})$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})$/;

/** Minutes after midnight for 'HH:MM'; '24:00' only when `allowEndOfDay`. */
export function parseClock(text: string, allowEndOfDay: boolean): number | undefined {
  const match = CLOCK.exec(text);
  if (!match) return undefined;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  if (allowEndOfDay && hours === 24 && minutes === 0) return 24 * 60;
  if (hours > 23 || minutes > 59) return undefined;
  return hours * 60 + minutes;
}

/** Days since 1970-01-01 for a real calendar date 'YYYY-MM-DD' (proleptic Gregorian). */
export function parseDate(text: string): number | undefined {
  const match = DATE.exec(text);
  if (!match) return undefined;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return daysFromCivil(year, month, day);
}

/** Wall milliseconds (local time encoded as if UTC) for 'YYYY-MM-DDTHH:MM'. */
export function parseDateTime(text: string): number | undefined {
  const match = DATE_TIME.exec(text);
  if (!match) return undefined;
  const day = parseDate(match[1]!);
  const minutes = parseClock(match[2]!, false);
  if (day === undefined || minutes === undefined) return undefined;
  return day * DAY_MS + minutes * MINUTE_MS;
}

/** The weekdays a list of day specs covers, as a lookup indexed 0 = Monday … 6 = Sunday. */
export function expandDays(specs: readonly DaySpec[]): boolean[] {
  const covered: boolean[] = Array.from({ length: 7 }, () => false);
  for (const spec of specs) {
    const [first, last = first] = spec.split('-');
    const from = WEEKDAYS.indexOf(first as Weekday);
    const to = WEEKDAYS.indexOf(last as Weekday);
    if (from < 0 || to < 0) throw new RangeError(`"${spec}" is not a day or a range of days`);
    // Ranges wrap past Sunday: 'fri-mon' is fri, sat, sun, mon.
    for (let i = from; ; i = (i + 1) % 7) {
      covered[i] = true;
      if (i === to) break;
    }
  }
  return covered;
}

/** Weekday of a local date given as days since 1970-01-01 (a Thursday): 0 = Monday … 6 = Sunday. */
export function weekdayOf(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

// Howard Hinnant's days_from_civil: exact for every proleptic Gregorian date, without Date (and its two-digit-year
// quirks).
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

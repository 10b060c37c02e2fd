// Human-readable rendering of calendar results for CLI status output, e.g.
//   "Mon 2026-03-30 08:00 CEST (06:00 UTC) → running, period #0 'office hours'".
// Display only: abbreviations come from the runtime's ICU data and may differ between Node versions, so never
// compare or persist these strings.
import { DateTime } from 'luxon';
import { isIanaZone } from './local-time';
import type { Calendar, CalendarSource, Change, Desired } from './types';

// CLDR marks an abbreviation such as CEST or AEDT as "commonly used" only in the locales of the region that uses
// it (en-US shows Berlin as GMT+2, en-GB shows CEST), so ask a few English locales and take the first real one.
const ABBREVIATION_LOCALES = ['en-US', 'en-GB', 'en-AU', 'en-NZ', 'en-IN', 'en-IE'];
const ABBREVIATION = /^[A-Z]{2,5}$/;

const KIND_NAMES = { window: 'window', date: 'date range', period: 'period' } as const;

/** 'Mon 2026-03-30 08:00 CEST (06:00 UTC)'; the UTC date is shown too when it differs from the local one. */
export function formatInstant(timezone: string, instantMs: number): string {
  if (!isIanaZone(timezone)) throw new RangeError(`"${timezone}" is not an IANA time zone`);
  const local = DateTime.fromMillis(instantMs, { zone: timezone, locale: 'en-US' });
  const utc = local.setZone('UTC');
  const time = local.second === 0 && local.millisecond === 0 ? 'HH:mm' : 'HH:mm:ss';
  const utcText = utc.toISODate() === local.toISODate() ? utc.toFormat(time) : utc.toFormat(`yyyy-MM-dd ${time}`);
  return `${local.toFormat(`ccc yyyy-MM-dd ${time}`)} ${zoneAbbreviation(local)} (${utcText} UTC)`;
}

/** "period #0 'office hours'", "window #2", "date range #1 'year-end freeze'", "default". */
export function describeSource(source: CalendarSource): string {
  if (source.kind === 'default') return 'default';
  const name = `${KIND_NAMES[source.kind]} #${source.index}`;
  return source.note === undefined ? name : `${name} '${source.note}'`;
}

/** "running, period #0 'office hours'". */
export function describeDesired(desired: Desired): string {
  return `${desired.state}, ${describeSource(desired.source)}`;
}

/** "Mon 2026-03-30 08:00 CEST (06:00 UTC) → running, period #0 'office hours'". */
export function describeChange(calendar: Calendar, change: Change): string {
  return `${formatInstant(calendar.timezone, change.atMs)} → ${describeDesired(change)}`;
}

function zoneAbbreviation(local: DateTime): string {
  for (const locale of ABBREVIATION_LOCALES) {
    const name = local.setLocale(locale).toFormat('ZZZZ');
    if (ABBREVIATION.test(name)) return name;
  }
  // No English abbreviation (Asia/Kathmandu, Asia/Tokyo): the numeric offset is unambiguous anyway.
  return `UTC${local.toFormat('ZZ')}`;
}

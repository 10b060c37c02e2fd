// Validation of calendars, with errors that name the field ("periods[0].end: ...") so a user can fix their spec.
import { z } from 'zod';
import { parseClock, parseDate, parseDateTime } from './fields';
import { isIanaZone } from './local-time';
import { type Calendar, type DaySpec, WEEKDAYS } from './types';

const DAY_SPECS: DaySpec[] = [
  ...WEEKDAYS,
  ...WEEKDAYS.flatMap((from) => WEEKDAYS.map((to) => `${from}-${to}` as const)),
];

function text(expected: string) {
  return z.string({ error: (issue) => (issue.input === undefined ? 'is required' : `must be ${expected}`) });
}

/** A string field whose content `accepts` must approve; the error quotes the rejected text. */
function checkedText(accepts: (value: string) => boolean, expected: string) {
  return text(expected).superRefine((value, ctx) => {
    if (!accepts(value)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not ${expected}` });
  });
}

const parses = (parse: (value: string) => number | undefined) => (value: string) => parse(value) !== undefined;
const clockText = checkedText(
  parses((v) => parseClock(v, false)),
  'a time HH:MM between 00:00 and 23:59',
);
const endClockText = checkedText(
  parses((v) => parseClock(v, true)),
  'a time HH:MM between 00:00 and 24:00',
);
const dateTimeText = checkedText(parses(parseDateTime), 'a local date-time YYYY-MM-DDTHH:MM');
const dateText = checkedText(parses(parseDate), 'a date YYYY-MM-DD');

const state = text('a state label').regex(/^\S(.*\S)?$/, {
  error: 'must be a non-empty label without surrounding spaces',
});
const note = text('a string').optional();

const periodSchema = z.strictObject({
  days: z
    .array(
      z.enum(DAY_SPECS, {
        error: (issue) => `${JSON.stringify(issue.input)} is not a day (mon, tue, … sun) or a range such as mon-fri`,
      }),
      { error: 'must be a list of days, e.g. [mon-fri]' },
    )
    .min(1, { error: 'must name at least one day' }),
  start: clockText,
  end: endClockText,
  state,
  note,
});

const windowSchema = z
  .strictObject({
    start: dateTimeText,
    end: dateTimeText,
    state,
    note,
  })
  .superRefine((window, ctx) => {
    const start = parseDateTime(window.start);
    const end = parseDateTime(window.end);
    if (start !== undefined && end !== undefined && end <= start) {
      ctx.addIssue({ code: 'custom', path: ['end'], message: `must be after start (${window.start})` });
    }
  });

const dateRangeSchema = z
  .strictObject({
    from: dateText,
    to: dateText,
    state,
    note,
  })
  .superRefine((range, ctx) => {
    const from = parseDate(range.from);
    const to = parseDate(range.to);
    if (from !== undefined && to !== undefined && to < from) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: `must not be before from (${range.from})` });
    }
  });

/** The zod schema, for embedding a calendar in larger specs; `parseCalendar` for use on its own. */
export const calendarSchema = z.strictObject({
  timezone: checkedText(isIanaZone, 'an IANA time zone'),
  periods: z.array(periodSchema, { error: 'must be a list of periods' }).optional(),
  windows: z.array(windowSchema, { error: 'must be a list of windows' }).optional(),
  dates: z.array(dateRangeSchema, { error: 'must be a list of date ranges' }).optional(),
  default: state,
});

export interface CalendarIssue {
  /** Where the problem is, e.g. 'periods[0].end'. */
  readonly path: string;
  readonly message: string;
}

export class CalendarValidationError extends Error {
  override readonly name = 'CalendarValidationError';
  readonly code = 'CALENDAR_INVALID';

  constructor(readonly issues: readonly CalendarIssue[]) {
    super(issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '));
  }
}

export type CalendarParseResult =
  | { readonly ok: true; readonly calendar: Calendar }
  | { readonly ok: false; readonly issues: readonly CalendarIssue[] };

export function safeParseCalendar(input: unknown): CalendarParseResult {
  const result = calendarSchema.safeParse(input);
  if (result.success) return { ok: true, calendar: result.data };
  return { ok: false, issues: result.error.issues.flatMap(toCalendarIssues) };
}

/** Validates a calendar; throws CalendarValidationError listing every problem with its field. */
export function parseCalendar(input: unknown): Calendar {
  const result = safeParseCalendar(input);
  if (!result.ok) throw new CalendarValidationError(result.issues);
  return result.calendar;
}

function toCalendarIssues(issue: z.core.$ZodIssue): CalendarIssue[] {
  // One issue per unknown key reads better than zod's combined message, and names the misspelt field itself.
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'is not a known field' }));
  }
  return [{ path: formatPath(issue.path), message: issue.message }];
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? 'calendar' : out;
}

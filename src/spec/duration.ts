// Durations in specs are strings with units (`90s`, `10m`, `1h30m`, `2d`, `500ms`), never bare numbers: a bare `90`
// could mean seconds or milliseconds, and guessing wrong turns a 90 s timeout into a 90 ms one.
import { z } from 'zod';
import { describeValue } from './schema';

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
const UNITS = Object.keys(UNIT_MS) as Unit[];

// Units largest first, each at most once, integers only: `1h30m` but not `30m1h`, `1.5h` or `1h 30m`.
// `m(?!s)` keeps `10ms` from reading as ten minutes followed by a stray `s`.
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

export const DURATION_EXAMPLES = '90s, 10m, 1h30m';

/** Milliseconds of a duration such as `1h30m`, or undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match || text === '') return undefined;
  let total = 0;
  UNITS.forEach((unit, i) => {
    const digits = match[i + 1];
    if (digits !== undefined) total += Number(digits) * UNIT_MS[unit];
  });
  return Number.isSafeInteger(total) ? total : undefined;
}

/** The shortest spec-style text for a number of milliseconds: 5_400_000 → `1h30m`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let text = '';
  for (const unit of UNITS) {
    const count = Math.floor(rest / UNIT_MS[unit]);
    if (count > 0) {
      text += `${count}${unit}`;
      rest -= count * UNIT_MS[unit];
    }
  }
  return text;
}

export interface DurationBounds {
  /** Inclusive bounds, written as durations (`10s`, `1h`) so the error message can quote them as the user writes them. */
  min: string;
  max: string;
}

/** A spec field holding a duration string, parsed to milliseconds and checked against inclusive bounds. */
export function durationSchema(bounds: DurationBounds) {
  const min = mustParse(bounds.min);
  const max = mustParse(bounds.max);
  const allowed = `a duration from ${formatDuration(min)} to ${formatDuration(max)} (like ${DURATION_EXAMPLES})`;
  const complaint = (input: unknown) => {
    if (input === undefined) return `required; expected ${allowed}`;
    const hint = typeof input === 'number' ? ` (add a unit, e.g. ${input}s)` : '';
    return `expected ${allowed}, got ${describeValue(input)}${hint}`;
  };
  return z.string({ error: (issue) => complaint(issue.input) }).transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms < min || ms > max) {
      ctx.addIssue({ code: 'custom', message: complaint(text), input: text });
      return z.NEVER;
    }
    return ms;
  });
}

function mustParse(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`invalid duration bound ${JSON.stringify(text)}`);
  return ms;
}

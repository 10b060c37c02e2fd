// A calendar inside a spec (a power schedule's, a rollout's deploy windows): src/calendar's own checks with their
// field-named messages, and on top the states this kind of spec gives a meaning to. One rule for both kinds.
import { z } from 'zod';
import { type Calendar, calendarSchema } from '../calendar';
import { describeValue, expected } from './schema';

export interface CalendarStates {
  /** The states the default, the weekly periods and the date ranges may name. */
  regular: readonly string[];
  /** The states a one-off window may name (power's restart is an event, not a state one could stay in). */
  windows: readonly string[];
}

/** "a or b", "a, b or c". */
const oneOf = (values: readonly string[]) =>
  values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;

export function calendarWithStates(states: CalendarStates) {
  return z.unknown().transform((input, ctx): Calendar => {
    const parsed = calendarSchema.safeParse(input);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        if (issue.code === 'unrecognized_keys') {
          for (const key of issue.keys)
            ctx.addIssue({ code: 'custom', path: [...issue.path, key], message: 'unknown key' });
        } else if (issue.path.length === 0) {
          const allowed = 'a calendar mapping with timezone, default, periods, windows, dates';
          ctx.addIssue({ code: 'custom', message: expected(allowed)({ input }) });
        } else {
          ctx.addIssue({ code: 'custom', path: [...issue.path], message: issue.message });
        }
      }
    }
    // Checked on the raw document too, so a wrong state is reported alongside the calendar's other problems.
    const raw = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
    const check = (state: unknown, path: PropertyKey[], allowed: readonly string[]) => {
      if (typeof state !== 'string' || allowed.includes(state)) return;
      const hint = states.windows.includes(state) ? ` (${state} is only allowed in a one-off window)` : '';
      ctx.addIssue({
        code: 'custom',
        path,
        message: `expected ${oneOf(allowed)}, got ${describeValue(state)}${hint}`,
      });
    };
    const entries = (key: string) => (Array.isArray(raw[key]) ? (raw[key] as unknown[]) : []);
    const stateOf = (entry: unknown) =>
      typeof entry === 'object' && entry !== null ? (entry as { state?: unknown }).state : undefined;
    check(raw.default, ['default'], states.regular);
    for (const [key, allowed] of [
      ['periods', states.regular],
      ['dates', states.regular],
      ['windows', states.windows],
    ] as const) {
      entries(key).forEach((entry, i) => {
        check(stateOf(entry), [key, i, 'state'], allowed);
      });
    }
    return parsed.success ? parsed.data : z.NEVER;
  });
}

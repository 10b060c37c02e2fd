// Cron expressions for rollout schedules, checked before a Temporal Schedule is created: a typo (`61 9 * * *`) or a
// date that never comes (`0 9 30 2 *`, the 30th of February) is the user's to fix, named as such, rather than a
// server error — or, worse, a schedule that silently never runs.
const MACROS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
/** The longest each month gets (February in a leap year). */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

interface Field {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Offset of names[0]. */
  namesFrom?: number;
}

const FIELDS: Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, namesFrom: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAYS, namesFrom: 0 },
];

function value(text: string, f: Field): number {
  const upper = text.toUpperCase();
  const named = f.names?.indexOf(upper) ?? -1;
  if (named >= 0) return named + (f.namesFrom ?? 0);
  if (!/^\d+$/.test(text))
    throw new Error(`${f.name}: "${text}" is not a number${f.names ? ` or a name (${f.names[0]}…)` : ''}`);
  const n = Number(text);
  if (n < f.min || n > f.max) throw new Error(`${f.name}: ${n} is outside ${f.min}-${f.max}`);
  return n;
}

/** The values a field allows; `all` when it is `*` or `?` (no restriction). */
function expand(text: string, f: Field): { all: boolean; values: Set<number> } {
  const values = new Set<number>();
  let all = false;
  for (const part of text.split(',')) {
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new Error(`${f.name}: "${part}" is not a value, range or step`);
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1) throw new Error(`${f.name}: step must be at least 1`);
    let from: number;
    let to: number;
    if (m[1] === '*' || m[1] === '?') {
      [from, to] = [f.min, f.max];
      if (step === 1) all = true;
    } else if (m[1]!.includes('-')) {
      const [a, b] = m[1]!.split('-');
      [from, to] = [value(a!, f), value(b!, f)];
      if (to < from) throw new Error(`${f.name}: range ${m[1]} ends before it starts`);
    } else {
      from = value(m[1]!, f);
      to = m[2] === undefined ? from : f.max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return { all, values };
}

/**
 * The problem with a cron expression, or undefined when it is fine. Checks the five-field form and the @ macros;
 * longer forms (seconds, years) and `@every` are left to the server.
 */
export function cronProblem(expr: string): string | undefined {
  const text = expr.trim();
  if (text.startsWith('@')) {
    if (MACROS.has(text.toLowerCase()) || /^@every\s+\S+/.test(text)) return undefined;
    return `"${text}" is not a cron macro (${[...MACROS].join(', ')}, @every <duration>)`;
  }
  const parts = text.split(/\s+/);
  if (parts.length === 6 || parts.length === 7) return undefined;
  if (parts.length !== 5)
    return `"${text}" has ${parts.length} fields; expected 5 (minute hour day-of-month month day-of-week), e.g. "0 9 * * TUE"`;
  try {
    const [, , dom, month, dow] = parts.map((p, i) => expand(p, FIELDS[i]!));
    // Cron fires on a day when day-of-month OR day-of-week matches if both are restricted; a restricted
    // day-of-week always comes round, so only a day-of-month alone can make the expression never fire.
    if (!dom!.all && dow!.all) {
      const fires = [...month!.values].some((m) => [...dom!.values].some((d) => d <= MONTH_DAYS[m - 1]!));
      if (!fires) return `"${text}" never fires: no month in it has that day`;
    }
  } catch (err) {
    return `"${text}": ${(err as Error).message}`;
  }
  return undefined;
}

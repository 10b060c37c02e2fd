// Building blocks shared by every spec kind. Each one produces messages of the form
// `expected <what is allowed>, got <what was written>`, so no zod default ("Invalid input") reaches a user.
import { z } from 'zod';
import { didYouMean, type UnknownKeyParams } from './errors';

export const API_VERSION = 'cvmflow/v1';

/** What a spec kind's schema needs beyond the document itself. */
export interface SpecContext {
  /** Folder that relative paths in the spec (compose.file, env fromFile) are resolved against. */
  baseDir: string;
}

const MAX_QUOTED = 60;

/** A short, safe rendering of a value for `got …`. Never used on fields that may hold secrets. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value);
    return quoted.length > MAX_QUOTED ? `${quoted.slice(0, MAX_QUOTED - 2)}…"` : quoted;
  }
  return String(value);
}

/** What kind of value was written, without the value itself: for fields that may hold a secret by mistake. */
export function describeKind(value: unknown): string {
  if (typeof value === 'string') return 'text';
  if (typeof value === 'number' || typeof value === 'boolean') return `a ${typeof value}`;
  return describeValue(value);
}

export type ErrorFn = (issue: { input?: unknown }) => string;

/**
 * A zod error function: `required; expected X` for a missing field, `expected X, got Y` otherwise.
 * `secret` describes only the kind of value written (text, a number), never the value.
 */
export function expected(allowed: string, options: { secret?: boolean } = {}): ErrorFn {
  const describe = options.secret ? describeKind : describeValue;
  return (issue) =>
    issue.input === undefined ? `required; expected ${allowed}` : `expected ${allowed}, got ${describe(issue.input)}`;
}

/**
 * An object schema that rejects unknown keys one by one (so each typo is its own problem with a did-you-mean hint).
 * zod's own strict mode reports all unknown keys of an object as one issue without the allowed keys, so the check is
 * a catch-all that always fails and carries the allowed keys; statically it is exactly a strict object.
 */
export function strictObject<Shape extends z.core.$ZodLooseShape>(
  shape: Shape,
  error: ErrorFn = expected(`a mapping with ${Object.keys(shape).join(', ')}`),
): z.ZodObject<Shape, z.core.$strict> {
  const params: UnknownKeyParams = { allowedKeys: Object.keys(shape) };
  // Not aborting: a typo elsewhere must not hide the cross-field checks that run alongside it.
  const unknownKey = z.custom(() => false, { params, abort: false });
  return z.object(shape, { error }).catchall(unknownKey) as unknown as z.ZodObject<Shape, z.core.$strict>;
}

/** An integer within inclusive bounds; `allowed` overrides the wording (units, examples). */
export function int(min: number, max = Number.MAX_SAFE_INTEGER, allowed?: string) {
  const text =
    allowed ?? (max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`);
  const error = expected(text);
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** One of a fixed set of words; `ignoreCase` accepts any casing and yields the spelling given in `values`. */
export function choice<const Value extends string>(values: readonly Value[], options: { ignoreCase?: boolean } = {}) {
  const allowed = `one of ${values.join(', ')}`;
  return z.string({ error: expected(allowed) }).transform((text, ctx): Value => {
    const found = values.find((v) => (options.ignoreCase ? v.toLowerCase() === text.toLowerCase() : v === text));
    if (found !== undefined) return found;
    const guess = didYouMean(text, values);
    const hint = guess ? `; did you mean \`${guess}\`?` : '';
    ctx.addIssue({ code: 'custom', message: `${expected(allowed)({ input: text })}${hint}`, input: text });
    return z.NEVER;
  });
}

/** A non-empty string with no surrounding whitespace (paths, names). */
export function text(allowed: string) {
  const error = expected(allowed);
  return z
    .string({ error })
    .min(1, { error })
    .refine((s) => s.trim() === s, { error });
}

/** Adds a problem unless exactly one of `keys` is set on `value`; returns the key that is set. */
export function exactlyOne<Key extends string>(
  value: Partial<Record<Key, unknown>>,
  keys: readonly [Key, Key],
  prefix: string,
  ctx: z.core.$RefinementCtx,
): Key | undefined {
  const present = keys.filter((k) => value[k] !== undefined);
  const [only] = present;
  if (present.length === 1 && only !== undefined) return only;
  const [a, b] = keys;
  ctx.addIssue({ code: 'custom', message: `give exactly one of ${prefix}${a} or ${prefix}${b}`, input: value });
  return undefined;
}

const RESOURCE_NAME = /^[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const RESOURCE_NAME_RULE =
  '2 to 63 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen';

/** The name of a schedule or rollout: part of workflow ids, so DNS-label style. `what` is e.g. "rollout". */
export function resourceName(what: string) {
  return z.string({ error: expected(`a ${what} name: ${RESOURCE_NAME_RULE}`) }).superRefine((value, ctx) => {
    if (RESOURCE_NAME.test(value)) return;
    ctx.addIssue({
      code: 'custom',
      message: `${describeValue(value)} is not a valid ${what} name (${RESOURCE_NAME_RULE})`,
      input: value,
    });
  });
}

/** A list whose entries must be distinct; a repeat is named with the index of its first occurrence. */
export function uniqueList(what: string, item: z.ZodType<string>) {
  return z
    .array(item, { error: expected(`a list of ${what}`) })
    .superRefine((items, ctx) => {
      items.forEach((entry, i) => {
        const first = items.indexOf(entry);
        if (first !== i)
          ctx.addIssue({
            code: 'custom',
            path: [i],
            message: `${entry} is listed twice (also at [${first}])`,
            input: entry,
          });
      });
    })
    .default([]);
}

/** An http(s) URL, `{placeholder}`s allowed (they are filled in at run time). */
export const httpUrl = (what: string) =>
  text(`an http(s) URL ${what}`).superRefine((value, ctx) => {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(value.replace(/\{[a-zA-Z]+\}/g, 'x')).protocol);
    } catch {}
    if (!ok) ctx.addIssue({ code: 'custom', message: expected(`an http(s) URL ${what}`)({ input: value }) });
  });

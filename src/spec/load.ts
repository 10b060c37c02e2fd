// Loading a spec: YAML (or JSON) text → kind dispatch → that kind's schema, with every problem collected into one
// SpecError. The returned spec is complete: defaults applied, compose text read, so callers never touch its files.
import { dirname, resolve } from 'node:path';
import { didYouMean, problemsFromZod, SpecError } from './errors';
import { readTextFile } from './files';
import { isSpecKind, type SpecKind, type SpecOf, specKinds } from './kinds';
import { API_VERSION, describeValue, expected } from './schema';
import { parseYaml } from './yaml';

export interface ParseOptions<K extends SpecKind = SpecKind> {
  /** Names the spec in messages (usually its path as the user typed it). */
  source: string;
  /** Folder that relative paths in the spec are resolved against (the spec file's folder). */
  baseDir: string;
  /** Accept only these kinds, for commands that take one kind (`cvmflow deploy` takes Deployment). */
  kinds?: readonly K[];
}

/** Reads, parses and validates a spec file; throws SpecError naming every problem. */
export function loadSpecFile<K extends SpecKind = SpecKind>(
  path: string,
  options: Pick<ParseOptions<K>, 'kinds'> = {},
): SpecOf<K> {
  const read = readTextFile(path);
  if (!read.ok) throw new SpecError(path, [{ path: '', message: read.problem }]);
  return parseSpecText(read.text, { ...options, source: path, baseDir: dirname(resolve(path)) });
}

/** Parses spec text (YAML or JSON) and validates it. */
export function parseSpecText<K extends SpecKind = SpecKind>(text: string, options: ParseOptions<K>): SpecOf<K> {
  const parsed = parseYaml(text);
  if (!parsed.ok) throw new SpecError(options.source, [{ path: '', message: parsed.problem }]);
  return validateSpec(parsed.value, options);
}

/** Validates an already-parsed document, e.g. one built in code by the typed client. */
export function validateSpec<K extends SpecKind = SpecKind>(value: unknown, options: ParseOptions<K>): SpecOf<K> {
  const allowedKinds: readonly SpecKind[] = options.kinds ?? (Object.keys(specKinds) as SpecKind[]);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const message =
      value === null || value === undefined
        ? `the spec is empty; expected a mapping starting with apiVersion: ${API_VERSION} and kind: ${allowedKinds.join(' | ')}`
        : `expected a mapping starting with apiVersion: ${API_VERSION} and kind: ${allowedKinds.join(' | ')}, got ${describeValue(value)}`;
    throw new SpecError(options.source, [{ path: '', message }]);
  }

  const { kind } = value as { kind?: unknown };
  if (!isSpecKind(kind) || !allowedKinds.includes(kind)) {
    const guess = typeof kind === 'string' ? didYouMean(kind, allowedKinds) : undefined;
    const message =
      expected(`one of ${allowedKinds.join(', ')}`)({ input: kind }) + (guess ? `; did you mean \`${guess}\`?` : '');
    throw new SpecError(options.source, [{ path: 'kind', message }]);
  }

  const result = specKinds[kind]({ baseDir: options.baseDir }).safeParse(value);
  if (!result.success) throw new SpecError(options.source, problemsFromZod(result.error.issues));
  return result.data as SpecOf<K>;
}

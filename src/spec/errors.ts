// Spec problems are reported all at once, one line each, naming the field the way the user wrote it
// (`env.API_KEY.fromFile`, `placement.nodes[1]`), so a user fixes a file in one pass instead of one error per run.
import type { z } from 'zod';

export interface Problem {
  /** Field path as written in the spec (`placement.nodes[1]`); empty for the document as a whole. */
  path: string;
  message: string;
}

export class SpecError extends Error {
  readonly code = 'SPEC_INVALID';
  constructor(
    /** The spec file (or other origin) the problems were found in, as the user named it. */
    readonly source: string,
    readonly problems: Problem[],
  ) {
    super(problems.map((p) => `${source}: ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n'));
    this.name = 'SpecError';
  }
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

export function formatPath(segments: readonly PropertyKey[]): string {
  let path = '';
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else {
      const key = String(segment);
      path += PLAIN_KEY.test(key) ? (path ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
    }
  }
  return path;
}

/** The closest allowed word to a misspelt one, when it is close enough to be what the user meant. */
export function didYouMean(word: string, allowed: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of allowed) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Two edits catch `replica`, `visiblity`, `memoryMB`; on short words that much would suggest anything.
  const tolerance = lower.length <= 4 ? 1 : 2;
  return bestDistance <= tolerance ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Marker carried by the issue that `strictObject` raises for a key its shape does not have. */
export interface UnknownKeyParams {
  allowedKeys: string[];
}

/** Turns zod issues into problems: one per unknown key, union failures narrowed to the form the user was writing. */
export function problemsFromZod(issues: readonly z.core.$ZodIssue[], base: readonly PropertyKey[] = []): Problem[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const problem of issues.flatMap((issue) => fromIssue(issue, base))) {
    const key = `${problem.path}\n${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

function fromIssue(issue: z.core.$ZodIssue, base: readonly PropertyKey[]): Problem[] {
  const segments = [...base, ...issue.path];
  switch (issue.code) {
    case 'custom': {
      const allowedKeys = (issue.params as Partial<UnknownKeyParams> | undefined)?.allowedKeys;
      if (!allowedKeys) break;
      const key = String(segments.at(-1));
      const guess = didYouMean(key, allowedKeys);
      const message = guess
        ? `unknown key; did you mean \`${guess}\`?`
        : `unknown key; allowed here: ${allowedKeys.join(', ')}`;
      return [{ path: formatPath(segments), message }];
    }
    case 'invalid_union': {
      // A branch that failed only because the value has the wrong shape at the top (a string where a mapping is
      // expected) is not the form the user was writing; when exactly one branch got further, its issues are the
      // useful ones. Otherwise the union's own message lists the accepted forms.
      const meant = issue.errors.filter((branch) => !branch.every(isShapeMismatch));
      const [only] = meant;
      if (meant.length === 1 && only) return only.flatMap((inner) => fromIssue(inner, segments));
      break;
    }
    case 'invalid_key':
    case 'invalid_element':
      return issue.issues.flatMap((inner) => fromIssue(inner, segments));
  }
  return [{ path: formatPath(segments), message: issue.message }];
}

function isShapeMismatch(issue: z.core.$ZodIssue): boolean {
  return issue.path.length === 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value');
}

// YAML parsing for specs and compose files, with syntax errors located by line and column.
import { parseDocument, type YAMLError } from 'yaml';

export type YamlResult = { ok: true; value: unknown } | { ok: false; problem: string };

/**
 * Parses one YAML document (JSON is valid YAML, so JSON specs take the same path). Only the first syntax error is
 * reported: the ones after it are usually the parser losing its footing, not further mistakes.
 */
export function parseYaml(text: string): YamlResult {
  // Merge keys (`<<: *defaults`) are common in compose files and in specs sharing blocks.
  const doc = parseDocument(text, { merge: true, prettyErrors: false });
  const [first] = doc.errors;
  if (first) return { ok: false, problem: locate(first, text) };
  try {
    return { ok: true, value: doc.toJS() };
  } catch (err) {
    // Aliases are resolved only here (an alias before its anchor, an alias bomb).
    return { ok: false, problem: `invalid YAML: ${(err as Error).message}` };
  }
}

function locate(error: YAMLError, text: string): string {
  const before = text.slice(0, error.pos[0]);
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  // The library's own text for this one advises an API call; the user needs to know what to change in the file.
  if (error.code === 'MULTIPLE_DOCS')
    return `invalid YAML at line ${line}: a second YAML document starts here (after "---"); a spec file holds one spec — put each in its own file`;
  return `invalid YAML at line ${line}, column ${column}: ${error.message}`;
}

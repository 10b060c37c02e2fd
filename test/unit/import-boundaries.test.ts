// The layers of ARCHITECTURE.md, checked: every value import (static, re-export or dynamic `import()`) of every file
// under src/ against what its layer may import. Type-only imports are free: they vanish at build time and carry no
// behaviour across a boundary. A new exception must be written into EXCEPTIONS with the issue that removes it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/**
 * What each layer (first folder under src/) may import: `deny` lists layers (and '@temporalio/*') it must not reach;
 * `only` lists all it may reach besides itself — for code that runs in the workflow sandbox, where Node built-ins and
 * other packages are not allowed either.
 */
type Rule = { deny: string[] } | { only: string[] };
const TEMPORAL = '@temporalio/*';
const RULES: Record<string, Rule> = {
  // Shared vocabulary, imported by workflows and activities alike: imports nothing of ours.
  domain: { only: ['@temporalio/common'] },
  // Deterministic code: its own modules, the shared vocabulary, pure calendars and the workflow SDK.
  workflows: { only: ['domain', 'calendar', '@temporalio/workflow', '@temporalio/common'] },
  // Plain libraries, usable without Temporal.
  phala: {
    deny: ['workflows', 'activities', 'client', 'cli', 'worker', 'temporal', 'simulator', 'chain', 'dev', TEMPORAL],
  },
  attestation: {
    deny: ['workflows', 'activities', 'client', 'cli', 'worker', 'temporal', 'simulator', 'chain', 'dev', TEMPORAL],
  },
  // Metric analysis (providers, conditions, Argo's counting rules): a plain library like phala/.
  analysis: {
    deny: [
      'workflows',
      'activities',
      'client',
      'cli',
      'worker',
      'temporal',
      'simulator',
      'phala',
      'chain',
      'dev',
      TEMPORAL,
    ],
  },
  chain: { deny: ['workflows', 'activities', 'client', 'cli', 'worker', 'temporal', 'simulator', TEMPORAL] },
  spec: {
    deny: ['workflows', 'activities', 'client', 'cli', 'worker', 'temporal', 'simulator', 'phala', 'chain', TEMPORAL],
  },
  calendar: {
    deny: ['workflows', 'activities', 'client', 'cli', 'worker', 'temporal', 'simulator', 'phala', TEMPORAL],
  },
  simulator: { deny: ['workflows', 'activities', 'client', 'cli', 'worker', 'temporal', TEMPORAL] },
  // Adapters over the libraries: never the workflows' code, the clients or the CLI.
  activities: { deny: ['workflows', 'client', 'cli', 'worker', 'dev', 'simulator'] },
  client: { deny: ['activities', 'cli', 'worker', 'dev', 'simulator'] },
  // The dashboard: reads through the clients and the Phala client, acts through the clients only.
  ui: { deny: ['activities', 'cli', 'worker', 'dev', 'simulator', 'workflows'] },
};

/** Known crossings, each with the issue that removes it. */
const EXCEPTIONS = new Set<string>([]);

interface Import {
  file: string;
  spec: string;
  /** The layer it reaches: a folder (or file) under src/, or a package name. */
  target: string;
}

/** The value imports of a TypeScript source text. */
function valueImports(text: string): string[] {
  const found: string[] = [];
  const statement = /(?:^|\n)\s*(?:import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/g;
  for (const m of text.matchAll(statement)) {
    if (m[1]) continue;
    const names = m[2]!.trim();
    const braced = /^\{([^}]*)\}$/.exec(names);
    const specifiers = braced
      ? braced[1]!
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
    if (braced && specifiers.length > 0 && specifiers.every((s) => s.startsWith('type '))) continue;
    found.push(m[3]!);
  }
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  return found;
}

function layerOf(path: string): string {
  const first = relative(SRC, path).split('/')[0]!;
  return first.replace(/\.ts$/, '');
}

function targetOf(file: string, spec: string): string {
  if (spec.startsWith('.')) return layerOf(resolve(dirname(file), spec));
  if (spec.startsWith('node:')) return 'node';
  return spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function forbids(rule: Rule, target: string, own: string): boolean {
  if (target === own) return false;
  const matches = (entry: string) => entry === target || (entry === TEMPORAL && target.startsWith('@temporalio/'));
  return 'only' in rule ? !rule.only.some(matches) : rule.deny.some(matches);
}

function violations(): string[] {
  const out: string[] = [];
  for (const file of sources(SRC)) {
    const own = layerOf(file);
    const rule = RULES[own];
    if (!rule) continue;
    const imports: Import[] = valueImports(readFileSync(file, 'utf8')).map((spec) => ({
      file,
      spec,
      target: targetOf(file, spec),
    }));
    for (const i of imports) {
      if (!forbids(rule, i.target, own)) continue;
      const key = `${relative(SRC, file)} -> ${i.target}`;
      if (!EXCEPTIONS.has(key)) out.push(`${key} ('${i.spec}')`);
    }
  }
  return out;
}

describe('import boundaries (ARCHITECTURE.md)', () => {
  it('no file under src/ imports across a forbidden boundary', () => {
    expect(violations()).toEqual([]);
  });

  it('reads value imports and skips type-only ones', () => {
    const text = `import type { A } from '../workflows/a';
import { type B, type C } from '../workflows/b';
import { type D, e } from '../workflows/c';
export { f } from '../client/d';
const g = await import('../cli/e');
import {
  h,
} from '@temporalio/worker';`;
    expect(valueImports(text)).toEqual(['../workflows/c', '../client/d', '@temporalio/worker', '../cli/e']);
  });

  it('would catch an activity importing a workflow module, and a workflow importing the Phala client', () => {
    expect(forbids(RULES.activities!, 'workflows', 'activities')).toBe(true);
    expect(forbids(RULES.workflows!, 'phala', 'workflows')).toBe(true);
    expect(forbids(RULES.workflows!, 'node', 'workflows')).toBe(true);
    expect(forbids(RULES.workflows!, '@temporalio/activity', 'workflows')).toBe(true);
    expect(forbids(RULES.workflows!, 'domain', 'workflows')).toBe(false);
    expect(forbids(RULES.domain!, 'workflows', 'domain')).toBe(true);
    expect(forbids(RULES.domain!, '@temporalio/common', 'domain')).toBe(false);
    expect(forbids(RULES.phala!, '@temporalio/client', 'phala')).toBe(true);
    expect(forbids(RULES.phala!, 'zod', 'phala')).toBe(false);
  });

  it('keeps no stale exception', () => {
    const crossings = new Set(
      sources(SRC).flatMap((file) =>
        valueImports(readFileSync(file, 'utf8')).map((spec) => `${relative(SRC, file)} -> ${targetOf(file, spec)}`),
      ),
    );
    expect([...EXCEPTIONS].filter((e) => !crossings.has(e))).toEqual([]);
  });
});

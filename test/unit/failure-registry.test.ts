// The failure registry (src/domain/failures.ts) is the one list of failure types: every type the activities raise
// is in it, the workflows' non-retryable list is derived from it, and a caller's mistake never retries.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { phalaType, toFailure } from '../../src/activities/failures';
import { FAILURE_TYPES, NON_RETRYABLE_TYPES } from '../../src/domain/failures';
import { PhalaApiError, PhalaUsageError } from '../../src/phala/errors';
import { NON_RETRYABLE_TYPES as WORKFLOW_LIST } from '../../src/workflows/activity-options';

const ACTIVITIES = fileURLToPath(new URL('../../src/activities', import.meta.url));

/** The failure types written as literals in the activities: `type: 'X'` and the router's code → type table. */
function raisedTypes(): string[] {
  const found = new Set<string>();
  for (const file of readdirSync(ACTIVITIES).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(ACTIVITIES, file), 'utf8');
    for (const m of text.matchAll(/\btype: '([A-Z][A-Za-z]+)'/g)) found.add(m[1]!);
    for (const m of text.matchAll(/\bROUTER_[A-Z_]+: '([A-Z][A-Za-z]+)'/g)) found.add(m[1]!);
  }
  return [...found].sort();
}

describe('failure registry', () => {
  it('lists every failure type the activities raise', () => {
    const raised = raisedTypes();
    expect(raised.length).toBeGreaterThan(10);
    expect(raised.filter((t) => !(t in FAILURE_TYPES))).toEqual([]);
  });

  it('names every Phala API error with a registered type', () => {
    const statuses = [undefined, 400, 401, 403, 404, 409, 422, 429, 465, 468, 500, 503];
    for (const status of statuses)
      for (const retryable of [true, false]) {
        const err = new PhalaApiError({ message: 'x', endpoint: 'GET /cvms/{id}', status, retryable });
        expect(FAILURE_TYPES).toHaveProperty(phalaType(err));
      }
  });

  it('derives the non-retryable list the workflows use', () => {
    const expected = Object.entries(FAILURE_TYPES)
      .filter(([, f]) => !f.retryable)
      .map(([name]) => name);
    expect(NON_RETRYABLE_TYPES).toEqual(expected);
    expect(WORKFLOW_LIST).toBe(NON_RETRYABLE_TYPES);
    expect(NON_RETRYABLE_TYPES).toContain('PhalaUsage');
    expect(NON_RETRYABLE_TYPES).not.toContain('PhalaBusy');
  });

  it('a usage error never retries', () => {
    const failure = toFailure(
      new PhalaUsageError('PHALA_INVALID_ARGUMENT', 'cvmId', 'cvmId: not an identifier'),
      'stop',
    );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'PhalaUsage', nonRetryable: true });
    expect((failure as Error).message).toBe('stop: cvmId: not an identifier');
  });
});

// CVMFLOW_MAX_CACHED_WORKFLOWS: the worker's workflow cache size from the environment (src/worker/main.ts).
import { describe, expect, it } from 'vitest';
import { maxCachedWorkflowsFromEnv } from '../../src/worker/main';

describe('CVMFLOW_MAX_CACHED_WORKFLOWS', () => {
  it('is unset by default and a whole number otherwise (0 turns the cache off)', () => {
    expect(maxCachedWorkflowsFromEnv({})).toBeUndefined();
    expect(maxCachedWorkflowsFromEnv({ CVMFLOW_MAX_CACHED_WORKFLOWS: '' })).toBeUndefined();
    expect(maxCachedWorkflowsFromEnv({ CVMFLOW_MAX_CACHED_WORKFLOWS: '500' })).toBe(500);
    expect(maxCachedWorkflowsFromEnv({ CVMFLOW_MAX_CACHED_WORKFLOWS: '0' })).toBe(0);
  });

  it('names the variable and what it wants when the value is not a whole number', () => {
    for (const bad of ['-1', '2.5', 'many']) {
      expect(() => maxCachedWorkflowsFromEnv({ CVMFLOW_MAX_CACHED_WORKFLOWS: bad })).toThrow(
        /^CVMFLOW_MAX_CACHED_WORKFLOWS must be a whole number of workflows/,
      );
    }
  });
});

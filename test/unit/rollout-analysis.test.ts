import { describe, expect, it } from 'vitest';
import { decideWaveAnalysis, waveAnalysisVars } from '../../src/workflows/rollout-analysis';
import type { CvmRecord } from '../../src/workflows/rollout-types';

const reason = 'metric error-rate: value [0.4]: successCondition "result[0] < 0.05" is false';

describe('a wave analysis decides', () => {
  it.each([
    ['pass', 'abort', 0, 0, { kind: 'go' }],
    ['fail', 'abort', 0, 5, { kind: 'fail', reason: `wave 2 analysis fail: ${reason}` }],
    [
      'fail',
      'budget',
      0,
      1,
      { kind: 'spend', note: `wave 2 analysis fail: ${reason}; one failure spent of the budget (1 of 1)` },
    ],
    [
      'fail',
      'budget',
      1,
      1,
      { kind: 'fail', reason: `failure budget exceeded: 2 failures, 1 allowed (wave 2 analysis fail: ${reason})` },
    ],
    ['error', 'abort', 0, 0, { kind: 'pause' }],
    ['inconclusive', 'budget', 0, 3, { kind: 'pause' }],
  ] as const)('%s with onFailure %s, %i failures of %i → %j', (verdict, onFailure, failures, budget, want) => {
    const got = decideWaveAnalysis({ verdict, reason }, { wave: 2, onFailure, failures, budget });
    expect(got).toMatchObject(want);
    if (got.kind === 'pause') expect(got.note).toMatch(/^wave 2 analysis .*; resume to go on, abort to stop/);
  });

  it('fills {cvm} and {app} as regex alternations of the updated CVMs', () => {
    const cvm = (cvmId: string, app: string, to?: string) => ({ cvmId, app, to }) as CvmRecord;
    expect(waveAnalysisVars('fleet', 1, [cvm('u1', 'web', 'h2'), cvm('u2', 'web'), cvm('u3', 'api')])).toEqual({
      rollout: 'fleet',
      wave: '1',
      app: 'web|api',
      cvm: 'u1|u2|u3',
      version: 'h2',
    });
  });
});

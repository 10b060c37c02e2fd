// The pure decisions of a rollout wave's metric analysis (issue 23): the placeholder values its queries get, and
// what the rollout does with the verdict — go on; fail (onFailure: abort, or the budget is spent); spend one failure
// of the budget and go on; or pause for a person when the analysis had no usable or no clear answer.
import type { AnalysisResult, Vars } from '../analysis/types';
import type { CvmRecord, RolloutConfig } from './rollout-types';

/** `{cvm}` and `{app}` are regex alternations (for `=~`) of the wave's updated CVMs and their apps. */
export function waveAnalysisVars(rollout: string, wave: number, updated: CvmRecord[]): Vars {
  return {
    rollout,
    wave: String(wave),
    app: [...new Set(updated.map((c) => c.app))].join('|'),
    cvm: updated.map((c) => c.cvmId).join('|'),
    version: updated.find((c) => c.to)?.to ?? '',
  };
}

export type WaveAnalysisDecision =
  | { kind: 'go' }
  | { kind: 'fail'; reason: string }
  | { kind: 'spend'; note: string }
  | { kind: 'pause'; note: string };

export function decideWaveAnalysis(
  result: Pick<AnalysisResult, 'verdict' | 'reason'>,
  ctx: {
    wave: number;
    onFailure: NonNullable<RolloutConfig['analysis']>['onFailure'];
    failures: number;
    budget: number;
  },
): WaveAnalysisDecision {
  const why = `wave ${ctx.wave} analysis ${result.verdict}: ${result.reason}`;
  if (result.verdict === 'pass') return { kind: 'go' };
  if (result.verdict === 'fail') {
    if (ctx.onFailure === 'abort') return { kind: 'fail', reason: why };
    const spent = ctx.failures + 1;
    if (spent > ctx.budget)
      return { kind: 'fail', reason: `failure budget exceeded: ${spent} failures, ${ctx.budget} allowed (${why})` };
    return { kind: 'spend', note: `${why}; one failure spent of the budget (${spent} of ${ctx.budget})` };
  }
  // No usable answer, or no clear one: nobody knows whether the wave is bad, so a person decides.
  return { kind: 'pause', note: `${why.slice(0, 200)}; resume to go on, abort to stop (and revert)` };
}

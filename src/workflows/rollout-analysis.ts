// The pure decisions of a rollout wave's metric analysis (issue 23): the placeholder values its queries get, and
// what the rollout does with the verdict — go on; fail (onFailure: abort, or the budget is spent); spend one failure
// of the budget and go on; or pause for a person when the analysis had no usable or no clear answer. Then the step
// itself (analyseWave): one activity call once the wave's CVMs are healthy.
import { condition, proxyActivities } from '@temporalio/workflow';
import type { AnalysisActivities } from '../activities/analysis-activities';
import type { AnalysisResult, Vars } from '../analysis/types';
import { iso } from '../domain/time';
import { heartbeatingCall } from './activity-options';
import { analysisBoundMs, metricLines } from './analysis-report';
import type { RolloutRun } from './rollout-state';
import type { CvmRecord, RolloutConfig } from './rollout-types';

/** Wave analyses kept in state (each carries its last measurements). */
const MAX_ANALYSES = 10;

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

/**
 * The wave's metric analysis: a failure spends the budget or fails the rollout (sets run.failure); errors and
 * inconclusive results pause it until someone resumes or aborts. Returns whether the rollout stops here.
 */
export async function analyseWave(run: RolloutRun, wave: number): Promise<boolean> {
  const { st, config } = run;
  const analysis = config.analysis!;
  const updated = st.cvms.filter((c) => c.wave === wave && c.state === 'healthy');
  if (!updated.length) return false;
  run.setPhase('analysing', `wave ${wave}: ${analysis.metrics.length} metric(s) over ${updated.length} CVMs`);
  const result = await proxyActivities<AnalysisActivities>(
    heartbeatingCall(analysisBoundMs(analysis.metrics) + 60_000, run.tuning.heartbeatTimeoutMs ?? 20_000),
  ).analysisRun({ metrics: analysis.metrics, vars: waveAnalysisVars(config.name, wave, updated) });
  st.analyses = [...(st.analyses ?? []), { ...result, wave, atMs: run.now() }].slice(-MAX_ANALYSES);
  for (const line of metricLines(result)) run.record(`wave ${wave} analysis: ${line}`);
  const next = decideWaveAnalysis(result, {
    wave,
    onFailure: analysis.onFailure,
    failures: st.failures,
    budget: run.budget(),
  });
  if (next.kind === 'fail') run.failure = next.reason;
  else if (next.kind === 'spend') {
    st.failures += 1;
    run.record(next.note);
  } else if (next.kind === 'pause') {
    const at = run.now();
    st.paused = { by: 'cvmflow', reason: next.note, note: next.note, at: iso(at), sinceMs: at };
    run.setPhase('paused', next.note);
    await condition(() => !st.paused || st.abort !== undefined);
  }
  return run.failure !== undefined || st.abort !== undefined;
}

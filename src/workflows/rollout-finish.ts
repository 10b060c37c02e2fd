// How a rollout ends, outside any cancellation: a wave still running (the rollout was cancelled) is stopped and
// waited for; on a failure with autoRevert, or an abort with revert, every CVM the rollout updated goes back to its
// previous compose in a revert wave; then the outcome is set, reported, and returned (or thrown, when failed).
import { ApplicationFailure, allHandlersFinished, condition } from '@temporalio/workflow';
import { countStates, needsRevert } from './rollout-plan';
import type { RolloutRun } from './rollout-state';
import type { RolloutResult } from './rollout-types';
import { revertReport, summary } from './rollout-view';
import { finishWave, runWave, steer } from './rollout-waves';

/** Runs in a non-cancellable scope; `cancelled` is rethrown once the rollout is wound up. */
export async function finishRollout(run: RolloutRun, cancelled: unknown): Promise<RolloutResult> {
  const { st, config } = run;
  const current = run.current;
  if (current && !current.done) {
    // Cancelled mid-wave: the wave stops starting CVMs, finishes those in flight and reports them.
    await steer(run, current);
    await condition(() => current.done === true);
    const r = finishWave(run, current);
    st.failures += r.failures;
  }
  const failure = run.failure;
  const revert = failure ? config.autoRevert : st.abort?.revert === true;
  const toRevert = revert ? await revertUpdated(run) : [];
  const outcome: RolloutResult['outcome'] = failure ? 'failed' : st.abort ? 'aborted' : 'succeeded';
  run.setPhase(outcome, failure ?? (st.abort ? st.abort.reason : summary(countStates(st.cvms))));
  await condition(allHandlersFinished);
  if (cancelled) throw cancelled;
  const result: RolloutResult = {
    rolloutId: run.rolloutId,
    name: config.name,
    outcome,
    ...(failure ? { reason: failure } : st.abort ? { reason: st.abort.reason } : {}),
    counts: countStates(st.cvms),
    waves: st.waveLog,
    cvms: st.cvms,
    startedAtMs: st.startedAtMs,
    endedAtMs: run.now(),
  };
  if (outcome === 'failed') {
    throw ApplicationFailure.create({
      type: 'RolloutFailed',
      nonRetryable: true,
      message: `rollout ${config.name} failed: ${failure}; ${revert ? revertReport(st.cvms, toRevert) : 'nothing reverted (autoRevert: false)'}`,
      details: [{ counts: result.counts, waves: result.waves }],
    });
  }
  return result;
}

/** Puts every CVM the rollout updated back on its previous compose (one revert wave); returns the CVMs it took. */
async function revertUpdated(run: RolloutRun) {
  const { st } = run;
  const why = run.failure ? `rollout failed: ${run.failure}` : st.abort ? `rollout aborted: ${st.abort.reason}` : '';
  const toRevert = st.cvms.filter(needsRevert);
  if (!toRevert.length) return toRevert;
  run.setPhase('reverting', `${toRevert.length} CVMs back to their previous compose (${why})`);
  // A CVM whose own revert failed earlier gets another try here.
  const batch = toRevert.map((c) => ({
    ...c,
    state: c.state === 'revert-failed' ? ('failed' as const) : c.state,
    reason: c.state === 'healthy' ? why : `${c.reason}; ${why}`,
  }));
  await runWave(run, st.waveLog.filter((w) => w.mode === 'revert').length, 'revert', batch, why);
  return toRevert;
}

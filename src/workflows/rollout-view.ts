// What the rollout shows: its `status` view and the one-line summaries its records and failures use. Pure reads of
// the run's state.
import { formatInstant } from '../calendar';
import { backgroundView } from './rollout-background';
import { countStates, windowGate } from './rollout-plan';
import type { RolloutRun } from './rollout-state';
import type { CvmRecord, CvmState, RolloutStatus } from './rollout-types';

export function rolloutStatusView(run: RolloutRun): RolloutStatus {
  const { st, config, current } = run;
  const windows = config.windows;
  const g = run.gate();
  const change = g?.recheckAtMs;
  return {
    rolloutId: run.rolloutId,
    name: config.name,
    phase: run.phase,
    ...(run.waiting ? { waiting: run.waiting } : {}),
    nowMs: run.now(),
    targets: run.total(),
    waves: { total: st.waves.length, next: st.nextWave, log: st.waveLog },
    ...(current ? { currentWave: { index: current.index, workflowId: current.workflowId, mode: current.mode } } : {}),
    counts: countStates(st.cvms),
    failures: { count: st.failures, budget: run.budget() },
    limits: { maxParallel: config.strategy.maxParallel, maxUnavailable: run.maxUnavailable() },
    ...(g && windows
      ? {
          window: {
            timezone: windows.calendar.timezone,
            state: g.state,
            open: g.open,
            cause: g.cause,
            ...(change !== undefined
              ? {
                  nextChange: {
                    atMs: change,
                    at: formatInstant(windows.calendar.timezone, change),
                    state: windowGate(windows.calendar, st.overrides, change).state,
                  },
                }
              : {}),
          },
        }
      : {}),
    overrides: st.overrides,
    ...(st.paused ? { paused: st.paused } : {}),
    ...(st.abort ? { abort: st.abort } : {}),
    cvms: st.cvms,
    records: st.records,
    foldedRecords: st.foldedRecords,
    run: st.runs,
    ...(st.analyses?.length ? { analyses: st.analyses } : {}),
    ...(st.background ? { background: backgroundView(run)! } : {}),
  };
}

export function summary(counts: Partial<Record<string, number>>): string {
  const parts = Object.entries(counts).map(([state, n]) => `${n} ${state}`);
  return parts.length ? parts.join(', ') : 'no CVMs';
}

const REVERT_STATES = new Set<CvmState>(['reverted', 'revert-failed', 'diverged']);

/**
 * Every CVM a revert acted on: those the final revert wave took, and those autoRevert put back on their own as soon
 * as they failed, during the waves (not counting the latter under-reported the revert).
 */
export function revertReport(cvms: readonly CvmRecord[], finalWave: readonly CvmRecord[]): string {
  const inFinal = new Set(finalWave.map((c) => c.cvmId));
  const touched = cvms.filter((c) => inFinal.has(c.cvmId) || REVERT_STATES.has(c.state));
  return touched.length ? `revert of ${touched.length} CVMs: ${summary(countStates(touched))}` : 'nothing to revert';
}

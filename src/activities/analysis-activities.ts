// The metric-analysis activity: one call runs a whole analysis (src/analysis/run.ts) and returns every metric's
// measurements and verdicts, which Temporal keeps in the workflow's history. It heartbeats its state after every
// measurement and while it waits between them, so a retried attempt (a worker crash) resumes the count instead of
// starting over; cancelling it (the run moved on) stops every measurement in flight. A rollout's background analysis
// instead calls analysisMeasure once per measurement, so each one lands in the rollout's own history as it is taken.
import { activityInfo, cancellationSignal, heartbeat, sleep } from '@temporalio/activity';
import { type MetricState, measureOnce, type RunState, runAnalysis } from '../analysis/run';
import type { AnalysisResult, MetricResult, MetricSpec, Vars } from '../analysis/types';

/** Heartbeats at least this often while waiting, well inside any heartbeat timeout the workflows use. */
const HEARTBEAT_EVERY_MS = 2_000;

export interface AnalysisActivityDeps {
  /** Where header values (`fromEnv`) are read; the worker's own environment by default. */
  env?: NodeJS.ProcessEnv;
}

export function createAnalysisActivities(deps: AnalysisActivityDeps = {}) {
  const env = deps.env ?? process.env;
  return {
    /** Measures the metrics until each has its verdict (or a deciding one failed); never throws for a bad metric. */
    async analysisRun(req: { metrics: MetricSpec[]; vars: Vars }): Promise<AnalysisResult> {
      let state = activityInfo().heartbeatDetails as RunState | undefined;
      const resume = state;
      const wait = async (ms: number) => {
        const until = Date.now() + ms;
        while (Date.now() < until) {
          heartbeat(state);
          await sleep(Math.min(HEARTBEAT_EVERY_MS, until - Date.now()));
        }
      };
      return runAnalysis(req.metrics, req.vars, {
        sleep: wait,
        env,
        signal: cancellationSignal(),
        progress: (s) => {
          state = s;
          heartbeat(s);
        },
        ...(resume ? { resume } : {}),
      });
    },

    /**
     * One measurement of a background metric, judged together with the state the workflow carries (a read: a
     * retry measures again and nothing is counted twice, because the workflow keeps only the attempt that returned).
     */
    async analysisMeasure(req: {
      metric: MetricSpec;
      vars: Vars;
      state?: MetricState;
    }): Promise<{ state: MetricState; result: MetricResult }> {
      return measureOnce(req.metric, req.vars, req.state, { env, signal: cancellationSignal() });
    },
  };
}

export type AnalysisActivities = ReturnType<typeof createAnalysisActivities>;

// The optional analysis after a power schedule starts CVMs (issue 23; spec `analysis.afterStart`): once a batch of
// start (or restart) actions has brought its CVMs up, one metric analysis (the same activity as a rollout wave's)
// runs over them beside the loop. Its verdict and every metric's measurements are recorded in the schedule's state
// (so in history), shown by `power status` and added to the event list. It reports and undoes nothing: stopping
// CVMs a calendar wants running would fight the calendar, so what to do about a bad start is left to a person (or
// to an alert on the `analysis` events). Histories from before it (no 'power-after-start-analysis' marker) never
// run one.
import { isCancellation, patched, proxyActivities } from '@temporalio/workflow';
import type { AnalysisActivities } from '../activities/analysis-activities';
import { heartbeatingCall } from './activity-options';
import { analysisBoundMs, metricLines } from './analysis-report';
import { describeError } from './errors';
import type { PowerScheduleState } from './power-state';
import type { CvmMemory, PowerAction, PowerAnalysis } from './power-types';

/** Analyses kept in state (each carries its metrics' last measurements). */
const MAX_ANALYSES = 5;

/** Whether an analysis is still measuring: the run does not continue as new under it. */
export function analysing(s: PowerScheduleState): boolean {
  return (s.carried.analyses ?? []).some((a) => a.verdict === 'measuring');
}

/** Starts the analysis of CVMs a start or restart brought up; a no-op without `analysis.afterStart`. */
export function analyseAfterStart(s: PowerScheduleState, action: PowerAction, started: CvmMemory[]): void {
  const spec = s.config.analysis?.afterStart;
  if (action === 'stop' || !started.length || !spec || !patched('power-after-start-analysis')) return;
  const entry: PowerAnalysis = {
    atMs: s.now(),
    action,
    cvms: started.map((m) => ({ cvmId: m.cvmId, name: m.name })),
    verdict: 'measuring',
    reason: `${spec.metrics.length} metric(s) over ${started.length} CVMs`,
    metrics: [],
  };
  s.carried.analyses = [...(s.carried.analyses ?? []), entry].slice(-MAX_ANALYSES);
  const { analysisRun } = proxyActivities<AnalysisActivities>(
    heartbeatingCall(analysisBoundMs(spec.metrics) + 60_000, s.tuning.heartbeatTimeoutMs),
  );
  void (async () => {
    try {
      const result = await analysisRun({
        metrics: spec.metrics,
        vars: {
          schedule: s.config.name,
          action,
          cvm: started.map((m) => m.cvmId).join('|'),
          app: [...new Set(started.map((m) => m.app))].join('|'),
        },
      });
      Object.assign(entry, { verdict: result.verdict, reason: result.reason, metrics: result.metrics });
      for (const line of metricLines(result)) s.record('analysis', line);
    } catch (err) {
      Object.assign(entry, {
        verdict: isCancellation(err) ? 'cancelled' : 'error',
        reason: `the analysis did not run to its end: ${describeError(err)}`,
      });
    }
    entry.endedAtMs = s.now();
    const names = entry.cvms.map((c) => c.name).join(', ');
    s.record('analysis', `analysis after ${action} of ${names}: ${entry.verdict}: ${entry.reason}`.slice(0, 600));
    s.dirty = true; // the loop may be waiting for a quiet moment to continue as new
  })();
}

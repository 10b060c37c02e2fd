// What cvmflow's workflows tell the outside world while they run: phase changes, outcomes, drift and approvals go to
// the worker's notifier (signed webhooks) through a sink, and to Prometheus through the workflow metric meter.
// Neither writes to history and neither runs during replay (sinks default to callDuringReplay: false, the workflow
// meter skips replay), so adding a report to a workflow never changes its commands and needs no patch.
import {
  ContinueAsNew,
  isCancellation,
  metricMeter,
  proxySinks,
  type WorkflowInterceptorsFactory,
  workflowInfo,
} from '@temporalio/workflow';
import { SA_APP } from './deploy-types';
import type { CvmflowEvent, CvmflowEventType, CvmflowSinks, WorkflowKind } from './observe-types';

export type { CvmflowEvent, CvmflowEventType, CvmflowSinks, WorkflowKind };

const { cvmflow } = proxySinks<CvmflowSinks>();

const KIND_BY_TYPE: Record<string, WorkflowKind> = {
  deployCvm: 'deploy',
  blueGreen: 'bluegreen',
  blueGreenTrigger: 'bluegreen',
  rollout: 'rollout',
  rolloutWave: 'rollout',
  rolloutApp: 'rollout',
  powerSchedule: 'power',
};

/** Phase names that mean a rollback or a wait for a person; reported as their own event type as well. */
const ROLLBACK_PHASE = /roll(ing)?-?back|revert|compensat/;
const AWAITING_PHASE = /await|approv/; // deploy's `approve` (external on-chain approval), rollout's awaiting-promotion
const MAX_DETAIL = 500;

function kindOfWorkflow(): WorkflowKind {
  return KIND_BY_TYPE[workflowInfo().workflowType] ?? 'other';
}

function appOfWorkflow(): string | undefined {
  return workflowInfo().typedSearchAttributes.get(SA_APP);
}

function emit(event: Omit<CvmflowEvent, 'id' | 'kind' | 'app'> & { app?: string }): void {
  const info = workflowInfo();
  const app = event.app ?? appOfWorkflow();
  const detail = event.detail === undefined ? undefined : event.detail.slice(0, MAX_DETAIL);
  cvmflow.event({
    ...event,
    // History length is deterministic, so the same report gets the same id however often the task is retried.
    id: `${info.runId}:${info.historyLength}:${event.type}:${event.phase ?? ''}`,
    kind: kindOfWorkflow(),
    ...(app ? { app } : {}),
    ...(detail !== undefined ? { detail } : {}),
  });
}

/**
 * A per-workflow reporter of phase changes: call it whenever the workflow enters a phase. Repeated calls with the
 * same phase are ignored. The duration of the phase left goes to the `cvmflow_phase_duration_ms` histogram.
 */
export function phaseReporter(): (phase: string, detail?: string) => void {
  let current: string | undefined;
  let since = Date.now();
  const durations = metricMeter.createHistogram(
    'cvmflow_phase_duration_ms',
    'int',
    'ms',
    'time spent in a workflow phase',
  );
  return (phase, detail) => {
    if (phase === current) return;
    const now = Date.now();
    const previous = current;
    const previousPhaseMs = previous === undefined ? undefined : now - since;
    if (previous !== undefined && previousPhaseMs !== undefined)
      durations.record(previousPhaseMs, { kind: kindOfWorkflow(), phase: previous });
    current = phase;
    since = now;
    const extra = { phase, ...(previous ? { previousPhase: previous, previousPhaseMs } : {}), detail };
    emit({ type: 'phase', ...extra });
    if (ROLLBACK_PHASE.test(phase)) emit({ type: 'rollback', ...extra });
    if (AWAITING_PHASE.test(phase)) emit({ type: 'awaiting-approval', ...extra });
  };
}

/** A CVM found in a power state other than the desired one: counted, and sent as a `drift` notification. */
export function reportDrift(app: string | undefined, detail: string): void {
  metricMeter
    .createCounter('cvmflow_drift_detected_total', 'drift', 'CVMs found in a power state other than desired')
    .add(1, { kind: kindOfWorkflow() });
  emit({ type: 'drift', detail, ...(app ? { app } : {}) });
}

/** Every workflow's outcome, reported once per run (continue-as-new is not an outcome). */
export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      async execute(input, next) {
        const outcome = (type: 'completed' | 'failed' | 'cancelled', detail?: string) => {
          metricMeter
            .createCounter('cvmflow_workflows_total', 'workflows', 'workflow runs by kind and outcome')
            .add(1, { kind: kindOfWorkflow(), workflow_type: workflowInfo().workflowType, outcome: type });
          emit({ type, ...(detail ? { detail } : {}) });
        };
        try {
          const result = await next(input);
          outcome('completed');
          return result;
        } catch (err) {
          if (err instanceof ContinueAsNew) throw err;
          if (isCancellation(err)) outcome('cancelled');
          else outcome('failed', err instanceof Error ? err.message : String(err));
          throw err;
        }
      },
    },
  ],
});

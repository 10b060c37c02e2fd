// The notification events workflows report (see ./observe), shared with the worker's notifier; no Temporal imports
// at runtime, so worker-side code can use it.
import type { Sinks } from '@temporalio/workflow';

export type WorkflowKind = 'deploy' | 'bluegreen' | 'rollout' | 'power' | 'other';

export const EVENT_TYPES = [
  'phase',
  'completed',
  'failed',
  'cancelled',
  'rollback',
  'drift',
  'awaiting-approval',
] as const;
export type CvmflowEventType = (typeof EVENT_TYPES)[number];

/** One notification, as the workflow reports it; the worker adds workflow ids and a timestamp before sending. */
export interface CvmflowEvent {
  /** Stable across retries of the delivery: receivers deduplicate on it. */
  id: string;
  type: CvmflowEventType;
  kind: WorkflowKind;
  app?: string;
  phase?: string;
  previousPhase?: string;
  /** How long the previous phase lasted (workflow time). */
  previousPhaseMs?: number;
  detail?: string;
}

export interface CvmflowSinks extends Sinks {
  cvmflow: { event(event: CvmflowEvent): void };
}

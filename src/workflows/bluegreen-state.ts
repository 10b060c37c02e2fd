// What a blue-green run knows at any instant, as plain data, and the questions asked of it by more than one part of
// the run (is it over? when does automatic promotion happen?). No Temporal calls here, so update validators and the
// status view — pure functions of this state — are unit-tested without a server (test/unit/bluegreen-validators).
import type {
  Actor,
  AnalysisReport,
  AuditedActor,
  BlueGreenInput,
  BlueGreenOutcome,
  BlueGreenPhase,
  Deployment,
  HistoryEntry,
  TeardownReport,
} from './bluegreen-types';

/** The control requests accepted so far, each with who asked, why and when. */
export interface ControlRequests {
  promote?: AuditedActor;
  end?: { kind: 'abort' | 'rollback'; actor: AuditedActor };
  finish?: AuditedActor;
  paused?: AuditedActor & { atMs: number };
}

/** The run's state, as plain data with a fresh run's values: nothing found, nothing deployed, nothing asked. */
export class BlueGreenState {
  readonly history: HistoryEntry[] = [];
  /** Metric analyses finished so far, with every measurement (issue 23). */
  readonly analyses: AnalysisReport[] = [];
  phase: BlueGreenPhase = 'starting';
  blue?: Deployment;
  green?: Deployment;
  greenId?: { name: string; slot: Deployment['slot'] };
  /** Known as soon as the deploy finished, before green is described: what a teardown must remove. */
  greenAppId?: string;
  active: 'blue' | 'green' | 'none' = 'none';
  previewing = false;
  greenHealthy = false;
  healthText?: string;
  promoted?: { atMs: number; by: string };
  previewSince?: number;
  /** An inconclusive pre-promotion analysis holds automatic promotion until a promote or a resume. */
  inconclusiveHold = false;
  /** Blue was stopped for the warm period: a rollback must start it again. */
  blueStopped = false;
  warmUntil?: number;
  outcome?: BlueGreenOutcome;
  lastError?: string;
  control: ControlRequests = {};
  report?: TeardownReport;

  constructor(readonly input: BlueGreenInput) {}
}

/** Phases in which green has not taken traffic yet. */
export const BEFORE_PROMOTION: BlueGreenPhase[] = ['starting', 'deploying', 'health-gate', 'pre-analysis', 'preview'];

/** When automatic promotion happens; undefined when it does not (manual, held, paused, or no preview yet). */
export function autoPromoteAt(s: BlueGreenState): number | undefined {
  const { policy } = s.input;
  return policy.autoPromote && !s.inconclusiveHold && !s.control.paused && s.previewSince !== undefined
    ? s.previewSince + policy.autoPromoteAfterMs
    : undefined;
}

/** An abort or rollback was accepted, or the run is already tearing down or done: no more control. */
export function isEnding(s: BlueGreenState): boolean {
  return s.control.end !== undefined || s.phase === 'tearing-down' || s.phase === 'done';
}

export function endingText(s: BlueGreenState): string {
  return s.phase === 'done'
    ? `the run is over (${s.outcome})`
    : `the run is being torn down (${s.control.end?.kind ?? s.outcome})`;
}

/** Who acts when nobody asked: cvmflow itself, for the reason given. */
export const cvmflowActor = (reason: string): Actor => ({ by: 'cvmflow', reason });

// Types and message definitions shared by the power-schedule workflow, its activities and its clients (no I/O).
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { AnalysisResult, MetricSpec } from '../analysis/types';
import type { Calendar } from '../calendar';
import type { AuditEntry, AuditRequest } from '../domain/audit-input';
import { POWER_HELD_BATCH_WANTED_QUERY } from '../domain/names';

export type PowerState = 'running' | 'stopped';
export type PowerMode = 'enforce' | 'transitions';
export type StopAction = 'shutdown' | 'stop';
export type PowerAction = 'start' | 'stop' | 'restart';

/** The calendar state that restarts every target once at the start of a one-off window, then keeps it running. */
export const RESTART_STATE = 'restart';

export interface PowerTargets {
  /** App names: every live CVM carrying the name (the primary and its replicas). */
  apps: string[];
  /** CVM identifiers: vm_uuid (with or without dashes), the `cvm_…` id, or the instance id. */
  cvms: string[];
}

/** A loaded PowerSchedule spec in the form the workflow runs it. Schedule durations are on the schedule's clock. */
export interface PowerConfig {
  name: string;
  targets: PowerTargets;
  calendar: Calendar;
  mode: PowerMode;
  /** enforce: how long drift may last before it is corrected. */
  graceMs: number;
  driftCheckIntervalMs: number;
  stop: { action: StopAction; shutdownTimeoutMs: number };
  waitForState: boolean;
  /**
   * Real time a start, restart or stop gets to reach its state (Terraform's wait_timeout_seconds). A graceful
   * shutdown gets stop.shutdownTimeoutMs first; the force stop after it gets waitTimeoutMs of its own.
   */
  waitTimeoutMs: number;
  /** defer: act once the deployment ends; skip: drop the action for that change (enforce still corrects drift). */
  onBusy: 'defer' | 'skip';
  /** Back-off after a failed action, doubling from initialIntervalMs up to maximumIntervalMs. */
  retry: { initialIntervalMs: number; maximumIntervalMs: number };
  /**
   * Metrics measured once the schedule has started (or restarted) CVMs, one analysis per batch of them
   * (power-analysis.ts). The verdict is recorded and shown; a failed analysis undoes nothing.
   */
  analysis?: { afterStart: { metrics: MetricSpec[] } };
}

/**
 * The schedule's notion of "now": real workflow time unless a clock is given. `speed` 60 turns a calendar minute
 * into a real second, so tests (and demos) run hours of a calendar in seconds. Real-world durations — the API
 * calls, waitTimeout, shutdownTimeout, deferRecheckMs — are never scaled.
 */
export interface ScheduleClock {
  /** Real workflow time that corresponds to virtualAnchorMs; the workflow fills it in at first start. */
  realAnchorMs?: number;
  virtualAnchorMs: number;
  speed: number;
}

/** Knobs of the workflow itself rather than of the schedule; defaults suit production. */
export interface PowerTuning {
  /** Real milliseconds between re-checks of an app held by a deployment, or after a failed read. Default 30 s. */
  deferRecheckMs?: number;
  /** Evaluations per run before continue-as-new (also when Temporal suggests it). Default 500. */
  maxIterationsPerRun?: number;
  /** Records kept in state; older ones are folded into the summary. Default 100. */
  maxRecords?: number;
  /** One API call's timeout. Default 30 s. */
  apiAttemptTimeoutMs?: number;
  /** Power-action heartbeat timeout: how fast a dead worker is noticed. Default 20 s. */
  heartbeatTimeoutMs?: number;
  /** Most CVMs one power-action activity acts on (one status read, calls 16 at a time). Default 200. */
  batchSize?: number;
  /**
   * Real milliseconds before a calendar change (or a lease's end) that the schedule wakes to read its CVMs, check
   * the deployment locks and start its batches, which hold their calls until the instant. Default 1,500.
   */
  leadMs?: number;
}

export type OverrideKind = 'keepRunning' | 'keepStopped' | 'skip' | 'pause';

/** An expiring lease (or a pause) set through an Update, with who asked for it, why and when (`at`). */
export interface Override extends AuditEntry {
  id: string;
  kind: OverrideKind;
  createdAtMs: number;
  /** skip: the instant of the skipped transition, from which the previous state is held. */
  fromMs?: number;
  /** Expiry (exclusive); absent for pause, which lasts until resume. */
  untilMs?: number;
  /** skip: the state held over the skipped transition. */
  holdState?: PowerState;
  /** skip: the state the calendar would have switched to. */
  skippedState?: string;
}

export type RecordKind =
  | 'action'
  | 'drift'
  | 'drift-resolved'
  | 'deferred'
  | 'failed'
  | 'transition'
  | 'override'
  | 'override-expired'
  | 'targets'
  | 'applied'
  | 'deleted'
  | 'error'
  /** An analysis after the schedule started CVMs: its verdict and reason (issue 23). */
  | 'analysis';

/** One entry of the schedule's audit trail. `atMs` is on the schedule's clock. */
export interface PowerRecord {
  seq: number;
  atMs: number;
  kind: RecordKind;
  /** Who asked, on records of control requests (overrides, pause, resume). */
  by?: string;
  cvmId?: string;
  app?: string;
  action?: PowerAction | 'shutdown';
  from?: string;
  to?: string;
  reason: string;
  /** For actions: how it ended ('done', 'already', 'issued', 'deferred', 'failed'), filled in when it ends. */
  outcome?: string;
  endedAtMs?: number;
}

/** What older records were folded into, so a long-lived schedule keeps counts without unbounded state. */
export interface RecordSummary {
  folded: number;
  sinceMs?: number;
  untilMs?: number;
  byKind: Partial<Record<RecordKind, number>>;
}

/** What the workflow remembers about one CVM between evaluations (and across continue-as-new). */
export interface CvmMemory {
  cvmId: string;
  name: string;
  app: string;
  status: string;
  inProgress: boolean;
  /** The state this CVM is owed because of a transition (or a failed action), and why. */
  owed?: PowerState;
  owedReason?: string;
  driftSinceMs?: number;
  failures: number;
  retryAtMs?: number;
  lastError?: string;
  /** The restart window already applied to this CVM. */
  restartedKey?: string;
  /** Why an owed action waits: paused, backoff, locked (a deployment holds the app) or skipped (onBusy: skip). */
  deferred?: string;
  lastAction?: { action: PowerAction; atMs: number; outcome?: string };
}

/** How runs from before the audit vocabulary (issue 24) carried an override: a `note` where `by, reason, at` are. */
export type LegacyOverride = Omit<Override, keyof AuditEntry> & { note: string };

/** State carried from one run to the next by continue-as-new. */
export interface CarriedState {
  /** Older runs hand over LegacyOverride entries; a new run upgrades them (power-carry.ts). */
  overrides: Override[];
  records: PowerRecord[];
  summary: RecordSummary;
  nextSeq: number;
  cvms: CvmMemory[];
  unresolved: UnresolvedTarget[];
  lastEffectiveKey?: string;
  applies: number;
  runs: number;
  overrideSeq: number;
  lastEvaluationMs?: number;
  /** The latest analyses after a start (issue 23), newest last; `measuring` while one runs. */
  analyses?: PowerAnalysis[];
}

/** One analysis after the schedule started CVMs: which, when, and what the metrics said. */
export interface PowerAnalysis {
  /** On the schedule's clock. */
  atMs: number;
  endedAtMs?: number;
  action: PowerAction;
  cvms: { cvmId: string; name: string }[];
  verdict: AnalysisResult['verdict'] | 'measuring' | 'cancelled';
  reason: string;
  metrics: AnalysisResult['metrics'];
}

export interface PowerScheduleInput {
  config: PowerConfig;
  clock?: ScheduleClock;
  tuning?: PowerTuning;
  carried?: CarriedState;
}

export interface UnresolvedTarget {
  target: string;
  reason: string;
}

/** One CVM as the batched read saw it. */
export interface TargetCvm {
  cvmId: string;
  name: string;
  /** The app whose deployment lock guards this CVM (its name, which the deploy workflow id is built from). */
  app: string;
  status: string;
  inProgress: boolean;
}

export interface TargetRead {
  cvms: TargetCvm[];
  unresolved: UnresolvedTarget[];
  /** Real time the listing behind this read started (it may have been made for another schedule). */
  listedAtMs?: number;
}

export interface PowerActionRequest {
  cvmId: string;
  app: string;
  action: PowerAction;
  stop: { action: StopAction; shutdownTimeoutMs: number };
  waitForState: boolean;
  waitTimeoutMs: number;
}

/** One activity acting on many CVMs with the same action and settings. */
export interface PowerBatchRequest extends Omit<PowerActionRequest, 'cvmId' | 'app'> {
  cvms: { cvmId: string; app: string }[];
  /**
   * When the workflow last checked these apps' deployment locks (workflow time, real ms). A check younger than a
   * couple of seconds is not repeated by the activity.
   */
  locksCheckedAtMs?: number;
  /** Real epoch ms before which no call is issued: the instant of the change this batch was prepared for. */
  notBeforeMs?: number;
}

/** Per CVM, in request order: what happened, or why it failed (the others are not held up by one failure). */
export type PowerBatchItem =
  | ({ cvmId: string } & PowerActionResult)
  | { cvmId: string; outcome: 'failed'; error: string; gone?: boolean };

/** Current statuses of known CVMs, read in one batch; `missing` ones no longer exist (or left the workspace). */
export interface StatusRead {
  statuses: Record<string, { status: string; inProgress: boolean }>;
  missing: string[];
}

export interface PowerActionResult {
  /** done: reached the state; already: nothing to do; issued: asked, not waited; deferred: app held by a deploy. */
  outcome: 'done' | 'already' | 'issued' | 'deferred';
  status: string;
  /** A graceful shutdown did not finish within its timeout and the CVM was force-stopped. */
  escalated?: boolean;
  elapsedMs: number;
}

export type DecisionKind = 'none' | PowerAction | 'defer';

export interface CvmDecision {
  cvmId: string;
  name: string;
  actual: string;
  desired: PowerState;
  decision: DecisionKind;
  drift: boolean;
  reason: string;
}

export interface InstantView {
  atMs: number;
  local: string;
  utc: string;
}

export interface TransitionView extends InstantView {
  state: string;
  source: string;
  /** Why this calendar change will not act: an override covers it, or it is skipped. */
  suppressedBy?: string;
}

export interface OverrideView extends Override {
  until?: InstantView;
  /** @deprecated the older name of `reason`, kept in views for scripts that read it. */
  note: string;
}

export interface CvmStatusView {
  cvmId: string;
  name: string;
  app: string;
  actual: string;
  desired: PowerState;
  inState: boolean;
  drift?: { sinceMs: number; since: string };
  owed?: PowerState;
  inFlight?: PowerAction;
  deferred?: string;
  failures: number;
  lastError?: string;
  retryAt?: string;
  lastAction?: CvmMemory['lastAction'];
}

export interface PowerStatus {
  name: string;
  mode: PowerMode;
  timezone: string;
  now: InstantView;
  paused?: AuditEntry & {
    sinceMs: number;
    /** @deprecated the older name of `reason`. */
    note: string;
  };
  calendarDesired: { state: string; source: string };
  desired: { state: PowerState; restart: boolean; cause: string };
  cvms: CvmStatusView[];
  unresolved: UnresolvedTarget[];
  overrides: OverrideView[];
  nextTransitions: TransitionView[];
  recent: PowerRecord[];
  summary: RecordSummary;
  lastEvaluation?: InstantView;
  /** When this run last listed the fleet: `cvms` holds every target CVM that existed then. */
  lastListing?: InstantView;
  run: { runs: number; iteration: number; applies: number };
  /** The latest analyses after a start, with every metric's measurements (query, value, verdict). */
  analyses?: PowerAnalysis[];
}

export interface EvaluationReport {
  atMs: number;
  desired: { state: PowerState; restart: boolean; cause: string };
  decisions: CvmDecision[];
  unresolved: UnresolvedTarget[];
  readError?: string;
}

export interface ApplyResult {
  /** True when this apply started the schedule. */
  created: boolean;
  /** The top-level spec fields that differ from what the schedule ran before. */
  changed: string[];
  /** The evaluation that ran right after the apply: what changes now. */
  evaluation: EvaluationReport;
  nextTransitions: TransitionView[];
}

export interface PowerScheduleResult {
  name: string;
  stoppedAtMs: number;
  summary: RecordSummary;
  recent: PowerRecord[];
}

export interface LeaseRequest extends AuditRequest {
  /** ISO 8601 instant with an offset or Z, on the schedule's clock. */
  until: string;
}

export interface ResumeResult extends AuditEntry {
  resumedAtMs: number;
  pausedForMs: number;
}

export const powerStatusQuery = defineQuery<PowerStatus>('status');
/**
 * Asked by a batch prepared ahead of its instant when its hold ends: whether the schedule still wants its calls (not
 * paused, not superseded). A pause reaches the activity this way at once, where a cancellation waits for a
 * heartbeat that the SDK may hold back for most of the heartbeat timeout.
 */
export const powerHeldBatchWantedQuery = defineQuery<boolean, [{ cvmIds: string[]; notBeforeMs: number }]>(
  POWER_HELD_BATCH_WANTED_QUERY,
);
export const powerApplyUpdate = defineUpdate<ApplyResult, [PowerConfig]>('apply');
export const powerKeepRunningUntilUpdate = defineUpdate<OverrideView, [LeaseRequest]>('keepRunningUntil');
export const powerKeepStoppedUntilUpdate = defineUpdate<OverrideView, [LeaseRequest]>('keepStoppedUntil');
export const powerSkipNextTransitionUpdate = defineUpdate<OverrideView, [AuditRequest]>('skipNextTransition');
export const powerPauseUpdate = defineUpdate<OverrideView, [AuditRequest]>('pause');
export const powerResumeUpdate = defineUpdate<ResumeResult, [AuditRequest]>('resume');

/** One schedule per name. */
export const powerWorkflowId = (name: string) => `power-${name}`;

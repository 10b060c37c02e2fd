// Types and message definitions shared by the rollout workflows, their activities and their clients (no I/O).
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { MetricState } from '../analysis/run';
import type { AnalysisResult, MetricResult, MetricSpec, Verdict } from '../analysis/types';
import type { Calendar } from '../calendar';
import type { AuditEntry, AuditRequest } from '../domain/audit-input';
import type { RestorePatch } from './compose-update-types';
import type { AttestationGate, DeployStatus } from './deploy-types';
import type { ScheduleClock } from './power-types';

export type { RestorePatch };

/** A number of CVMs, or a percentage of the rollout's targets. */
export type Size = { count: number } | { percent: number };

/** A pause between waves: a duration, or until someone promotes the rollout. */
export type Pause = { manual: true } | { ms: number };

/** The window calendar's states: waves start only while it is `open`. */
export type WindowState = 'open' | 'closed' | 'frozen';

export interface RolloutTargets {
  /** App names: every live CVM carrying the name. */
  apps: string[];
  /** CVM ids: vm_uuid (with or without dashes), `cvm_…` id or instance id. */
  cvms: string[];
  /** A glob over CVM names (`*`, `?`), resolved once when the rollout starts. */
  selector?: { name: string };
}

/** The new version. No secrets: env values arrive sealed (src/secrets/sealed-env.ts). */
export interface RolloutVersion {
  /** Absent: the compose stays as it is (an env-only rollout). */
  dockerCompose?: string;
  preLaunchScript?: string;
  /** The env keys the CVMs may receive; set together with sealedEnv. */
  allowedEnvs?: string[];
  sealedEnv?: string;
}

export interface HttpCheck {
  /** URL template: {cvmId}, {appId}, {app} are filled in per CVM. */
  url: string;
  /** Accepted response statuses; default 200–399. */
  expectStatus?: number[];
  intervalMs: number;
  timeoutMs: number;
}

export interface RolloutStrategy {
  canary?: { size: Size; pause: Pause };
  /** CVMs per wave after the canary; default maxParallel. */
  waveSize?: Size;
  /** CVM updates in flight at once, across the whole fleet. */
  maxParallel: number;
  /** Target CVMs that may be unavailable at once (being updated, or failed and not reverted). */
  maxUnavailable: Size;
  /** Pause between waves (after the canary: canary.pause). */
  pause: Pause;
  /** A random wait of up to this long before each CVM's update, so a wave's restarts spread out. */
  jitterMs: number;
}

export interface RolloutConfig {
  name: string;
  targets: RolloutTargets;
  version: RolloutVersion;
  strategy: RolloutStrategy;
  /** A CVM counts as updated once it runs the new compose and stays healthy this long. */
  /** `attestation`: each CVM's gate also requires its attestation to prove the rolled-out compose (spec `attestation`). */
  health: { minHealthyMs: number; http?: HttpCheck; attestation?: AttestationGate };
  /** cvmMs: from a CVM's first call to healthy; waveMs: from a wave's start to its last CVM done. */
  deadlines: { cvmMs: number; waveMs: number };
  /** Failed CVMs the rollout tolerates; one more stops it. */
  failureBudget: Size;
  /** Revert a failed CVM at once, and every updated CVM when the rollout stops on a failure. */
  autoRevert: boolean;
  /** An app held by another deployment: wait for it, or skip its CVMs in this wave. */
  onBusy: 'wait' | 'skip';
  windows?: { calendar: Calendar; onWindowEnd: 'finish' | 'pause' };
  /**
   * Metrics measured after each wave's CVMs are healthy. A failed analysis spends one of the failure budget
   * (`budget`) or fails the rollout (`abort`, then autoRevert puts the CVMs back); an analysis that errs (no usable
   * answers) or is inconclusive pauses the rollout until someone resumes or aborts it.
   */
  analysis?: {
    /** Empty when only a background analysis is given. */
    metrics: MetricSpec[];
    onFailure: 'budget' | 'abort';
    /**
     * Measured from the first wave's start until the rollout ends, each metric on its own interval (Argo's
     * background analysis; `count: 0` = until the end). A failure fails the rollout at once (autoRevert puts the
     * CVMs back); errors and inconclusive results pause it, like a wave's analysis.
     */
    background?: { metrics: MetricSpec[] };
  };
}

/** A wave's metric analysis as the status shows it. */
export interface WaveAnalysis extends AnalysisResult {
  wave: number;
  atMs: number;
}

/** One background metric as the rollout carries it (issue 23). */
export interface BackgroundMetric {
  name: string;
  /** The runner's state after the last measurement (its tally and kept measurements), handed to the next one. */
  state?: MetricState;
  /** The last measurement's judgement, as the status shows it. */
  result?: MetricResult;
  /** Workflow (real) time of the next measurement. */
  nextAtMs: number;
  /** This metric failed the rollout. */
  failed?: boolean;
}

/** The rollout's background analysis, carried across continue-as-new. */
export interface BackgroundAnalysis {
  /** On the rollout's clock. */
  startedAtMs: number;
  metrics: BackgroundMetric[];
  ended?: { atMs: number; verdict: Verdict; reason: string };
}

/** The background analysis in the status: `measuring` until it (or a metric) has its verdict. */
export interface BackgroundAnalysisView {
  verdict: Verdict | 'measuring';
  reason: string;
  startedAtMs: number;
  endedAtMs?: number;
  metrics: (Omit<MetricResult, 'verdict'> & { verdict: Verdict | 'measuring' })[];
}

/** Knobs of the workflows themselves rather than of the rollout; defaults suit production. */
export interface RolloutTuning {
  /** Waves per run of the rollout workflow before continue-as-new (also when Temporal suggests it). Default 20. */
  maxWavesPerRun?: number;
  /** CVM updates per run of a wave workflow before it drains and continues as new. Default 100. */
  maxCvmsPerWaveRun?: number;
  /** How often a wait for another deployment's lock re-checks it. Default 5 s. */
  lockPollMs?: number;
  /** One API call's timeout. Default 30 s. */
  apiAttemptTimeoutMs?: number;
  /** Heartbeat timeout of watches and health gates: how fast a dead worker is noticed. Default 20 s. */
  heartbeatTimeoutMs?: number;
  /** Status polling interval of the health gate's hold. Default 1 s. */
  healthPollMs?: number;
  /** SSE watch parameters (API ranges: interval 5–30 s, timeout 10–600 s). */
  watch?: { intervalS: number; timeoutS: number };
  /** Audit records kept in state; older ones are counted only. Default 200. */
  maxRecords?: number;
}

export interface RolloutInput {
  config: RolloutConfig;
  /**
   * The rollout's clock (tests and demos; real time when absent). Windows, pauses between waves and override
   * expiries run on it; API calls, deadlines and health holds are real time.
   */
  clock?: ScheduleClock;
  tuning?: RolloutTuning;
  carried?: RolloutCarried;
}

// ---------------------------------------------------------------------------------------------------------------
// Targets and plan

/** One target CVM as resolved when the rollout started. */
export interface TargetCvm {
  cvmId: string;
  name: string;
  /** The app whose deployment lock guards the CVM (its name: the deploy workflow id is built from it). */
  app: string;
  appId: string;
  status: string;
  composeHash?: string;
  /** An on-chain KMS app: a new compose hash must be on its contract's allow-list before the commit. */
  onChain?: boolean;
}

export interface WavePlan {
  index: number;
  kind: 'canary' | 'wave';
  /** Indexes into the plan's CVM list. */
  first: number;
  count: number;
}

export type CvmState =
  | 'pending'
  | 'waiting-lock'
  | 'updating'
  | 'healthy'
  | 'already'
  | 'skipped'
  | 'failed'
  | 'reverting'
  | 'reverted'
  | 'revert-failed'
  | 'diverged';

/** What the rollout knows about one CVM. `from`/`to` are compose hashes; `restore` keys the restore patch. */
export interface CvmRecord {
  cvmId: string;
  name: string;
  app: string;
  appId: string;
  wave: number;
  state: CvmState;
  reason?: string;
  from?: string;
  to?: string;
  restore?: string;
  /** The accepted attestation's evidence, in one line (when the rollout requires attestation). */
  attested?: string;
  startedAtMs?: number;
  endedAtMs?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Waves (child workflows)

/** What the rollout tells a running wave; the latest signal wins. */
export interface WaveControl {
  /** Start no new CVM update until released (pause, or the window closed with onWindowEnd: pause). */
  hold: boolean;
  /** Start no new CVM update again (abort); in-flight ones finish. */
  stop: boolean;
  reason?: string;
}

export interface WaveInput {
  rolloutId: string;
  rolloutName: string;
  wave: number;
  mode: 'update' | 'revert';
  cvms: CvmRecord[];
  version: RolloutVersion;
  strategy: Pick<RolloutStrategy, 'maxParallel' | 'jitterMs'>;
  /** The rollout's maxUnavailable, in CVMs. */
  maxUnavailable: number;
  /** Target CVMs already unavailable when the wave starts (failed earlier and not reverted). */
  unavailableBefore: number;
  /** Failures this wave may still have; one more and it stops (budget exceeded). */
  failuresLeft: number;
  health: RolloutConfig['health'];
  deadlines: RolloutConfig['deadlines'];
  autoRevert: boolean;
  onBusy: RolloutConfig['onBusy'];
  /** Restore patches by key (revert mode), and the keys the rollout already holds (update mode). */
  restores: Record<string, RestorePatch>;
  knownRestoreKeys: string[];
  control: WaveControl;
  tuning: RolloutTuning;
  carried?: WaveCarried;
}

/** One app's share of a wave, run as a child workflow under the app's deployment id `deploy-<app>`. */
export interface AppInput {
  rolloutId: string;
  wave: number;
  app: string;
  mode: 'update' | 'revert';
  cvms: CvmRecord[];
  version: RolloutVersion;
  /** CVM updates this app may have in flight: the slots the wave gave it. */
  concurrency: number;
  jitterMs: number;
  /** Failures the app may still have before it stops starting updates (the rollout's remaining budget). */
  failuresLeft: number;
  health: RolloutConfig['health'];
  cvmDeadlineMs: number;
  autoRevert: boolean;
  restores: Record<string, RestorePatch>;
  knownRestoreKeys: string[];
  control: WaveControl;
  tuning: RolloutTuning;
}

export interface AppResult {
  app: string;
  cvms: CvmRecord[];
  restores: Record<string, RestorePatch>;
  failures: number;
  /** Set when the app's run was cancelled (wave deadline, or `cvmflow deploy cancel <app>`). */
  cancelled?: boolean;
}

export interface WaveCarried {
  cvms: CvmRecord[];
  restores: Record<string, RestorePatch>;
  startedAtMs: number;
  failures: number;
  runs: number;
  events: WaveEvent[];
}

export interface WaveEvent {
  atMs: number;
  text: string;
}

export interface WaveResult {
  wave: number;
  cvms: CvmRecord[];
  /** Restore patches first seen in this wave. */
  restores: Record<string, RestorePatch>;
  failures: number;
  outcome: 'done' | 'budget-exceeded' | 'deadline-exceeded' | 'stopped' | 'blocked';
  reason?: string;
  events: WaveEvent[];
  startedAtMs: number;
  endedAtMs: number;
}

/** An app workflow's `status`: the deploy view of the app, and the rollout's records of its CVMs. */
export interface RolloutAppStatus extends DeployStatus {
  rollout: { rolloutId: string; wave: number; mode: 'update' | 'revert'; cvms: CvmRecord[] };
}

export interface WaveStatus {
  wave: number;
  mode: 'update' | 'revert';
  control: WaveControl;
  /** Slots in use (CVM updates that may be in flight). */
  inFlight: number;
  /** The running app workflows (`deploy-<app>`); query them for live per-CVM state. */
  running: string[];
  unavailable: number;
  failures: number;
  cvms: CvmRecord[];
  events: WaveEvent[];
  run: number;
}

// ---------------------------------------------------------------------------------------------------------------
// The rollout

export type RolloutPhase =
  | 'starting'
  | 'waiting-window'
  | 'frozen'
  | 'paused'
  | 'awaiting-promotion'
  /** A wave's metric analysis runs (issue 23). */
  | 'analysing'
  | 'pausing'
  | 'updating'
  | 'reverting'
  | 'succeeded'
  | 'failed'
  | 'aborted';

export type OverrideKind = 'skipWindow' | 'liftFreeze';

/** Who asked for a control action and why; `note` repeats `reason` for readers of the older field. */
export interface RolloutAudit extends AuditEntry {
  /** @deprecated the older name of `reason`, kept with the same value. */
  note: string;
}

export interface Override extends RolloutAudit {
  id: string;
  kind: OverrideKind;
  createdAtMs: number;
  /** Exclusive end on the rollout's clock; absent for skipWindow: until the next wave ends. */
  untilMs?: number;
}

export interface AuditRecord {
  seq: number;
  atMs: number;
  text: string;
}

export interface WaveSummary {
  index: number;
  kind: WavePlan['kind'];
  mode: 'update' | 'revert';
  startedAtMs: number;
  endedAtMs?: number;
  outcome?: WaveResult['outcome'];
  counts?: Partial<Record<CvmState, number>>;
}

export interface PausedState extends RolloutAudit {
  sinceMs: number;
}

export interface AbortState extends RolloutAudit {
  revert: boolean;
  atMs: number;
}

/** State carried from one run to the next by continue-as-new. */
export interface RolloutCarried {
  /** When the targets were resolved (on the rollout's clock), and what the selector and lists matched. */
  resolved: { atMs: number; apps: number; selector?: string };
  waves: WavePlan[];
  cvms: CvmRecord[];
  restores: Record<string, RestorePatch>;
  nextWave: number;
  failures: number;
  overrides: Override[];
  overrideSeq: number;
  records: AuditRecord[];
  foldedRecords: number;
  nextSeq: number;
  waveLog: WaveSummary[];
  paused?: PausedState;
  abort?: AbortState;
  /** The wave whose manual pause was promoted (the pause before it is over). */
  promotedWave?: number;
  /** The latest waves' metric analyses (issue 23). */
  analyses?: WaveAnalysis[];
  /** The background analysis, once the first wave started (issue 23). */
  background?: BackgroundAnalysis;
  startedAtMs: number;
  runs: number;
}

export interface WindowView {
  /** The calendar's zone: local times given to overrides are read in it. */
  timezone: string;
  state: WindowState;
  /** After overrides: whether a wave may start now. */
  open: boolean;
  cause: string;
  nextChange?: { atMs: number; at: string; state: string };
}

export interface RolloutStatus {
  rolloutId: string;
  name: string;
  phase: RolloutPhase;
  /** Why the rollout waits, when it does. */
  waiting?: string;
  nowMs: number;
  targets: number;
  waves: { total: number; next: number; log: WaveSummary[] };
  /** The running wave's workflow id; query it for live per-CVM state (the client merges it in). */
  currentWave?: { index: number; workflowId: string; mode: 'update' | 'revert' };
  counts: Partial<Record<CvmState, number>>;
  failures: { count: number; budget: number };
  limits: { maxParallel: number; maxUnavailable: number };
  window?: WindowView;
  overrides: Override[];
  paused?: PausedState;
  abort?: AbortState;
  cvms: CvmRecord[];
  records: AuditRecord[];
  foldedRecords: number;
  run: number;
  /** The latest waves' metric analyses, with every metric's measurements (query, value, verdict). */
  analyses?: WaveAnalysis[];
  /** The background analysis across the rollout, with every metric's latest measurements. */
  background?: BackgroundAnalysisView;
}

export interface RolloutResult {
  rolloutId: string;
  name: string;
  outcome: 'succeeded' | 'aborted' | 'failed';
  reason?: string;
  counts: Partial<Record<CvmState, number>>;
  waves: WaveSummary[];
  cvms: CvmRecord[];
  startedAtMs: number;
  endedAtMs: number;
}

/** A control request: who asks (`by`) and why (`reason`; `note` is its older name, still accepted). */
export type RolloutControlRequest = AuditRequest;
/** @deprecated the older name of RolloutControlRequest. */
export type NoteRequest = RolloutControlRequest;

export interface AbortRequest extends RolloutControlRequest {
  /** Put every CVM the rollout updated back on its previous compose. */
  revert?: boolean;
}

export interface OverrideRequest extends RolloutControlRequest {
  /** ISO 8601 instant with an offset or Z, on the rollout's clock. Required for liftFreeze. */
  until?: string;
}

export interface ControlAck {
  phase: RolloutPhase;
  message: string;
}

// Every workflow kind answers `status`; the older wire names stay as aliases answered by the same handler.
export const rolloutStatusQuery = defineQuery<RolloutStatus>('status');
/** @deprecated wire name before `status`; the same handler answers it. */
export const rolloutStatusQueryAlias = defineQuery<RolloutStatus>('rolloutStatus');
export const rolloutPauseUpdate = defineUpdate<ControlAck, [RolloutControlRequest]>('pause');
export const rolloutResumeUpdate = defineUpdate<ControlAck, [RolloutControlRequest]>('resume');
export const rolloutAbortUpdate = defineUpdate<ControlAck, [AbortRequest]>('abort');
export const rolloutPromoteUpdate = defineUpdate<ControlAck, [RolloutControlRequest]>('promote');
export const rolloutSkipWindowUpdate = defineUpdate<Override, [OverrideRequest]>('skipWindow');
export const rolloutLiftFreezeUpdate = defineUpdate<Override, [OverrideRequest]>('liftFreeze');

export const rolloutWaveStatusQuery = defineQuery<WaveStatus>('status');
/** @deprecated wire name before `status`; the same handler answers it. */
export const rolloutWaveStatusQueryAlias = defineQuery<WaveStatus>('waveStatus');
/**
 * An app workflow runs under the app's deployment id, so its `status` is the deploy view (what `cvmflow deploy
 * status <app>` shows) with the rollout's per-CVM records in `rollout.cvms`.
 */
export const rolloutAppStatusQuery = defineQuery<RolloutAppStatus>('status');
/** @deprecated wire name before `status`: the app's CVM records alone. */
export const rolloutAppStatusQueryAlias = defineQuery<CvmRecord[]>('rolloutAppStatus');
export const waveControlSignal = defineSignal<[WaveControl]>('waveControl');

/** A rollout started by hand; a Schedule's runs get the nominal time appended by the server. */
export const rolloutWorkflowId = (name: string) => `rollout-${name}`;
export const waveWorkflowId = (rolloutId: string, wave: number, mode: 'update' | 'revert') =>
  `${rolloutId}-${mode === 'update' ? 'wave' : 'revert'}-${wave}`;

/** Hard cap on targets: every CVM's record travels in the rollout's state (history payload limits). */
export const MAX_ROLLOUT_TARGETS = 2000;

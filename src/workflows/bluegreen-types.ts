// Types and message definitions shared by the blue-green workflow, its activities and its clients (no I/O).
//
// Words: "blue" is the deployment serving the app's traffic when a run starts, "green" the new one the run deploys
// beside it. Each is its own Phala app named `<app>-<slot>-<id>`, where the slot colour alternates between runs so
// that two live deployments of an app never share a colour; the roles blue and green are what the status reports.
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { AnalysisResult, MetricSpec } from '../analysis/types';
import type { AuditRequest } from '../domain/audit-input';
import type { AnalysisSpec, HealthCheckSpec } from '../spec/bluegreen';
import type { DeployInput } from './deploy-types';

export type Slot = 'blue' | 'green';

/** The health gate as the spec gave it (one definition, documented in the spec). */
export type HealthCheck = HealthCheckSpec;

/** A web analysis as the spec gave it (one definition, documented in the spec). */
export type AnalysisCheck = AnalysisSpec;

/** An analysis by metrics (web, prometheus, job; src/analysis) instead of one web check. */
export interface MetricAnalysis {
  metrics: MetricSpec[];
}

/** A finished metric analysis as the status shows it: which step, and every metric's measurements and verdict. */
export interface AnalysisReport extends AnalysisResult {
  step: 'pre-promotion' | 'post-promotion';
  atMs: number;
}

/** Where route changes go. Only the *name* of the HMAC key's env variable travels; the worker reads the value. */
export type RouterConfig =
  | { type: 'local'; controlUrl: string; secretEnv: string; timeoutMs: number }
  | { type: 'webhook'; url: string; secretEnv: string; timeoutMs: number };

export interface BlueGreenPolicy {
  autoPromote: boolean;
  autoPromoteAfterMs: number;
  previewTtlMs: number;
  minHealthyMs: number;
  health: HealthCheck;
  analysis: { prePromotion?: AnalysisCheck | MetricAnalysis; postPromotion?: AnalysisCheck | MetricAnalysis };
  scaleDownDelayMs: number;
  blueDuringDelay: 'running' | 'stopped';
  abortPolicy: 'delete' | 'stop';
  router: RouterConfig;
}

/** Who asked for something and why: every trigger and control action carries one. */
export interface Actor {
  by: string;
  reason: string;
}

/** An actor as the audit trail keeps it: with the instant (ISO 8601, the workflow's clock) it was recorded. */
export interface AuditedActor extends Actor {
  at: string;
}

export interface Trigger extends Actor {
  /** Idempotency key of the trigger (a webhook's delivery id, or one the CLI makes up). */
  triggerId: string;
}

/** One live deployment of the app: a Phala app with its CVMs and the endpoint traffic is sent to. */
export interface Deployment {
  /** The Phala app's name, e.g. `web-green-3fa2c1`. */
  name: string;
  slot: Slot;
  appId: string;
  composeHash: string;
  cvmIds: string[];
  /** The app endpoint the router sends traffic to (Phala's gateway URL of the app). */
  url: string;
  /** Each CVM's own endpoint; the health gate checks every one. */
  instanceUrls: string[];
}

export interface BlueGreenTuning {
  apiAttemptTimeoutMs?: number;
  heartbeatTimeoutMs?: number;
}

export interface BlueGreenInput {
  /** The logical app: the workflow is `bluegreen-<app>`, its deployments `<app>-<slot>-<id>`. */
  app: string;
  /** The deploy pipeline's input for green; its `app` is replaced by green's name. */
  deploy: DeployInput;
  policy: BlueGreenPolicy;
  trigger: Trigger;
  /** The deployment the previous run left serving (from its memo); checked against Phala before use. */
  recordedActive?: Deployment;
  tuning?: BlueGreenTuning;
}

export type BlueGreenPhase =
  | 'starting'
  | 'deploying'
  | 'health-gate'
  | 'pre-analysis'
  | 'preview'
  | 'switching'
  | 'post-analysis'
  | 'warm'
  | 'retiring'
  | 'tearing-down'
  | 'done';

/** How a run ended: promoted (green serves, blue retired) or one of the ways blue kept or got the traffic back. */
export type BlueGreenOutcome = 'promoted' | 'aborted' | 'rolled-back' | 'expired' | 'failed';

export interface HistoryEntry {
  atMs: number;
  phase: BlueGreenPhase;
  /** `phase`, `promote`, `abort`, `rollback`, `pause`, `resume`, `finish`, `switch`, `health`, `analysis`, `error` */
  kind: string;
  detail: string;
  /** Who and why, on entries a person (or cvmflow itself) asked for; `at` is `atMs` as ISO 8601. */
  by?: string;
  reason?: string;
  at?: string;
}

export interface BlueGreenStatus {
  app: string;
  phase: BlueGreenPhase;
  outcome?: BlueGreenOutcome;
  trigger: Trigger;
  blue?: Deployment;
  /** Green's name is known once blue is found; the rest once it is deployed. */
  green?: { name: string; slot: Slot } & Partial<Deployment>;
  /** Which deployment the active route sends traffic to, as far as the router confirmed. */
  active: 'blue' | 'green' | 'none';
  /** Whether the preview route points at green. */
  preview: boolean;
  greenHealthy: boolean;
  health?: string;
  promotion: {
    mode: 'manual' | 'automatic';
    waiting: boolean;
    /** When automatic promotion happens (absent while paused or manual). */
    autoAtMs?: number;
    /** When an unpromoted preview is aborted. */
    expiresAtMs?: number;
    paused?: AuditedActor & { atMs: number };
    promotedAtMs?: number;
    promotedBy?: string;
  };
  /** Until when a rollback to blue is possible (blue kept warm). */
  rollbackUntilMs?: number;
  history: HistoryEntry[];
  lastError?: string;
  /** Metric analyses finished so far, with every metric's measurements (query, value, verdict). */
  analyses?: AnalysisReport[];
}

export interface BlueGreenResult {
  app: string;
  outcome: BlueGreenOutcome;
  /** The deployment serving the app now (recorded for the next run). */
  active?: Deployment;
  green: string;
  summary: string;
  history: HistoryEntry[];
}

/** What an abort or rollback did, step by step. */
export interface TeardownReport {
  phase: BlueGreenPhase;
  outcome: BlueGreenOutcome;
  actions: string[];
  /** Time from the request to traffic being on blue again. */
  trafficBackMs?: number;
}

export interface PromoteResult {
  promotedAtMs: number;
  green: string;
  /** `post-analysis` or `warm`: what the run does now. */
  phase: BlueGreenPhase;
}

/** The memo a run keeps, so the next run (and `status`) knows what serves the app even after a failure. */
export interface BlueGreenMemo {
  triggerId: string;
  active?: Deployment;
}

export const blueGreenStatusQuery = defineQuery<BlueGreenStatus>('status');
// Every control request is an AuditRequest: `by` and `reason` (or `note`, its older name) are required here.
export const blueGreenPromoteUpdate = defineUpdate<PromoteResult, [AuditRequest]>('promote');
export const blueGreenAbortUpdate = defineUpdate<TeardownReport, [AuditRequest]>('abort');
export const blueGreenRollbackUpdate = defineUpdate<TeardownReport, [AuditRequest]>('rollback');
export const blueGreenPauseUpdate = defineUpdate<BlueGreenStatus['promotion'], [AuditRequest]>('pause');
export const blueGreenResumeUpdate = defineUpdate<BlueGreenStatus['promotion'], [AuditRequest]>('resume');
/** Ends the warm period now: blue is retired without waiting out scaleDownDelay (also used by a new trigger). */
export const blueGreenFinishUpdate = defineUpdate<{ retired: string[] }, [AuditRequest]>('finish');

/** What the trigger workflow's one activity is asked: launch a run for this input (see launchBlueGreen). */
export interface LaunchRequest {
  input: BlueGreenInput;
  onTrigger: 'reject' | 'supersede';
}

export interface LaunchOutcome {
  status: 'started' | 'rejected';
  workflowId: string;
  runId: string;
  /** Why a trigger was rejected: the run in progress and its phase. */
  reason?: string;
  /** The run this trigger ended first: aborted (supersede) or finished early (its blue retired). */
  superseded?: { runId: string; phase: string; action: 'abort' | 'finish' };
}

/** One blue-green deployment per app at a time: the workflow id is the app's. */
export const blueGreenWorkflowId = (app: string) => `bluegreen-${app}`;

/**
 * Names green: `<app>-<id>`, a short id of the run — its last hex digits, the random part (run ids are UUIDv7, whose
 * first digits are a timestamp shared by nearby runs). Blue and green are roles that a deployment changes on
 * promotion, so the name carries no colour; runs recorded before the `instance-names-without-colour` patch named
 * the slot (`<app>-green-<id>`), and `colourInName` keeps that for their replay. The slot still alternates.
 */
export function greenName(
  app: string,
  blue: Pick<Deployment, 'slot'> | undefined,
  runId: string,
  colourInName = false,
) {
  const slot: Slot = blue?.slot === 'green' ? 'blue' : 'green';
  const id = runId.replace(/-/g, '').slice(-6).toLowerCase();
  return { slot, name: colourInName ? `${app}-${slot}-${id}` : `${app}-${id}` };
}

/** Memo key under which a run records its trigger and the active deployment. */
export const MEMO_KEY = 'bluegreen';

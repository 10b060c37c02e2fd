// Typed client functions for fleet rollouts and the Temporal Schedules that start them, shared by the CLI, the
// tests, the benchmark and anyone embedding cvmflow.
import {
  type CalendarSpec,
  type Client,
  isGrpcServiceError,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { DateTime } from 'luxon';
import type { AuditRequest } from '../domain/audit-input';
import { sealEnv } from '../secrets/sealed-env';
import { resolveEnv } from '../spec';
import type { RolloutSpec } from '../spec/rollout';
import type { CodecKey } from '../temporal/codec';
import { SA_KIND, SA_PHASE } from '../workflows/deploy-types';
import type { ScheduleClock } from '../workflows/power-types';
import type { rollout } from '../workflows/rollout';
import {
  type ControlAck,
  type CvmRecord,
  type Override,
  type RolloutConfig,
  type RolloutInput,
  type RolloutStatus,
  type RolloutTuning,
  rolloutAbortUpdate,
  rolloutAppStatusQuery,
  rolloutLiftFreezeUpdate,
  rolloutPauseUpdate,
  rolloutPromoteUpdate,
  rolloutResumeUpdate,
  rolloutSkipWindowUpdate,
  rolloutStatusQuery,
  rolloutWaveStatusQuery,
  rolloutWorkflowId,
  type WaveStatus,
} from '../workflows/rollout-types';
import { attestationCheck } from './deploy';
import { askWorkflow, isWorkflowNotFound } from './requests';

export type RolloutHandle = WorkflowHandle<typeof rollout>;

/** The rollout refused a request (its validator said why); nothing was recorded. */
export class RolloutRequestRejectedError extends Error {
  readonly code = 'ROLLOUT_REJECTED';
}

export class RolloutNotFoundError extends Error {
  readonly code = 'ROLLOUT_NOT_FOUND';
  constructor(readonly rollout: string) {
    super(
      `no rollout ${rollout} (tried workflow ids ${rollout} and ${rolloutWorkflowId(rollout)}); list them with \`cvmflow rollout list\``,
    );
  }
}

export class RolloutBusyError extends Error {
  readonly code = 'ROLLOUT_BUSY';
  constructor(
    readonly workflowId: string,
    readonly runId: string,
  ) {
    super(
      `rollout ${workflowId} is already running (run ${runId}); follow it with \`cvmflow rollout status ${workflowId}\` or abort it first`,
    );
  }
}

/** The workflow's form of a spec. Env values go in sealed, never in plaintext. */
export function toRolloutConfig(spec: RolloutSpec, sealedEnv: string | undefined): RolloutConfig {
  const { compose, env } = spec.version;
  return {
    name: spec.name,
    targets: spec.targets,
    version: {
      ...(compose
        ? {
            dockerCompose: compose.dockerCompose,
            ...(compose.preLaunchScript ? { preLaunchScript: compose.preLaunchScript } : {}),
          }
        : {}),
      ...(env ? { allowedEnvs: Object.keys(env).sort() } : {}),
      ...(sealedEnv ? { sealedEnv } : {}),
    },
    strategy: spec.strategy,
    health: { ...spec.health, ...attestationCheck(spec.attestation) },
    deadlines: spec.deadlines,
    failureBudget: spec.failureBudget,
    autoRevert: spec.autoRevert,
    onBusy: spec.onBusy,
    ...(spec.windows ? { windows: spec.windows } : {}),
    ...(spec.analysis ? { analysis: spec.analysis } : {}),
  };
}

export interface RolloutInputOptions {
  /** The codec key ring that seals env values (the worker must hold the same keys). */
  codecKeys?: CodecKey[];
  /** Where env values are read from (`fromEnv`); defaults to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Runs windows and pauses on a scaled clock (tests and demos); real time when absent. */
  clock?: ScheduleClock;
  tuning?: RolloutTuning;
}

export function toRolloutInput(spec: RolloutSpec, opts: RolloutInputOptions = {}): RolloutInput {
  const vars = spec.version.env ? resolveEnv(spec.version.env, { env: opts.env ?? process.env }) : [];
  const sealed = vars.length ? sealEnv(vars, opts.codecKeys) : undefined;
  return {
    config: toRolloutConfig(spec, sealed),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.tuning ? { tuning: opts.tuning } : {}),
  };
}

export interface StartRolloutOptions extends RolloutInputOptions {
  client: Client;
  taskQueue: string;
}

const searchAttributes = [
  { key: SA_KIND, value: 'rollout' },
  { key: SA_PHASE, value: 'starting' },
];

/** Starts `rollout-<name>`; one run per name at a time. */
export async function startRollout(
  spec: RolloutSpec,
  opts: StartRolloutOptions,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof rollout>> {
  const workflowId = rolloutWorkflowId(spec.name);
  try {
    return await opts.client.workflow.start<typeof rollout>('rollout', {
      taskQueue: opts.taskQueue,
      workflowId,
      args: [toRolloutInput(spec, opts)],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: searchAttributes,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const { runId } = await opts.client.workflow.getHandle(workflowId).describe();
    throw new RolloutBusyError(workflowId, runId);
  }
}

/** A rollout by workflow id (scheduled runs carry the nominal time) or by name (`rollout-<name>`). */
export async function resolveRolloutId(client: Client, rolloutOrName: string): Promise<string> {
  for (const id of [rolloutOrName, rolloutWorkflowId(rolloutOrName)]) {
    try {
      await client.workflow.getHandle(id).describe();
      return id;
    } catch (err) {
      if (!isWorkflowNotFound(err)) throw err;
    }
  }
  throw new RolloutNotFoundError(rolloutOrName);
}

export async function rolloutHandle(client: Client, rolloutOrName: string): Promise<RolloutHandle> {
  return client.workflow.getHandle<typeof rollout>(await resolveRolloutId(client, rolloutOrName));
}

export interface RolloutStatusView extends RolloutStatus {
  /** The workflow's own status: RUNNING, COMPLETED, FAILED, CANCELLED, … */
  workflowStatus: string;
  /** The running wave as it sees itself right now (its CVMs are merged into `cvms`). */
  wave?: Omit<WaveStatus, 'cvms'>;
}

/** The rollout's status with the running wave's live per-CVM state merged in. */
export async function getRolloutStatus(client: Client, rolloutOrName: string): Promise<RolloutStatusView> {
  const handle = await rolloutHandle(client, rolloutOrName);
  const [status, description] = await Promise.all([handle.query(rolloutStatusQuery), handle.describe()]);
  const view: RolloutStatusView = { ...status, workflowStatus: description.status.name };
  if (!status.currentWave) return view;
  const live = await client.workflow
    .getHandle(status.currentWave.workflowId)
    .query(rolloutWaveStatusQuery)
    .catch(() => undefined);
  if (!live) return view;
  // The wave's own records lag for apps being updated right now: their app workflows have the live state.
  const inApps = await Promise.all(
    live.running.map((id) =>
      client.workflow
        .getHandle(id)
        .query(rolloutAppStatusQuery)
        .then((s) => s.rollout.cvms)
        .catch(() => []),
    ),
  );
  const byId = new Map<string, CvmRecord>([...live.cvms, ...inApps.flat()].map((c) => [c.cvmId, c]));
  const { cvms: _, ...wave } = live;
  return { ...view, cvms: status.cvms.map((c) => byId.get(c.cvmId) ?? c), wave };
}

async function control<T>(client: Client, rolloutOrName: string, call: (h: RolloutHandle) => Promise<T>): Promise<T> {
  const handle = await rolloutHandle(client, rolloutOrName);
  return askWorkflow(() => call(handle), {
    refused: (reason) => new RolloutRequestRejectedError(reason),
    missing: () => new RolloutNotFoundError(rolloutOrName),
  });
}

/** Who asks and why; a plain string is the reason (the older call form). */
export type RolloutRequest = string | AuditRequest;

/** `note` repeats the reason for workers that predate `reason`; current ones read `reason` first. */
function audit(request: RolloutRequest | undefined): AuditRequest {
  const { by, reason } =
    typeof request === 'string' || request === undefined
      ? { by: undefined, reason: request }
      : { by: request.by, reason: request.reason ?? request.note };
  return { ...(by ? { by } : {}), ...(reason !== undefined ? { reason, note: reason } : {}) };
}

export const pauseRollout = (client: Client, id: string, request?: RolloutRequest): Promise<ControlAck> =>
  control(client, id, (h) => h.executeUpdate(rolloutPauseUpdate, { args: [audit(request)] }));
export const resumeRollout = (client: Client, id: string, request?: RolloutRequest): Promise<ControlAck> =>
  control(client, id, (h) => h.executeUpdate(rolloutResumeUpdate, { args: [audit(request)] }));
export const promoteRollout = (client: Client, id: string, request?: RolloutRequest): Promise<ControlAck> =>
  control(client, id, (h) => h.executeUpdate(rolloutPromoteUpdate, { args: [audit(request)] }));
export const abortRollout = (
  client: Client,
  id: string,
  request: RolloutRequest,
  revert = false,
): Promise<ControlAck> =>
  control(client, id, (h) => h.executeUpdate(rolloutAbortUpdate, { args: [{ ...audit(request), revert }] }));
export const skipWindow = (client: Client, id: string, request: RolloutRequest, until?: string): Promise<Override> =>
  control(client, id, (h) =>
    h.executeUpdate(rolloutSkipWindowUpdate, { args: [{ ...audit(request), ...(until ? { until } : {}) }] }),
  );
export const liftFreeze = (client: Client, id: string, request: RolloutRequest, until: string): Promise<Override> =>
  control(client, id, (h) => h.executeUpdate(rolloutLiftFreezeUpdate, { args: [{ ...audit(request), until }] }));

/**
 * An instant for an override: ISO 8601 with an offset as given, or a local wall time (`2026-03-02T18:00`) in the
 * zone of the rollout's window calendar.
 */
export function overrideInstant(text: string, timezone: string): string {
  const hasOffset = /(Z|[+-]\d{2}:?\d{2})$/i.test(text);
  const parsed = hasOffset ? DateTime.fromISO(text, { setZone: true }) : DateTime.fromISO(text, { zone: timezone });
  if (!parsed.isValid)
    throw new RolloutRequestRejectedError(
      `${JSON.stringify(text)} is not a date-time: give ISO 8601, e.g. 2026-03-02T18:00 (in ${timezone}) or 2026-03-02T17:00Z`,
    );
  return parsed.toUTC().toISO({ suppressMilliseconds: true })!;
}

export interface RolloutListEntry {
  workflowId: string;
  runId: string;
  status: string;
  phase?: string;
  startTime: string;
}

/** Rollouts known to the namespace, newest first. */
export async function listRollouts(client: Client, limit = 50): Promise<RolloutListEntry[]> {
  const out: RolloutListEntry[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowType = 'rollout'` })) {
    out.push({
      workflowId: w.workflowId,
      runId: w.runId,
      status: w.status.name,
      ...(w.typedSearchAttributes.get(SA_PHASE) ? { phase: w.typedSearchAttributes.get(SA_PHASE) } : {}),
      startTime: w.startTime.toISOString(),
    });
    if (out.length >= limit) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Schedules

export type OverlapChoice = 'skip' | 'buffer-one';

export class RolloutScheduleError extends Error {
  readonly code: string;
  constructor(message: string, code = 'SCHEDULE_FAILED') {
    super(message);
    this.code = code;
  }
}

export interface CreateRolloutScheduleOptions extends StartRolloutOptions {
  /** Default `rollout-<name>`. */
  scheduleId?: string;
  cron?: string[];
  calendars?: CalendarSpec[];
  /** IANA zone the cron and calendar specs are read in; default UTC. */
  timezone?: string;
  /** skip (default): a run due while the previous one still runs is dropped; buffer-one: it starts afterwards. */
  overlap?: OverlapChoice;
  /** How late a missed run may still start (after an outage); default 10 minutes. */
  catchupWindowMs?: number;
  paused?: boolean;
  note?: string;
}

const OVERLAP = { skip: 'SKIP', 'buffer-one': 'BUFFER_ONE' } as const;

/** A Temporal Schedule whose action starts the rollout; each run is `rollout-<name>-<nominal time>`. */
export async function createRolloutSchedule(spec: RolloutSpec, opts: CreateRolloutScheduleOptions): Promise<string> {
  const scheduleId = opts.scheduleId ?? rolloutWorkflowId(spec.name);
  if (!opts.cron?.length && !opts.calendars?.length)
    throw new RolloutScheduleError('give at least one cron expression or calendar spec', 'SPEC_INVALID');
  try {
    await opts.client.schedule.create({
      scheduleId,
      spec: {
        ...(opts.cron?.length ? { cronExpressions: opts.cron } : {}),
        ...(opts.calendars?.length ? { calendars: opts.calendars } : {}),
        timezone: opts.timezone ?? 'UTC',
      },
      action: {
        type: 'startWorkflow',
        workflowType: 'rollout',
        workflowId: rolloutWorkflowId(spec.name),
        taskQueue: opts.taskQueue,
        args: [toRolloutInput(spec, opts)],
        typedSearchAttributes: searchAttributes,
      },
      policies: { overlap: OVERLAP[opts.overlap ?? 'skip'], catchupWindow: opts.catchupWindowMs ?? 600_000 },
      state: { paused: opts.paused ?? false, ...(opts.note ? { note: opts.note } : {}) },
      // The server turns cron expressions into calendars; the memo keeps them as the user wrote them.
      memo: { cvmflowRollout: spec.name, cron: opts.cron ?? [] },
    });
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning)
      throw new RolloutScheduleError(
        `schedule ${scheduleId} exists already; delete it first or pick another id`,
        'SCHEDULE_EXISTS',
      );
    if (isGrpcServiceError(err) && err.code === 3)
      throw new RolloutScheduleError(`schedule rejected: ${err.details}`, 'SPEC_INVALID');
    throw err;
  }
  return scheduleId;
}

export interface RolloutScheduleView {
  scheduleId: string;
  rollout?: string;
  paused: boolean;
  note?: string;
  cron: string[];
  calendars: number;
  timezone?: string;
  overlap: string;
  catchupWindowMs: number;
  nextRuns: string[];
  actionsTaken: number;
  skippedOverlap: number;
  missedCatchupWindow: number;
  running: string[];
  recent: { scheduledAt: string; takenAt: string; workflowId: string }[];
}

async function scheduleCall<T>(scheduleId: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError)
      throw new RolloutScheduleError(
        `no schedule ${scheduleId}; list them with \`cvmflow rollout schedule list\``,
        'SCHEDULE_NOT_FOUND',
      );
    throw err;
  }
}

export async function describeRolloutSchedule(client: Client, scheduleId: string): Promise<RolloutScheduleView> {
  const d = await scheduleCall(scheduleId, () => client.schedule.getHandle(scheduleId).describe());
  const rolloutName = d.memo?.cvmflowRollout;
  return {
    scheduleId,
    ...(typeof rolloutName === 'string' ? { rollout: rolloutName } : {}),
    paused: d.state.paused,
    ...(d.state.note ? { note: d.state.note } : {}),
    cron: Array.isArray(d.memo?.cron) ? (d.memo.cron as string[]) : [],
    calendars: d.spec.calendars?.length ?? 0,
    ...(d.spec.timezone ? { timezone: d.spec.timezone } : {}),
    overlap: d.policies.overlap ?? 'SKIP',
    catchupWindowMs: d.policies.catchupWindow,
    nextRuns: d.info.nextActionTimes.map((t) => t.toISOString()),
    actionsTaken: d.info.numActionsTaken,
    skippedOverlap: d.info.numActionsSkippedOverlap,
    missedCatchupWindow: d.info.numActionsMissedCatchupWindow,
    running: d.info.runningActions.map((a) => a.workflow.workflowId),
    recent: d.info.recentActions.map((a) => ({
      scheduledAt: a.scheduledAt.toISOString(),
      takenAt: a.takenAt.toISOString(),
      workflowId: a.action.workflow.workflowId,
    })),
  };
}

export async function listRolloutSchedules(
  client: Client,
): Promise<{ scheduleId: string; paused: boolean; note?: string }[]> {
  const out: { scheduleId: string; paused: boolean; note?: string }[] = [];
  for await (const s of client.schedule.list()) {
    if (s.action?.workflowType !== 'rollout') continue;
    out.push({ scheduleId: s.scheduleId, paused: s.state.paused, ...(s.state.note ? { note: s.state.note } : {}) });
  }
  return out;
}

export const pauseRolloutSchedule = (client: Client, id: string, note: string) =>
  scheduleCall(id, () => client.schedule.getHandle(id).pause(note));
export const unpauseRolloutSchedule = (client: Client, id: string, note?: string) =>
  scheduleCall(id, () => client.schedule.getHandle(id).unpause(note));
/** Starts a run now, under the schedule's own overlap policy unless one is given (the SDK's default would allow all). */
export async function triggerRolloutSchedule(client: Client, id: string, overlap?: OverlapChoice): Promise<void> {
  const handle = client.schedule.getHandle(id);
  await scheduleCall(id, async () =>
    handle.trigger(overlap ? OVERLAP[overlap] : (await handle.describe()).policies.overlap),
  );
}
export const backfillRolloutSchedule = (client: Client, id: string, start: Date, end: Date, overlap?: OverlapChoice) =>
  scheduleCall(id, () =>
    client.schedule.getHandle(id).backfill({ start, end, ...(overlap ? { overlap: OVERLAP[overlap] } : {}) }),
  );
export const deleteRolloutSchedule = (client: Client, id: string) =>
  scheduleCall(id, () => client.schedule.getHandle(id).delete());

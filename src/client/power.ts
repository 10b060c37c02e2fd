// Typed client functions for power schedules, shared by the CLI, the tests and anyone embedding cvmflow.
import { type Client, WithStartWorkflowOperation, type WorkflowHandle } from '@temporalio/client';
import { DateTime } from 'luxon';
import type { AuditRequest } from '../domain/audit-input';
import type { PowerScheduleSpec } from '../spec/power';
import { SA_KIND, SA_PHASE } from '../workflows/deploy-types';
import type { powerSchedule } from '../workflows/power-schedule';
import {
  type ApplyResult,
  type OverrideView,
  type PowerConfig,
  type PowerScheduleResult,
  type PowerStatus,
  type PowerTuning,
  powerApplyUpdate,
  powerKeepRunningUntilUpdate,
  powerKeepStoppedUntilUpdate,
  powerPauseUpdate,
  powerResumeUpdate,
  powerSkipNextTransitionUpdate,
  powerStatusQuery,
  powerWorkflowId,
  type ResumeResult,
  type ScheduleClock,
} from '../workflows/power-types';
import { askWorkflow } from './requests';

export type PowerHandle = WorkflowHandle<typeof powerSchedule>;

/** The schedule refused a request (its validator said why); nothing was recorded. */
export class PowerRequestRejectedError extends Error {
  readonly code = 'POWER_REJECTED';
}

export class PowerScheduleNotFoundError extends Error {
  readonly code = 'POWER_NOT_FOUND';
  constructor(readonly scheduleName: string) {
    super(
      `no power schedule named ${scheduleName} is running (workflow ${powerWorkflowId(scheduleName)}); create it with \`cvmflow power apply -f <schedule.yaml>\``,
    );
  }
}

/** The workflow's form of a spec. */
export function toPowerConfig(spec: PowerScheduleSpec): PowerConfig {
  return {
    name: spec.name,
    targets: spec.targets,
    calendar: spec.calendar,
    mode: spec.mode,
    graceMs: spec.graceMs,
    driftCheckIntervalMs: spec.driftCheckIntervalMs,
    stop: spec.stop,
    waitForState: spec.waitForState,
    waitTimeoutMs: spec.waitTimeoutMs,
    onBusy: spec.onBusy,
    retry: spec.retry,
    ...(spec.analysis ? { analysis: spec.analysis } : {}),
  };
}

export interface ApplyPowerOptions {
  client: Client;
  taskQueue: string;
  /** Runs the schedule on a scaled clock (tests and demos); real time when absent. */
  clock?: ScheduleClock;
  tuning?: PowerTuning;
}

/**
 * Creates the schedule, or updates the running one, in one step (update-with-start), and returns what the
 * evaluation right after it decided: what changes now, and the next transitions.
 */
export async function applyPowerSchedule(
  spec: PowerScheduleSpec,
  opts: ApplyPowerOptions,
): Promise<ApplyResult & { workflowId: string }> {
  const config = toPowerConfig(spec);
  const workflowId = powerWorkflowId(spec.name);
  const startWorkflowOperation = new WithStartWorkflowOperation<typeof powerSchedule>('powerSchedule', {
    workflowId,
    taskQueue: opts.taskQueue,
    args: [{ config, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.tuning ? { tuning: opts.tuning } : {}) }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: SA_KIND, value: 'power' },
      { key: SA_PHASE, value: 'active' },
    ],
  });
  const result = await rejections(spec.name, () =>
    opts.client.workflow.executeUpdateWithStart(powerApplyUpdate, { args: [config], startWorkflowOperation }),
  );
  return { ...result, workflowId };
}

export function powerHandle(client: Client, name: string): PowerHandle {
  return client.workflow.getHandle<typeof powerSchedule>(powerWorkflowId(name));
}

export function getPowerStatus(client: Client, name: string): Promise<PowerStatus> {
  return rejections(name, () => powerHandle(client, name).query(powerStatusQuery));
}

export type LeaseKind = 'keepRunning' | 'keepStopped';

/**
 * Who asks and why, for the audit trail: `{ by, reason }`, or just the reason as text (the older form of these
 * functions, which took a note).
 */
export type PowerAudit = AuditRequest | string;

/** The request's audit fields. The reason goes as `note` too: workers from before `reason` only read that. */
function auditOf(audit: PowerAudit | undefined): AuditRequest {
  const request = typeof audit === 'string' ? { reason: audit } : (audit ?? {});
  const reason = request.reason ?? request.note;
  return reason === undefined ? request : { ...request, reason, note: reason };
}

/** A lease that holds the CVMs running (or stopped) until `until`, then hands back to the calendar. */
export function holdPower(
  client: Client,
  name: string,
  kind: LeaseKind,
  until: string,
  audit: PowerAudit,
): Promise<OverrideView> {
  const update = kind === 'keepRunning' ? powerKeepRunningUntilUpdate : powerKeepStoppedUntilUpdate;
  return rejections(name, () =>
    powerHandle(client, name).executeUpdate(update, { args: [{ until, ...auditOf(audit) }] }),
  );
}

export function skipNextTransition(client: Client, name: string, audit: PowerAudit): Promise<OverrideView> {
  return rejections(name, () =>
    powerHandle(client, name).executeUpdate(powerSkipNextTransitionUpdate, { args: [auditOf(audit)] }),
  );
}

export function pausePower(client: Client, name: string, audit?: PowerAudit): Promise<OverrideView> {
  return rejections(name, () => powerHandle(client, name).executeUpdate(powerPauseUpdate, { args: [auditOf(audit)] }));
}

export function resumePower(client: Client, name: string, audit?: PowerAudit): Promise<ResumeResult> {
  return rejections(name, () => powerHandle(client, name).executeUpdate(powerResumeUpdate, { args: [auditOf(audit)] }));
}

/** Stops managing the CVMs (they stay as they are) and returns the schedule's final record summary. */
export async function deletePowerSchedule(client: Client, name: string): Promise<PowerScheduleResult> {
  const handle = powerHandle(client, name);
  await rejections(name, () => handle.cancel());
  return handle.result();
}

/**
 * An instant for a lease: ISO 8601 with an offset as given, or a local wall time (`2026-03-02T18:00`) in the
 * schedule's time zone — the zone its calendar is written in.
 */
export function leaseInstant(text: string, timezone: string): string {
  const hasOffset = /(Z|[+-]\d{2}:?\d{2})$/i.test(text);
  const parsed = hasOffset ? DateTime.fromISO(text, { setZone: true }) : DateTime.fromISO(text, { zone: timezone });
  if (!parsed.isValid) {
    throw new PowerRequestRejectedError(
      `${JSON.stringify(text)} is not a date-time: give ISO 8601, e.g. 2026-03-02T18:00 (in ${timezone}) or 2026-03-02T17:00Z`,
    );
  }
  return parsed.toUTC().toISO({ suppressMilliseconds: true })!;
}

const rejections = <T>(name: string, call: () => Promise<T>): Promise<T> =>
  askWorkflow(call, {
    refused: (reason) => new PowerRequestRejectedError(reason),
    missing: () => new PowerScheduleNotFoundError(name),
  });

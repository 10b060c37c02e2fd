// What a running power schedule accepts: its update validators, pure functions of the schedule's state, the request
// and the schedule's clock. They throw a plain error whose message the CLI shows as the refusal; nothing is recorded
// for a refused request. The handlers (power-messages.ts) apply the same rules to what they accept.
import { ApplicationFailure } from '@temporalio/common';
import { safeParseCalendar } from '../calendar';
import { type AuditRequest, checkUntil, requestReason } from '../domain/audit-input';
import { iso } from '../domain/time';
import { planSkip } from './power-decide';
import type { LeaseRequest, Override, PowerConfig } from './power-types';

/** The part of the schedule's state the validators read. */
export interface PowerRequestState {
  readonly config: PowerConfig;
  readonly overrides: readonly Override[];
}

export type PowerValidator<R> = (state: PowerRequestState, request: R, nowMs: number) => void;

/** A spec the workflow can run: named, with targets and a valid calendar (the spec loader says more, earlier). */
export function checkPowerConfig(config: PowerConfig): void {
  const problems: string[] = [];
  if (!config?.name) problems.push('name is missing');
  if (!config?.targets || config.targets.apps.length + config.targets.cvms.length === 0) problems.push('no targets');
  const cal = safeParseCalendar(config?.calendar);
  if (!cal.ok) problems.push(...cal.issues.map((i) => `calendar.${i.path}: ${i.message}`));
  if (problems.length)
    throw ApplicationFailure.create({
      type: 'InvalidInput',
      nonRetryable: true,
      message: `invalid power schedule: ${problems.join('; ')}`,
    });
}

export const validateApply: PowerValidator<PowerConfig> = (state, next) => {
  if (next?.name !== state.config.name)
    throw new Error(`this schedule is ${state.config.name}; a spec named ${next?.name} is a different schedule`);
  checkPowerConfig(next);
};

/** keepRunningUntil and keepStoppedUntil: a reason, and an end in the future within 90 days. */
export const validateLease: PowerValidator<LeaseRequest> = (_state, request, nowMs) => {
  requestReason(request, true);
  checkUntil(request?.until, nowMs);
};

export const validateSkip: PowerValidator<AuditRequest> = (state, request, nowMs) => {
  requestReason(request, true);
  planSkip(state.config.calendar, state.overrides, nowMs);
};

export const validatePause: PowerValidator<AuditRequest> = (state, request) => {
  const p = pauseOf(state);
  if (p) throw new Error(`already paused since ${iso(p.createdAtMs)} (${p.reason}); resume first`);
  requestReason(request, false);
};

export const validateResume: PowerValidator<AuditRequest> = (state, request) => {
  if (!pauseOf(state)) throw new Error('the schedule is not paused');
  requestReason(request, false);
};

export function pauseOf(state: PowerRequestState): Override | undefined {
  return state.overrides.find((o) => o.kind === 'pause');
}

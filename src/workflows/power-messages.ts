// A power schedule's messages: the `status` query and the validated Updates that change it — apply (a new spec),
// the leases keepRunningUntil / keepStoppedUntil, skipNextTransition, pause and resume. Validators are the pure
// functions of power-validators.ts; each accepted control request becomes an override or a record carrying who
// asked and why (`{by, reason, at}`), and wakes the loop.
import { condition, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { type AuditRequest, auditEntry, checkUntil } from '../domain/audit-input';
import { SA_PHASE } from './deploy-types';
import { phaseReporter } from './observe';
import { iso, planSkip } from './power-decide';
import type { PowerScheduleState } from './power-state';
import {
  type ApplyResult,
  type LeaseRequest,
  type OverrideView,
  type PowerConfig,
  powerApplyUpdate,
  powerHeldBatchWantedQuery,
  powerKeepRunningUntilUpdate,
  powerKeepStoppedUntilUpdate,
  powerPauseUpdate,
  powerResumeUpdate,
  powerSkipNextTransitionUpdate,
  powerStatusQuery,
  type ResumeResult,
} from './power-types';
import {
  type PowerValidator,
  validateApply,
  validateLease,
  validatePause,
  validateResume,
  validateSkip,
} from './power-validators';
import { overrideView, statusView, transitionsView } from './power-views';

/** Shows the schedule's phase (active or paused) as a search attribute and a metric. */
export function phaseShower(s: PowerScheduleState): () => void {
  const announce = phaseReporter();
  return () => {
    const phase = s.paused() ? 'paused' : 'active';
    upsertSearchAttributes([{ key: SA_PHASE, value: phase }]);
    announce(phase);
  };
}

export function wireMessages(s: PowerScheduleState, showPhase: () => void): void {
  const checked = <R>(validate: PowerValidator<R>) => ({ validator: (request: R) => validate(s, request, s.now()) });
  setHandler(powerStatusQuery, () => statusView(s));
  setHandler(powerHeldBatchWantedQuery, ({ cvmIds, notBeforeMs }) => s.heldBatchWanted(cvmIds, notBeforeMs));
  setHandler(powerApplyUpdate, (next) => apply(s, next), checked(validateApply));
  setHandler(powerKeepRunningUntilUpdate, (r) => lease(s, 'keepRunning', r), checked(validateLease));
  setHandler(powerKeepStoppedUntilUpdate, (r) => lease(s, 'keepStopped', r), checked(validateLease));
  setHandler(powerSkipNextTransitionUpdate, (r) => skipNext(s, r), checked(validateSkip));
  setHandler(powerPauseUpdate, (r) => pause(s, r, showPhase), checked(validatePause));
  setHandler(powerResumeUpdate, (r) => resume(s, r, showPhase), checked(validateResume));
}

/** A new spec; answers with the first evaluation that starts after it, which runs on the new spec. */
async function apply(s: PowerScheduleState, next: PowerConfig): Promise<ApplyResult> {
  const created = s.carried.applies === 0;
  const changed = (Object.keys(next) as (keyof PowerConfig)[]).filter(
    (k) => JSON.stringify(next[k]) !== JSON.stringify(s.config[k]),
  );
  s.config = next;
  s.carried.applies++;
  s.listNeeded = true;
  s.record(
    'applied',
    created ? 'schedule created' : changed.length ? `changed: ${changed.join(', ')}` : 'applied without changes',
  );
  const mark = s.evalStarted;
  s.dirty = true;
  await condition(() => s.evalDone > mark);
  return {
    created,
    changed: created ? [] : changed,
    evaluation: s.lastReport!,
    nextTransitions: transitionsView(s, 3),
  };
}

/** A lease replaces the one before it: one hold at a time. */
function lease(s: PowerScheduleState, kind: 'keepRunning' | 'keepStopped', request: LeaseRequest): OverrideView {
  const replaced = s.removeOverrides((o) => o.kind === 'keepRunning' || o.kind === 'keepStopped');
  for (const o of replaced) s.record('override', `${o.kind} ${o.id} replaced by a new lease`);
  const t = s.now();
  const o = s.addOverride({ kind, ...auditEntry(request, true, t), untilMs: checkUntil(request.until, t) });
  s.record('override', `${kind} until ${iso(o.untilMs!)} (${o.reason})`, { by: o.by });
  return overrideView(s, o);
}

function skipNext(s: PowerScheduleState, request: AuditRequest): OverrideView {
  const t = s.now();
  const plan = planSkip(s.config.calendar, s.overrides, t);
  const o = s.addOverride({ kind: 'skip', ...auditEntry(request, true, t), ...plan });
  s.record(
    'override',
    `skip the transition to ${plan.skippedState} at ${iso(plan.fromMs)}; ${plan.holdState} held until ${iso(plan.untilMs)} (${o.reason})`,
    { by: o.by },
  );
  return overrideView(s, o);
}

function pause(s: PowerScheduleState, request: AuditRequest, showPhase: () => void): OverrideView {
  const audit = auditEntry(request, false, s.now());
  const o = s.addOverride({ kind: 'pause', ...audit, reason: audit.reason || 'paused' });
  s.record('override', `paused: no power actions until resume (${o.reason}); drift is still reported`, { by: o.by });
  showPhase();
  return overrideView(s, o);
}

function resume(s: PowerScheduleState, request: AuditRequest, showPhase: () => void): ResumeResult {
  const [p] = s.removeOverrides((o) => o.kind === 'pause');
  const t = s.now();
  const audit = auditEntry(request, false, t);
  const pausedForMs = t - p!.createdAtMs;
  s.record('override', `resumed after ${Math.round(pausedForMs / 1000)}s${audit.reason ? ` (${audit.reason})` : ''}`, {
    by: audit.by,
  });
  showPhase();
  // What was owed while paused is acted on now, not at the next scheduled wake.
  s.dirty = true;
  return { resumedAtMs: t, pausedForMs, ...audit };
}

// Whether a control request fits the run's phase: pure functions of the run's state and the request, which throw a
// plain error whose message is the refusal the caller sees (the CLI exits 2 with it). Each control update's
// validator calls one; nothing here touches Temporal, so test/unit/bluegreen-validators.test.ts covers every rule.
import { type AuditRequest, auditEntry } from '../domain/audit-input';
import { iso } from '../domain/time';
import { BEFORE_PROMOTION, type BlueGreenState, endingText, isEnding } from './bluegreen-state';
import type { AuditedActor } from './bluegreen-types';

/**
 * Who asks and why, as the audit trail keeps it. Both are required for blue-green control; the reason may come as
 * `note`, its older name.
 */
export function auditedActor(request: AuditRequest | undefined, nowMs: number): AuditedActor {
  if (!request || typeof request.by !== 'string' || !request.by.trim())
    throw new Error('say who asks: by is required (the CLI fills it in from --by or your user name)');
  const reason = request.reason ?? request.note;
  if (typeof reason !== 'string' || !reason.trim()) throw new Error('say why: reason is required (--reason "…")');
  return auditEntry(request, true, nowMs);
}

/**
 * The audit entry of a request its validator accepted. Never throws: the handler runs on replay too, where
 * validators do not, with requests older rules accepted.
 */
export function acceptedActor(request: AuditRequest, nowMs: number): AuditedActor {
  return {
    by: String(request.by ?? '').trim(),
    reason: String(request.reason ?? request.note ?? '').trim(),
    at: iso(nowMs),
  };
}

function notEnding(s: BlueGreenState): void {
  if (isEnding(s)) throw new Error(endingText(s));
}

export function validatePromote(s: BlueGreenState, request: AuditRequest, nowMs: number): void {
  auditedActor(request, nowMs);
  notEnding(s);
  const { policy } = s.input;
  if (s.promoted || s.control.promote)
    throw new Error(
      `already promoted${s.promoted ? ` at ${new Date(s.promoted.atMs).toISOString()} by ${s.promoted.by}` : ''}`,
    );
  if (s.phase === 'deploying' || s.phase === 'starting')
    throw new Error(
      `green ${s.greenId?.name ?? ''} is still being deployed; it can be promoted once it passed the health gate`,
    );
  if (s.phase === 'health-gate')
    throw new Error(
      `green ${s.greenId?.name} is not healthy yet: it must pass ${policy.health.path} for ${policy.minHealthyMs / 1000}s in a row${s.healthText ? ` (${s.healthText})` : ''}`,
    );
  if (s.phase === 'pre-analysis') throw new Error('the pre-promotion analysis is still running');
  if (!s.greenHealthy)
    throw new Error(`green ${s.greenId?.name} is unhealthy: ${s.healthText ?? 'failing its health check'}`);
}

export function validateAbort(s: BlueGreenState, request: AuditRequest, nowMs: number): void {
  auditedActor(request, nowMs);
  notEnding(s);
  if (s.phase === 'retiring' || s.control.finish)
    throw new Error(`green is live and blue ${s.blue?.name} is being retired; deploy again to change`);
  if (s.promoted && !s.blue) throw new Error('green is live and there is no blue to send traffic back to');
}

export function validateRollback(s: BlueGreenState, request: AuditRequest, nowMs: number): void {
  auditedActor(request, nowMs);
  notEnding(s);
  if (!s.promoted) throw new Error('nothing to roll back: traffic still goes to blue (use abort to drop green)');
  if (!s.blue) throw new Error('there is no blue to roll back to: this was the app’s first deployment');
  if ((s.phase !== 'post-analysis' && s.phase !== 'warm') || s.control.finish)
    throw new Error(
      `blue ${s.blue.name} is no longer kept warm (phase ${s.phase}); deploy the old version again instead`,
    );
}

export function validatePause(s: BlueGreenState, request: AuditRequest, nowMs: number): void {
  auditedActor(request, nowMs);
  notEnding(s);
  const { paused } = s.control;
  if (paused) throw new Error(`already paused by ${paused.by} (${paused.reason})`);
  if (!BEFORE_PROMOTION.includes(s.phase) && s.phase !== 'warm' && s.phase !== 'post-analysis')
    throw new Error(`nothing automatic to pause in phase ${s.phase}`);
}

export function validateResume(s: BlueGreenState, request: AuditRequest, nowMs: number): void {
  auditedActor(request, nowMs);
  notEnding(s);
  if (!s.control.paused && !s.inconclusiveHold) throw new Error('not paused');
}

export function validateFinish(s: BlueGreenState, request: AuditRequest, nowMs: number): void {
  auditedActor(request, nowMs);
  if (s.phase !== 'warm')
    throw new Error(`only a run keeping blue warm can be finished early; this one is in ${s.phase}`);
  if (s.control.finish) throw new Error('already finishing');
}

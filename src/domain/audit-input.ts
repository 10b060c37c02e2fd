// What an operator hands to a running workflow with a control request — the note that goes into the audit trail and
// the instant an override lasts until — checked by one rule for every workflow kind (power overrides, rollout
// skip-window and lift-freeze). Pure functions of their input and the workflow's clock, so update validators call
// them; they throw plain errors whose message the CLI shows as the refusal.
import { iso } from './time';

export const MAX_NOTE = 500;
/** Who, when nobody said: requests from older clients and scripts carry no `by`. */
export const UNKNOWN_ACTOR = 'unknown';

/**
 * What every control request (pause, resume, abort, promote, overrides…) of every workflow kind carries: who asks and
 * why. `note` is the older name of `reason` (power and rollout requests before the names were unified); it is still
 * accepted, since running clients and users' scripts send it.
 */
export interface AuditRequest {
  by?: string;
  reason?: string;
  /** @deprecated the older name of `reason`, still accepted. */
  note?: string;
}

/** What goes into a workflow's audit trail for a control request. */
export interface AuditEntry {
  by: string;
  reason: string;
  /** ISO 8601, the workflow's clock. */
  at: string;
}

/** The request's reason under either name, checked by the note rule (`reason` wins when both are given). */
export function requestReason(request: AuditRequest | undefined, required: boolean): string {
  return checkNote(request?.reason ?? request?.note, required);
}

/** The audit entry for a checked request, at the workflow's `nowMs`. */
export function auditEntry(request: AuditRequest | undefined, required: boolean, nowMs: number): AuditEntry {
  const by = typeof request?.by === 'string' && request.by.trim() ? request.by.trim().slice(0, 100) : UNKNOWN_ACTOR;
  return { by, reason: requestReason(request, required), at: iso(nowMs) };
}
/** Overrides longer than this are schedule changes in disguise: edit the calendar instead. */
export const MAX_OVERRIDE_MS = 90 * 86_400_000;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** The note, trimmed; '' when it may be left out and was. */
export function checkNote(note: unknown, required: boolean): string {
  if (note !== undefined && typeof note !== 'string') throw new Error('note must be text');
  const text = (note ?? '').trim();
  if (required && !text) throw new Error('a note is required: say why (it goes into the audit trail)');
  if (text.length > MAX_NOTE) throw new Error(`the note is ${text.length} characters; keep it under ${MAX_NOTE}`);
  return text;
}

/** The instant an override lasts until: a real ISO 8601 date-time with an offset, after `nowMs`, within 90 days. */
export function checkUntil(until: unknown, nowMs: number): number {
  if (typeof until !== 'string' || !ISO_INSTANT.test(until)) {
    throw new Error(
      `until must be an ISO 8601 instant with an offset, e.g. 2026-03-02T18:00:00Z; got ${JSON.stringify(until)}`,
    );
  }
  const ms = Date.parse(until);
  const [year, month, day] = until.slice(0, 10).split('-').map(Number) as [number, number, number];
  // Date.parse rolls 2026-02-30 over into March instead of refusing it.
  if (!Number.isFinite(ms) || new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) {
    throw new Error(`until ${until} is not a real date-time`);
  }
  if (ms <= nowMs) throw new Error(`until ${until} is not in the future (the workflow's time is ${iso(nowMs)})`);
  if (ms - nowMs > MAX_OVERRIDE_MS) {
    throw new Error(
      `until ${until} is more than 90 days away; change the calendar instead of holding an override that long`,
    );
  }
  return ms;
}

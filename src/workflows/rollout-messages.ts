// The rollout's messages: the `status` query and the control Updates (pause, resume, abort, promote, skipWindow,
// liftFreeze). Each validator is a pure function of a small view of the state (`ControlState`) and the request, so
// the unit tests call them without a server; a validator that throws refuses the request before anything is
// recorded. Handlers change the state, add an audit record and mark the run dirty so whatever it waits on re-checks.
import type { UpdateDefinition } from '@temporalio/common';
import { setHandler } from '@temporalio/workflow';
import { type AuditRequest, auditEntry, checkUntil, requestReason } from '../domain/audit-input';
import { iso } from '../domain/time';
import { needsRevert } from './rollout-plan';
import { FINISHED, type RolloutRun } from './rollout-state';
import {
  type AbortRequest,
  type AbortState,
  type ControlAck,
  type Override,
  type OverrideKind,
  type OverrideRequest,
  type PausedState,
  type RolloutAudit,
  type RolloutPhase,
  rolloutAbortUpdate,
  rolloutLiftFreezeUpdate,
  rolloutPauseUpdate,
  rolloutPromoteUpdate,
  rolloutResumeUpdate,
  rolloutSkipWindowUpdate,
  rolloutStatusQuery,
  rolloutStatusQueryAlias,
} from './rollout-types';
import { rolloutStatusView } from './rollout-view';

/** What the validators decide on. */
export interface ControlState {
  phase: RolloutPhase;
  waiting?: string;
  nextWave: number;
  paused?: PausedState;
  abort?: AbortState;
  /** Whether the rollout has deploy windows (overrides apply to them only). */
  hasWindows: boolean;
  /** Now on the rollout's clock. */
  nowMs: number;
}

function notFinished(s: ControlState): void {
  if (FINISHED.includes(s.phase)) throw new Error(`the rollout has ended (${s.phase}); nothing to control`);
}

export function validatePause(s: ControlState, req: AuditRequest | undefined): void {
  notFinished(s);
  if (s.abort) throw new Error('the rollout is being aborted');
  if (s.paused) throw new Error(`already paused since ${iso(s.paused.sinceMs)} (${s.paused.reason})`);
  requestReason(req, false);
}

export function validateResume(s: ControlState, req: AuditRequest | undefined): void {
  notFinished(s);
  if (!s.paused) throw new Error('the rollout is not paused');
  requestReason(req, false);
}

export function validateAbort(s: ControlState, req: AbortRequest | undefined): void {
  notFinished(s);
  if (s.abort) throw new Error(`already aborting since ${iso(s.abort.atMs)} (${s.abort.reason})`);
  requestReason(req, true);
  if (req?.revert !== undefined && typeof req.revert !== 'boolean') throw new Error('revert must be true or false');
}

/** The wave whose start waits on a pause that promote may end, if any. */
export function promotableWave(s: Pick<ControlState, 'phase' | 'nextWave'>): number | undefined {
  return s.phase === 'awaiting-promotion' || s.phase === 'pausing' ? s.nextWave : undefined;
}

export function validatePromote(s: ControlState, req: AuditRequest | undefined): void {
  notFinished(s);
  if (promotableWave(s) === undefined)
    throw new Error(
      `nothing to promote: the rollout is ${s.phase}${s.waiting ? ` (${s.waiting})` : ''}, not pausing between waves`,
    );
  requestReason(req, false);
}

export function validateOverride(s: ControlState, kind: OverrideKind, req: OverrideRequest | undefined): void {
  notFinished(s);
  if (!s.hasWindows) throw new Error('this rollout has no deploy windows (spec field windows)');
  requestReason(req, true);
  if (kind === 'liftFreeze' && req?.until === undefined)
    throw new Error('liftFreeze needs until: the instant the freeze applies again');
  if (req?.until !== undefined) checkUntil(req.until, s.nowMs);
}

export function controlState(run: RolloutRun): ControlState {
  return {
    phase: run.phase,
    ...(run.waiting ? { waiting: run.waiting } : {}),
    nextWave: run.st.nextWave,
    ...(run.st.paused ? { paused: run.st.paused } : {}),
    ...(run.st.abort ? { abort: run.st.abort } : {}),
    hasWindows: run.config.windows !== undefined,
    nowMs: run.now(),
  };
}

/** The audit fields of a checked request; `note` repeats the reason for readers of the older field. */
function audit(req: AuditRequest | undefined, required: boolean, nowMs: number): RolloutAudit {
  const entry = auditEntry(req, required, nowMs);
  return { ...entry, note: entry.reason };
}

const byWhom = (a: RolloutAudit) => ` by ${a.by}`;

/** An Update whose validator refuses what does not fit the state; the handler runs only after it accepted. */
function onUpdate<Ret, Req>(
  def: UpdateDefinition<Ret, [Req]>,
  handler: (req: Req) => Ret,
  validator: (req: Req) => void,
): void {
  setHandler(def, handler, { validator });
}

export function wireRolloutMessages(run: RolloutRun): void {
  const st = run.st;
  const state = () => controlState(run);
  const ack = (message: string): ControlAck => {
    run.dirty = true;
    run.record(message);
    return { phase: run.phase, message };
  };

  const status = () => rolloutStatusView(run);
  setHandler(rolloutStatusQuery, status);
  setHandler(rolloutStatusQueryAlias, status);

  onUpdate(
    rolloutPauseUpdate,
    (req) => {
      const a = audit(req, false, run.now());
      if (!a.reason) a.reason = a.note = 'paused';
      st.paused = { ...a, sinceMs: run.now() };
      return ack(`paused${byWhom(a)}: no new CVM update starts until resume (${a.reason}); updates in flight finish`);
    },
    (req) => validatePause(state(), req),
  );

  onUpdate(
    rolloutResumeUpdate,
    (req) => {
      const p = st.paused!;
      st.paused = undefined;
      const a = audit(req, false, run.now());
      return ack(
        `resumed${byWhom(a)} after ${Math.round((run.now() - p.sinceMs) / 1000)}s${a.reason ? ` (${a.reason})` : ''}`,
      );
    },
    (req) => validateResume(state(), req),
  );

  onUpdate(
    rolloutAbortUpdate,
    (req) => {
      const revert = req.revert === true;
      const a = audit(req, true, run.now());
      st.abort = { ...a, revert, atMs: run.now() };
      const updated = st.cvms.filter(needsRevert).length;
      return ack(
        `abort${byWhom(a)} (${a.reason}): no new CVM update starts; updates in flight finish${revert ? `; then every CVM this rollout updated (${updated} so far) goes back to its previous compose` : '; updated CVMs stay as they are'}`,
      );
    },
    (req) => validateAbort(state(), req),
  );

  onUpdate(
    rolloutPromoteUpdate,
    (req) => {
      const wave = promotableWave(state())!;
      st.promotedWave = wave;
      const a = audit(req, false, run.now());
      return ack(`promoted${byWhom(a)}: wave ${wave} may start${a.reason ? ` (${a.reason})` : ''}`);
    },
    (req) => validatePromote(state(), req),
  );

  const override =
    (kind: OverrideKind) =>
    (req: OverrideRequest): Override => {
      const nowMs = run.now();
      const o: Override = {
        id: `o${++st.overrideSeq}`,
        kind,
        ...audit(req, true, nowMs),
        createdAtMs: nowMs,
        ...(req.until ? { untilMs: checkUntil(req.until, nowMs) } : {}),
      };
      st.overrides.push(o);
      const until = o.untilMs === undefined ? 'until the next wave ends' : `until ${iso(o.untilMs)}`;
      ack(
        `override ${o.id}: ${kind === 'skipWindow' ? 'deploy window skipped' : 'freeze lifted'} ${until} (${o.reason})${byWhom(o)}`,
      );
      return o;
    };
  onUpdate(rolloutSkipWindowUpdate, override('skipWindow'), (req) => validateOverride(state(), 'skipWindow', req));
  onUpdate(rolloutLiftFreezeUpdate, override('liftFreeze'), (req) => validateOverride(state(), 'liftFreeze', req));
}

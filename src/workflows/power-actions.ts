// The power schedule's activities and the power actions it runs beside its loop. Reads (listing the fleet, batched
// statuses, deployment locks) are awaited by the loop; an action is launched and left to finish on its own — one
// activity per batch of up to `batchSize` CVMs with an outcome per CVM, or, in histories from before batching, one
// activity per CVM — so a CVM that hangs never holds up the others or the next transition. Each action is recorded
// as it starts and its outcome filled in when it ends; a failed one stays owed and is retried after a back-off.
import { CancellationScope, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { PowerActivities } from '../activities/power-activities';
import { NON_RETRYABLE_TYPES } from './activity-options';
import { describeError } from './errors';
import { analyseAfterStart } from './power-analysis';
import { type Decision, type Effective, iso, realTimeOf, retryDelayMs } from './power-decide';
import type { InFlight, PowerScheduleState } from './power-state';
import type {
  CvmMemory,
  PowerAction,
  PowerActionResult,
  PowerBatchItem,
  PowerBatchRequest,
  PowerRecord,
  PowerTuning,
} from './power-types';

/** Real time a batch may spend issuing its calls (16 at a time) on top of one action's allowances. */
const BATCH_ISSUE_ALLOWANCE_MS = 60_000;
/** Time an action may spend waiting out 409 "busy" before its first call lands (the activity's own cap). */
const BUSY_ALLOWANCE_MS = 150_000;

/** A CVM and what was decided for it, launched together with the others of its batch. */
export interface Launch {
  m: CvmMemory;
  d: Decision;
}

/** The reads the loop waits on. */
export function readActivities(tuning: Required<PowerTuning>, batched: boolean) {
  return proxyActivities<PowerActivities>({
    startToCloseTimeout: tuning.apiAttemptTimeoutMs,
    scheduleToCloseTimeout: 4 * tuning.apiAttemptTimeoutMs,
    // The reads heartbeat, so a read on a worker that died is retried after the heartbeat timeout rather than the
    // whole attempt timeout: the loop waits on the read (a listing right after each transition, in the batched path).
    ...(batched ? { heartbeatTimeout: tuning.heartbeatTimeoutMs } : {}),
    retry: {
      initialInterval: 1000,
      backoffCoefficient: 2,
      maximumInterval: 10_000,
      maximumAttempts: 4,
      nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
    },
  });
}

/** Activities for actions, with timeouts from the spec as it is now (an apply can change them). */
function actionActivities(s: PowerScheduleState, allowanceMs: number, nonRetryableErrorTypes: string[]) {
  return proxyActivities<PowerActivities>({
    startToCloseTimeout: s.config.stop.shutdownTimeoutMs + s.config.waitTimeoutMs + allowanceMs,
    heartbeatTimeout: s.tuning.heartbeatTimeoutMs,
    retry: {
      initialInterval: 1000,
      backoffCoefficient: 2,
      maximumInterval: 10_000,
      maximumAttempts: 3,
      nonRetryableErrorTypes,
    },
  });
}

export function isAction(d: Decision): d is Decision & { kind: PowerAction } {
  return d.kind === 'start' || d.kind === 'stop' || d.kind === 'restart';
}

/** Launches this evaluation's actions: per CVM before batching, else one activity per action and batch. */
export function launchActions(s: PowerScheduleState, launches: Launch[], eff: Effective): void {
  if (!s.paths.batched) {
    for (const { m, d } of launches) launchOne(s, m, d.kind as PowerAction, eff, d);
    return;
  }
  const byAction = new Map<PowerAction, Launch[]>();
  for (const l of launches) {
    const kind = l.d.kind as PowerAction;
    if (byAction.has(kind)) byAction.get(kind)!.push(l);
    else byAction.set(kind, [l]);
  }
  const size = Math.max(1, s.tuning.batchSize);
  for (const [action, items] of byAction) {
    for (let i = 0; i < items.length; i += size) launchBatch(s, action, items.slice(i, i + size), eff);
  }
}

/** One activity per CVM: the path of histories from before batching. */
function launchOne(s: PowerScheduleState, m: CvmMemory, action: PowerAction, eff: Effective, d: Decision): void {
  const restartKey = eff.restartKey;
  const rec = startAction(s, m, action, eff, d);
  const running = newInFlight(action);
  s.inFlight.set(m.cvmId, running);
  const request = {
    cvmId: m.cvmId,
    app: m.app,
    action,
    stop: s.config.stop,
    waitForState: s.config.waitForState,
    waitTimeoutMs: s.config.waitTimeoutMs,
  };
  // A CVM that misses its state fails the activity for good.
  const activities = actionActivities(s, BUSY_ALLOWANCE_MS, [...NON_RETRYABLE_TYPES, 'PowerTimeout']);
  void (async () => {
    try {
      actionEnded(s, m, rec, action, await running.scope.run(() => activities.powerCvm(request)), restartKey);
    } catch (err) {
      if (isCancellation(err)) actionCancelled(s, rec, running);
      else actionFailed(s, m, rec, action, describeError(err));
    } finally {
      actionFinished(s, m, rec);
    }
  })();
}

/** One activity for a batch of CVMs with the same action; each CVM's outcome is its own. */
function launchBatch(s: PowerScheduleState, action: PowerAction, items: Launch[], eff: Effective): void {
  const restartKey = eff.restartKey;
  const running = newInFlight(action);
  const prepared = s.decisionTime() > s.now();
  if (prepared) running.holdsUntilMs = s.decisionTime();
  const started = items.map(({ m, d }) => ({ m, rec: startAction(s, m, action, eff, d) }));
  for (const { m } of started) s.inFlight.set(m.cvmId, running);
  const request: PowerBatchRequest = {
    cvms: items.map(({ m }) => ({ cvmId: m.cvmId, app: m.app })),
    action,
    stop: s.config.stop,
    waitForState: s.config.waitForState,
    waitTimeoutMs: s.config.waitTimeoutMs,
    ...(s.locksCheckedAtMs !== undefined ? { locksCheckedAtMs: s.locksCheckedAtMs } : {}),
    // Prepared ahead of a change: the calls wait for its instant.
    ...(prepared ? { notBeforeMs: realTimeOf(s.clock, s.decisionTime()) } : {}),
  };
  // A batch reports a CVM that misses its state in its item; only trouble with the batch as a whole fails (and
  // retries) it.
  const activities = actionActivities(s, BUSY_ALLOWANCE_MS + BATCH_ISSUE_ALLOWANCE_MS, NON_RETRYABLE_TYPES);
  void (async () => {
    let results: Map<string, PowerBatchItem> | undefined;
    let failure: unknown;
    try {
      const outcomes = await running.scope.run(() => activities.powerCvms(request));
      results = new Map(outcomes.map((r) => [r.cvmId, r]));
    } catch (err) {
      failure = err;
    }
    for (const { m, rec } of started) {
      const r = results?.get(m.cvmId);
      if (r && r.outcome !== 'failed') actionEnded(s, m, rec, action, r, restartKey);
      else if (failure !== undefined && isCancellation(failure)) actionCancelled(s, rec, running);
      else {
        const message = r?.outcome === 'failed' ? r.error : failure ? describeError(failure) : 'no outcome reported';
        actionFailed(s, m, rec, action, message);
        // A CVM that is gone is dropped by the next listing.
        if (r?.outcome === 'failed' && r.gone) s.listNeeded = true;
      }
      actionFinished(s, m, rec);
    }
    const up = started.filter(({ m }) => results?.get(m.cvmId)?.outcome === 'done').map(({ m }) => m);
    analyseAfterStart(s, action, up); // spec analysis.afterStart (power-analysis.ts)
  })();
}

function newInFlight(action: PowerAction): InFlight {
  return { action, target: action === 'stop' ? 'stopped' : 'running', scope: new CancellationScope() };
}

/** Records an action as it starts; its outcome is filled in when it ends. */
function startAction(s: PowerScheduleState, m: CvmMemory, action: PowerAction, eff: Effective, d: Decision) {
  const why = d.drift
    ? `drift since ${iso(m.driftSinceMs ?? s.now())} lasted the grace period`
    : (m.owedReason ?? eff.cause);
  const shown = action === 'stop' ? s.config.stop.action : action;
  const rec = s.record('action', `${shown} ${m.name}: ${why}${m.failures ? ` (retry #${m.failures})` : ''}`, {
    cvmId: m.cvmId,
    app: m.app,
    action: shown,
    from: m.status,
    to: action === 'stop' ? 'stopped' : 'running',
  });
  m.lastAction = { action, atMs: rec.atMs };
  return rec;
}

/** An action that ended without error: done, already there, issued, or deferred to a deployment. */
function actionEnded(
  s: PowerScheduleState,
  m: CvmMemory,
  rec: PowerRecord,
  action: PowerAction,
  r: PowerActionResult,
  restartKey: string | undefined,
): void {
  rec.outcome = r.escalated ? `${r.outcome} (graceful shutdown timed out; force-stopped)` : r.outcome;
  Object.assign(m, { status: r.status, inProgress: r.outcome === 'issued' });
  if (r.outcome === 'deferred') {
    if (s.paths.relists) s.heldApps.add(m.app);
    s.heldByDeployment(m, `a deployment took the app just before the ${action}`);
    s.dirty = true;
    return;
  }
  Object.assign(m, { failures: 0, retryAtMs: undefined });
  if (restartKey !== undefined && action !== 'stop') m.restartedKey = restartKey;
  if (r.outcome !== 'issued') Object.assign(m, { owed: undefined, owedReason: undefined });
}

function actionCancelled(s: PowerScheduleState, rec: PowerRecord, running: InFlight): void {
  const by = running.supersededBy;
  rec.outcome = by ? `superseded: ${by} is desired now` : 'cancelled';
  // The loop decides this CVM again now that the action has let go of it.
  if (by) s.dirty = true;
}

function actionFailed(s: PowerScheduleState, m: CvmMemory, rec: PowerRecord, action: PowerAction, message: string) {
  m.failures++;
  m.retryAtMs = s.now() + retryDelayMs(m.failures, s.config.retry);
  m.lastError = message;
  // A failed action stays owed, so it is retried after the back-off in either mode.
  m.owed ??= action === 'stop' ? 'stopped' : 'running';
  rec.outcome = 'failed';
  const shown = action === 'stop' ? s.config.stop.action : action;
  s.record('failed', `${shown} ${m.name} failed (#${m.failures}): ${message}; retry at ${iso(m.retryAtMs)}`, {
    cvmId: m.cvmId,
    app: m.app,
    action: shown,
  });
  s.dirty = true;
}

function actionFinished(s: PowerScheduleState, m: CvmMemory, rec: PowerRecord): void {
  rec.endedAtMs = s.now();
  if (m.lastAction) m.lastAction.outcome = rec.outcome;
  s.inFlight.delete(m.cvmId);
  // The last action in flight has ended: the loop looks again, so a listing held back for a prepared change
  // (power-evaluate.ts) goes now, and the next change can be prepared (that needs the loop at rest).
  if (s.paths.listsAfterCalls && s.inFlight.size === 0) s.dirty = true;
}

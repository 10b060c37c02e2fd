// The power schedule: one long-running workflow per schedule (`power-<name>`) that converges its CVMs to the
// calendar's desired power state. Each evaluation reads the targets' statuses in one batched activity (and lists the
// fleet to resolve the targets at a run's start, after an apply, right after a transition, when a deployment lets go
// of an app and, in enforce mode, at each drift check, so replicas made after a listing are managed too), decides
// per CVM (src/workflows/power-decide.ts), and launches power actions that run beside the loop — one activity per
// action and up to `batchSize` CVMs, with an outcome per CVM — so a CVM that hangs never holds up the others or the
// next transition. Histories from before batching (no 'power-batched-actions' marker) replay the one-activity-per-CVM
// path, and those from before re-listing (no 'power-fleet-relist' marker) list only where they did. Between
// evaluations it sleeps until the next calendar change, drift check, override expiry or retry, whichever comes first.
// Overrides are expiring leases set through validated Updates; the full state moves to a fresh run (continue-as-new)
// before the history grows large.
import {
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PowerActivities } from '../activities/power-activities';
import { formatInstant, nextChange, safeParseCalendar } from '../calendar';
import { NON_RETRYABLE_TYPES } from './activity-options';
import { SA_PHASE } from './deploy-types';
import { describeError } from './errors';
import { phaseReporter, reportDrift } from './observe';
import {
  addRecord,
  checkLeaseUntil,
  checkNote,
  type Decision,
  decide,
  type Effective,
  effectiveDesired,
  iso,
  partitionExpired,
  phaseOf,
  planSkip,
  realDelayMs,
  retryDelayMs,
  scheduleNow,
  upcomingPowerChanges,
} from './power-decide';
import {
  type ApplyResult,
  applyUpdate,
  type CarriedState,
  type CvmDecision,
  type CvmMemory,
  type CvmStatusView,
  type EvaluationReport,
  type InstantView,
  keepRunningUntilUpdate,
  keepStoppedUntilUpdate,
  type LeaseRequest,
  type Override,
  type OverrideView,
  type PowerAction,
  type PowerActionResult,
  type PowerBatchItem,
  type PowerBatchRequest,
  type PowerConfig,
  type PowerRecord,
  type PowerScheduleInput,
  type PowerScheduleResult,
  type PowerState,
  type PowerStatus,
  pauseUpdate,
  powerStatusQuery,
  type RecordKind,
  resumeUpdate,
  type ScheduleClock,
  type StatusRead,
  skipNextTransitionUpdate,
  type TargetRead,
  type TransitionView,
} from './power-types';

const DEFAULTS = {
  deferRecheckMs: 30_000,
  maxIterationsPerRun: 500,
  maxRecords: 100,
  apiAttemptTimeoutMs: 30_000,
  heartbeatTimeoutMs: 20_000,
  batchSize: 200,
};
/** Real time a batch may spend issuing its calls (16 at a time) on top of one action's allowances. */
const BATCH_ISSUE_ALLOWANCE_MS = 60_000;
/** Temporal fires shorter timers late (after about a second): a drift check due this close to a change is folded. */
const TIMER_FLOOR_MS = 1000;
/** Real time for which a drift check may reuse the worker's listing made for another schedule. */
const LISTING_REUSE_MAX_MS = 60_000;
/** Time an action may spend waiting out 409 "busy" before its first call lands (the activity's own cap). */
const BUSY_ALLOWANCE_MS = 150_000;

export async function powerSchedule(input: PowerScheduleInput): Promise<PowerScheduleResult> {
  checkConfig(input.config);
  let config = input.config;
  const tuning = { ...DEFAULTS, ...input.tuning };
  const clock: Required<ScheduleClock> | undefined = input.clock && {
    ...input.clock,
    realAnchorMs: input.clock.realAnchorMs ?? Date.now(),
  };
  const now = () => scheduleNow(clock, Date.now());
  const st: CarriedState = input.carried ?? {
    overrides: [],
    records: [],
    summary: { folded: 0, byKind: {} },
    nextSeq: 1,
    cvms: [],
    unresolved: [],
    applies: 0,
    runs: 0,
    overrideSeq: 0,
  };
  st.runs++;
  // One activity per action for a batch of CVMs, drift checks that read statuses only. Decided once per run.
  const batched = patched('power-batched-actions');
  // The fleet is listed again when it can have grown: at every drift check in enforce mode, and as soon as a
  // deployment that held one of the apps lets go (it may have made replicas after the last listing). Without it a
  // schedule that listed an app mid-deployment never learnt of the replicas made after (issue 17's chaos finding).
  const relists = batched && patched('power-fleet-relist');
  /** Schedule time of the last listing: enforce mode lists again once a drift interval has passed. */
  let listedAtMs: number | undefined;
  /** Apps a deployment held at their last lock check (or whose check failed): their release means a new listing. */
  const heldApps = new Set<string>();
  /** Whether the next evaluation lists the fleet to resolve the targets (each run's first one does). */
  let listNeeded = true;
  /** Workflow time of the last deployment-lock check, which the batch activity trusts while it is fresh. */
  let locksCheckedAtMs: number | undefined;
  /** Waits in a row with a target unresolved: its re-check backs off from deferRecheckMs to the drift interval. */
  let unresolvedWaits = 0;
  const memory = new Map(st.cvms.map((c) => [c.cvmId, c]));
  /** Power actions running beside the loop, one per CVM at most. */
  const inFlight = new Map<string, InFlight>();
  let dirty = false;
  let iteration = 0;
  let evalStarted = 0;
  let evalDone = 0;
  let lastReport: EvaluationReport | undefined;
  let readError: string | undefined;

  const api = proxyActivities<PowerActivities>({
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
  const actionActivities = (allowanceMs: number, nonRetryableErrorTypes: string[]) =>
    proxyActivities<PowerActivities>({
      startToCloseTimeout: config.stop.shutdownTimeoutMs + config.waitTimeoutMs + allowanceMs,
      heartbeatTimeout: tuning.heartbeatTimeoutMs,
      retry: {
        initialInterval: 1000,
        backoffCoefficient: 2,
        maximumInterval: 10_000,
        maximumAttempts: 3,
        nonRetryableErrorTypes,
      },
    });
  // One CVM per activity (before batching): a CVM that misses its state fails the activity for good.
  const powerActivities = () => actionActivities(BUSY_ALLOWANCE_MS, [...NON_RETRYABLE_TYPES, 'PowerTimeout']);
  // A batch reports such a CVM in its item; only trouble with the batch as a whole fails (and retries) it.
  const batchActivities = () => actionActivities(BUSY_ALLOWANCE_MS + BATCH_ISSUE_ALLOWANCE_MS, NON_RETRYABLE_TYPES);

  const record = (kind: RecordKind, reason: string, extra: Partial<PowerRecord> = {}) =>
    addRecord(st, { atMs: now(), kind, reason, ...extra }, tuning.maxRecords);
  const paused = () => st.overrides.find((o) => o.kind === 'pause');
  const announce = phaseReporter();
  const setPhase = () => {
    const phase = paused() ? 'paused' : 'active';
    upsertSearchAttributes([{ key: SA_PHASE, value: phase }]);
    announce(phase);
  };
  const instant = (atMs: number): InstantView => ({
    atMs,
    local: formatInstant(config.calendar.timezone, atMs),
    utc: iso(atMs),
  });

  // ------------------------------------------------------------------------------------------------------------
  // One evaluation: expire leases, read, decide, act.

  function expireOverrides(t: number): void {
    const { active, expired } = partitionExpired(st.overrides, t);
    st.overrides = active;
    for (const o of expired) record('override-expired', `${o.kind} ${o.id} expired (${o.note})`);
  }

  function noteTransition(eff: Effective): void {
    if (eff.key === st.lastEffectiveKey) return;
    record('transition', `desired ${st.lastEffectiveKey ?? '(none yet)'} → ${eff.key}: ${eff.cause}`, {
      to: eff.state,
    });
    st.lastEffectiveKey = eff.key;
    for (const m of memory.values()) owe(m, eff);
    // An action toward a state that is no longer wanted (a start stuck in boot when the stop is due) gives way.
    for (const running of inFlight.values()) {
      if (running.target === eff.state) continue;
      running.supersededBy = eff.state;
      running.scope.cancel();
    }
  }

  /** A new target state is a fresh start: the back-off of an action toward the old one no longer applies. */
  function owe(m: CvmMemory, eff: Effective): void {
    Object.assign(m, { owed: eff.state, owedReason: eff.cause, failures: 0, retryAtMs: undefined });
  }

  function mergeTargets(read: TargetRead, eff: Effective): void {
    const seen = new Set<string>();
    for (const c of read.cvms) {
      seen.add(c.cvmId);
      const m = memory.get(c.cvmId);
      if (m) {
        Object.assign(m, { name: c.name, app: c.app, status: c.status, inProgress: c.inProgress });
        continue;
      }
      // A CVM the schedule starts managing (a new replica, a new target) is brought to the desired state.
      const fresh: CvmMemory = { ...c, failures: 0 };
      owe(fresh, eff);
      memory.set(c.cvmId, fresh);
      record('targets', `now managing ${c.name} (${c.cvmId}), ${c.status}`, { cvmId: c.cvmId, app: c.app });
    }
    for (const [cvmId, m] of memory) {
      if (seen.has(cvmId)) continue;
      memory.delete(cvmId);
      record('targets', `no longer managing ${m.name} (${cvmId}): not among the targets' live CVMs`, {
        cvmId,
        app: m.app,
      });
    }
    const before = JSON.stringify(st.unresolved);
    st.unresolved = read.unresolved;
    if (JSON.stringify(st.unresolved) !== before && st.unresolved.length) {
      record('targets', `unresolved: ${st.unresolved.map((u) => `${u.target} (${u.reason})`).join('; ')}`);
    }
  }

  function decideFor(m: CvmMemory, eff: Effective, t: number, locked: boolean): Decision {
    return decide({
      desired: eff.state,
      restartDue: eff.restartKey !== undefined && m.restartedKey !== eff.restartKey,
      phase: phaseOf(m.status, m.inProgress),
      mode: config.mode,
      owed: m.owed === eff.state,
      nowMs: t,
      graceMs: config.graceMs,
      driftSinceMs: m.driftSinceMs,
      stuck: m.failures > 0,
      paused: paused() !== undefined,
      locked,
      inFlight: inFlight.has(m.cvmId),
      retryAtMs: m.retryAtMs,
    });
  }

  /** Bookkeeping of one decision: drift start and end, deferrals, settled CVMs. */
  function bookkeep(m: CvmMemory, d: Decision, eff: Effective, t: number): void {
    if (d.settled) {
      if (m.driftSinceMs !== undefined) {
        record('drift-resolved', `${m.name} is ${m.status} again, as desired (drift since ${iso(m.driftSinceMs)})`, {
          cvmId: m.cvmId,
          app: m.app,
        });
      }
      Object.assign(m, {
        driftSinceMs: undefined,
        owed: undefined,
        owedReason: undefined,
        failures: 0,
        retryAtMs: undefined,
        deferred: undefined,
      });
      return;
    }
    if (d.drift && m.driftSinceMs === undefined) {
      m.driftSinceMs = t;
      const handling =
        config.mode === 'enforce'
          ? `corrected after the grace period (${config.graceMs / 1000}s)`
          : 'left alone until the next transition';
      const driftText = `${m.name} is ${m.status} while ${eff.state} is desired (${eff.cause}); ${handling}`;
      reportDrift(m.app, driftText);
      record('drift', driftText, {
        cvmId: m.cvmId,
        app: m.app,
        from: m.status,
        to: eff.state,
      });
    }
    if (d.defer === 'locked') heldByDeployment(m, d.reason);
    else m.deferred = d.defer;
  }

  /**
   * onBusy defer: keep the action owed and re-check every deferRecheckMs. onBusy skip: drop it (enforce mode
   * still corrects the drift after the grace period). Recorded once per hold, not at every re-check.
   */
  function heldByDeployment(m: CvmMemory, why: string): void {
    const held = config.onBusy === 'skip' ? 'skipped' : 'locked';
    if (m.deferred !== held) {
      const handling = held === 'skipped' ? 'skipped (onBusy: skip)' : 'retried when it ends (onBusy: defer)';
      record('deferred', `${m.name}: ${why}; ${handling}`, { cvmId: m.cvmId, app: m.app });
    }
    if (held === 'skipped') Object.assign(m, { owed: undefined, owedReason: undefined });
    m.deferred = held;
  }

  /** Records an action as it starts; its outcome is filled in when it ends. */
  function startAction(m: CvmMemory, action: PowerAction, eff: Effective, d: Decision): PowerRecord {
    const why = d.drift
      ? `drift since ${iso(m.driftSinceMs ?? now())} lasted the grace period`
      : (m.owedReason ?? eff.cause);
    const shown = action === 'stop' ? config.stop.action : action;
    const rec = record('action', `${shown} ${m.name}: ${why}${m.failures ? ` (retry #${m.failures})` : ''}`, {
      cvmId: m.cvmId,
      app: m.app,
      action: shown,
      from: m.status,
      to: action === 'stop' ? 'stopped' : 'running',
    });
    m.lastAction = { action, atMs: rec.atMs };
    return rec;
  }

  function newInFlight(action: PowerAction): InFlight {
    return { action, target: action === 'stop' ? 'stopped' : 'running', scope: new CancellationScope() };
  }

  /** An action that ended without error: done, already there, issued, or deferred to a deployment. */
  function actionEnded(
    m: CvmMemory,
    rec: PowerRecord,
    action: PowerAction,
    r: PowerActionResult,
    restartKey: string | undefined,
  ): void {
    rec.outcome = r.escalated ? `${r.outcome} (graceful shutdown timed out; force-stopped)` : r.outcome;
    Object.assign(m, { status: r.status, inProgress: r.outcome === 'issued' });
    if (r.outcome === 'deferred') {
      if (relists) heldApps.add(m.app);
      heldByDeployment(m, `a deployment took the app just before the ${action}`);
      dirty = true;
      return;
    }
    Object.assign(m, { failures: 0, retryAtMs: undefined });
    if (restartKey !== undefined && action !== 'stop') m.restartedKey = restartKey;
    if (r.outcome !== 'issued') Object.assign(m, { owed: undefined, owedReason: undefined });
  }

  function actionCancelled(rec: PowerRecord, running: InFlight): void {
    const by = running.supersededBy;
    rec.outcome = by ? `superseded: ${by} is desired now` : 'cancelled';
    // The loop decides this CVM again now that the action has let go of it.
    if (by) dirty = true;
  }

  function actionFailed(m: CvmMemory, rec: PowerRecord, action: PowerAction, message: string): void {
    m.failures++;
    m.retryAtMs = now() + retryDelayMs(m.failures, config.retry);
    m.lastError = message;
    // A failed action stays owed, so it is retried after the back-off in either mode.
    m.owed ??= action === 'stop' ? 'stopped' : 'running';
    rec.outcome = 'failed';
    const shown = action === 'stop' ? config.stop.action : action;
    record('failed', `${shown} ${m.name} failed (#${m.failures}): ${message}; retry at ${iso(m.retryAtMs)}`, {
      cvmId: m.cvmId,
      app: m.app,
      action: shown,
    });
    dirty = true;
  }

  function actionFinished(m: CvmMemory, rec: PowerRecord): void {
    rec.endedAtMs = now();
    if (m.lastAction) m.lastAction.outcome = rec.outcome;
    inFlight.delete(m.cvmId);
  }

  /** One activity per CVM: the path of histories from before batching. */
  function launch(m: CvmMemory, action: PowerAction, eff: Effective, d: Decision): void {
    const restartKey = eff.restartKey;
    const rec = startAction(m, action, eff, d);
    const running = newInFlight(action);
    inFlight.set(m.cvmId, running);
    const request = {
      cvmId: m.cvmId,
      app: m.app,
      action,
      stop: config.stop,
      waitForState: config.waitForState,
      waitTimeoutMs: config.waitTimeoutMs,
    };
    const activities = powerActivities();
    void (async () => {
      try {
        actionEnded(m, rec, action, await running.scope.run(() => activities.powerCvm(request)), restartKey);
      } catch (err) {
        if (isCancellation(err)) actionCancelled(rec, running);
        else actionFailed(m, rec, action, describeError(err));
      } finally {
        actionFinished(m, rec);
      }
    })();
  }

  /** One activity for a batch of CVMs with the same action; each CVM's outcome is its own. */
  function launchBatch(action: PowerAction, items: { m: CvmMemory; d: Decision }[], eff: Effective): void {
    const restartKey = eff.restartKey;
    const running = newInFlight(action);
    const started = items.map(({ m, d }) => ({ m, rec: startAction(m, action, eff, d) }));
    for (const { m } of started) inFlight.set(m.cvmId, running);
    const request: PowerBatchRequest = {
      cvms: items.map(({ m }) => ({ cvmId: m.cvmId, app: m.app })),
      action,
      stop: config.stop,
      waitForState: config.waitForState,
      waitTimeoutMs: config.waitTimeoutMs,
      ...(locksCheckedAtMs !== undefined ? { locksCheckedAtMs } : {}),
    };
    const activities = batchActivities();
    void (async () => {
      let results: Map<string, PowerBatchItem> | undefined;
      let failure: unknown;
      try {
        const items = await running.scope.run(() => activities.powerCvms(request));
        results = new Map(items.map((r) => [r.cvmId, r]));
      } catch (err) {
        failure = err;
      }
      for (const { m, rec } of started) {
        const r = results?.get(m.cvmId);
        if (r && r.outcome !== 'failed') actionEnded(m, rec, action, r, restartKey);
        else if (failure !== undefined && isCancellation(failure)) actionCancelled(rec, running);
        else {
          const message = r?.outcome === 'failed' ? r.error : failure ? describeError(failure) : 'no outcome reported';
          actionFailed(m, rec, action, message);
          // A CVM that is gone is dropped by the next listing.
          if (r?.outcome === 'failed' && r.gone) listNeeded = true;
        }
        actionFinished(m, rec);
      }
    })();
  }

  /**
   * Reads the CVMs' current state. Before batching: a full listing each time. Batched: the known CVMs' statuses in
   * one call, and a listing (to resolve the targets) only when one is needed — at a run's start, after an apply,
   * while a target is unresolved, after a deployment released an app, at a drift check in enforce mode (once per
   * drift interval: the one call that finds CVMs made since), and right after a transition, which acts on the CVMs
   * it knows first because a listing of thousands of CVMs takes the API a while. Returns the CVMs not to decide on
   * now (gone).
   */
  async function read(eff: Effective, t: number, transitioned: boolean): Promise<Set<string>> {
    const driftListing =
      relists &&
      config.mode === 'enforce' &&
      (listedAtMs === undefined || t - listedAtMs >= config.driftCheckIntervalMs);
    const needed = !batched || memory.size === 0 || st.unresolved.length > 0 || (listNeeded && !transitioned);
    if (needed || (driftListing && !transitioned)) {
      // A drift check only looks for CVMs made since the last listing: one the worker made for another schedule
      // a moment ago will do (a new CVM is still found within one and a half drift intervals).
      const reuseMs = Math.min(realDelayMs(clock, config.driftCheckIntervalMs) / 2, LISTING_REUSE_MAX_MS);
      const notBefore = needed ? {} : { notBeforeMs: Date.now() - reuseMs };
      const targets = await api.powerReadTargets({ targets: config.targets, ...notBefore });
      mergeTargets(targets, eff);
      listNeeded = false;
      listedAtMs = targets.listedAtMs === undefined ? t : Math.min(t, scheduleNow(clock, targets.listedAtMs));
      return new Set();
    }
    const r: StatusRead = await api.powerReadStatuses({ cvmIds: [...memory.keys()] });
    for (const [cvmId, s] of Object.entries(r.statuses)) {
      const m = memory.get(cvmId);
      if (m) Object.assign(m, { status: s.status, inProgress: s.inProgress });
    }
    // The listing right after a transition (or after a CVM vanished) runs at once, beside the actions.
    if (transitioned || r.missing.length) {
      listNeeded = true;
      dirty = true;
    }
    return new Set(r.missing);
  }

  /**
   * A deployment that held an app and has let go may have made CVMs since the last listing: list again at once
   * (beside the actions this evaluation launches on the CVMs already known).
   */
  function noteReleases(checked: string[], locked: Set<string>): void {
    for (const app of checked) {
      if (locked.has(app)) heldApps.add(app);
      else if (heldApps.delete(app)) {
        listNeeded = true;
        dirty = true;
      }
    }
  }

  async function evaluate(): Promise<void> {
    const mine = ++evalStarted;
    const t = now();
    expireOverrides(t);
    const eff = effectiveDesired(config.calendar, st.overrides, t);
    const transitioned = eff.key !== st.lastEffectiveKey;
    noteTransition(eff);
    let gone: Set<string>;
    try {
      gone = await read(eff, t, transitioned);
    } catch (err) {
      if (isCancellation(err)) throw err;
      const message = describeError(err);
      if (message !== readError) record('error', `reading the targets failed: ${message}; retrying`);
      readError = message;
      lastReport = { atMs: t, desired: desiredView(eff), decisions: [], unresolved: st.unresolved, readError };
      evalDone = mine;
      return;
    }
    readError = undefined;

    const cvms = [...memory.values()].filter((m) => !gone.has(m.cvmId));
    const first = cvms.map((m) => decideFor(m, eff, t, false));
    const wanting = [...new Set(cvms.filter((_, i) => isAction(first[i]!)).map((m) => m.app))];
    let locked = new Set<string>();
    if (wanting.length) {
      try {
        locked = new Set(await api.powerLockedApps({ apps: wanting }));
        locksCheckedAtMs = Date.now();
      } catch (err) {
        if (isCancellation(err)) throw err;
        // Acting without knowing whether a deployment holds the app could stop a CVM mid-rollout: wait instead.
        locked = new Set(wanting);
        record('error', `checking deployment locks failed: ${describeError(err)}; treated as held`);
      }
      if (relists) noteReleases(wanting, locked);
    }
    const decisions: CvmDecision[] = [];
    const batches = new Map<PowerAction, { m: CvmMemory; d: Decision }[]>();
    cvms.forEach((m, i) => {
      const d = locked.has(m.app) ? decideFor(m, eff, t, true) : first[i]!;
      const actual = m.status;
      const running = inFlight.get(m.cvmId)?.action;
      bookkeep(m, d, eff, t);
      if (isAction(d)) {
        if (!batched) launch(m, d.kind, eff, d);
        else if (batches.has(d.kind)) batches.get(d.kind)!.push({ m, d });
        else batches.set(d.kind, [{ m, d }]);
      }
      // An action launched by an earlier evaluation is what is happening to this CVM now, so that is what to show.
      const shown = running
        ? { decision: running, reason: `${running} in progress since ${iso(m.lastAction?.atMs ?? t)}` }
        : { decision: d.kind, reason: d.reason };
      decisions.push({ cvmId: m.cvmId, name: m.name, actual, desired: eff.state, drift: d.drift, ...shown });
    });
    const size = Math.max(1, tuning.batchSize);
    for (const [action, items] of batches) {
      for (let i = 0; i < items.length; i += size) launchBatch(action, items.slice(i, i + size), eff);
    }
    st.lastEvaluationMs = t;
    lastReport = { atMs: t, desired: desiredView(eff), decisions, unresolved: st.unresolved };
    evalDone = mine;
  }

  /** Real milliseconds until the next reason to look again. */
  function nextWakeMs(): number {
    const t = now();
    const change = nextChange(config.calendar, t);
    // A drift check due shortly before a calendar change is folded into it: the change reads every CVM anyway.
    const driftCheck = t + config.driftCheckIntervalMs;
    const gap = change ? change.atMs - driftCheck : 0;
    const folds =
      change &&
      gap > 0 &&
      (gap < config.driftCheckIntervalMs / 2 || (batched && realDelayMs(clock, gap) < TIMER_FLOOR_MS));
    const candidates = [folds ? change.atMs : driftCheck];
    if (change) candidates.push(change.atMs);
    for (const o of st.overrides)
      candidates.push(o.fromMs ?? Number.POSITIVE_INFINITY, o.untilMs ?? Number.POSITIVE_INFINITY);
    for (const m of memory.values()) {
      if (m.retryAtMs !== undefined) candidates.push(m.retryAtMs);
      if (config.mode === 'enforce' && m.driftSinceMs !== undefined) candidates.push(m.driftSinceMs + config.graceMs);
    }
    const soonest = Math.min(...candidates.filter((c) => c > t));
    let wait = realDelayMs(clock, soonest - t);
    if (readError !== undefined || [...memory.values()].some((m) => m.deferred === 'locked'))
      wait = Math.min(wait, tuning.deferRecheckMs);
    // A target not found yet (an app whose first deployment is still provisioning) is looked for again soon, then
    // less and less often: each look lists the fleet.
    if (batched && st.unresolved.length > 0)
      wait = Math.min(wait, tuning.deferRecheckMs * 2 ** Math.min(unresolvedWaits++, 10));
    else unresolvedWaits = 0;
    return wait;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Messages

  setHandler(powerStatusQuery, () => statusView());

  setHandler(
    applyUpdate,
    async (next: PowerConfig): Promise<ApplyResult> => {
      const created = st.applies === 0;
      const changed = (Object.keys(next) as (keyof PowerConfig)[]).filter(
        (k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]),
      );
      config = next;
      st.applies++;
      listNeeded = true;
      record(
        'applied',
        created ? 'schedule created' : changed.length ? `changed: ${changed.join(', ')}` : 'applied without changes',
      );
      // Report the first evaluation that starts after this point: it runs on the new spec.
      const mark = evalStarted;
      dirty = true;
      await condition(() => evalDone > mark);
      return { created, changed: created ? [] : changed, evaluation: lastReport!, nextTransitions: transitions(3) };
    },
    {
      validator: (next: PowerConfig) => {
        if (next?.name !== config.name)
          throw new Error(`this schedule is ${config.name}; a spec named ${next?.name} is a different schedule`);
        checkConfig(next);
      },
    },
  );

  const lease = (kind: 'keepRunning' | 'keepStopped') => ({
    handler: (req: LeaseRequest): OverrideView => {
      const replaced = st.overrides.filter((o) => o.kind === 'keepRunning' || o.kind === 'keepStopped');
      st.overrides = st.overrides.filter((o) => !replaced.includes(o));
      for (const o of replaced) record('override', `${o.kind} ${o.id} replaced by a new lease`);
      const o = addOverride({ kind, note: checkNote(req.note, true), untilMs: checkLeaseUntil(req.until, now()) });
      record('override', `${kind} until ${iso(o.untilMs!)} (${o.note})`);
      return overrideView(o);
    },
    validator: (req: LeaseRequest) => {
      checkNote(req?.note, true);
      checkLeaseUntil(req?.until, now());
    },
  });
  const keepRunning = lease('keepRunning');
  const keepStopped = lease('keepStopped');
  setHandler(keepRunningUntilUpdate, keepRunning.handler, { validator: keepRunning.validator });
  setHandler(keepStoppedUntilUpdate, keepStopped.handler, { validator: keepStopped.validator });

  setHandler(
    skipNextTransitionUpdate,
    (req) => {
      const plan = planSkip(config.calendar, st.overrides, now());
      const o = addOverride({ kind: 'skip', note: checkNote(req.note, true), ...plan });
      record(
        'override',
        `skip the transition to ${plan.skippedState} at ${iso(plan.fromMs)}; ${plan.holdState} held until ${iso(plan.untilMs)} (${o.note})`,
      );
      return overrideView(o);
    },
    {
      validator: (req) => {
        checkNote(req?.note, true);
        planSkip(config.calendar, st.overrides, now());
      },
    },
  );

  setHandler(
    pauseUpdate,
    (req) => {
      const o = addOverride({ kind: 'pause', note: checkNote(req?.note, false) || 'paused' });
      record('override', `paused: no power actions until resume (${o.note}); drift is still reported`);
      setPhase();
      return overrideView(o);
    },
    {
      validator: (req) => {
        const p = paused();
        if (p) throw new Error(`already paused since ${iso(p.createdAtMs)} (${p.note}); resume first`);
        checkNote(req?.note, false);
      },
    },
  );

  setHandler(
    resumeUpdate,
    (req) => {
      const p = paused()!;
      st.overrides = st.overrides.filter((o) => o !== p);
      const t = now();
      const note = checkNote(req?.note, false);
      record('override', `resumed after ${Math.round((t - p.createdAtMs) / 1000)}s${note ? ` (${note})` : ''}`);
      setPhase();
      // What was owed while paused is acted on now, not at the next scheduled wake.
      dirty = true;
      return { resumedAtMs: t, pausedForMs: t - p.createdAtMs };
    },
    {
      validator: (req) => {
        if (!paused()) throw new Error('the schedule is not paused');
        checkNote(req?.note, false);
      },
    },
  );

  function addOverride(fields: Omit<Override, 'id' | 'createdAtMs'>): Override {
    const o: Override = { id: `o${++st.overrideSeq}`, createdAtMs: now(), ...fields };
    st.overrides.push(o);
    dirty = true;
    return o;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Views

  function overrideView(o: Override): OverrideView {
    return o.untilMs === undefined ? { ...o } : { ...o, until: instant(o.untilMs) };
  }

  function desiredView(eff: Effective) {
    return { state: eff.state, restart: eff.restartKey !== undefined, cause: eff.cause };
  }

  function transitions(count: number): TransitionView[] {
    const t = now();
    return upcomingPowerChanges(config.calendar, t, count).map((c) => {
      const keep = st.overrides.find(
        (o) => (o.kind === 'keepRunning' || o.kind === 'keepStopped') && o.untilMs! > c.atMs,
      );
      const skip = st.overrides.find((o) => o.kind === 'skip' && o.fromMs === c.atMs);
      const by = keep ? `${keep.kind} ${keep.id}` : skip ? `skip ${skip.id}` : paused() ? 'pause' : undefined;
      return {
        ...instant(c.atMs),
        state: c.state,
        source: effectiveDesired(config.calendar, [], c.atMs).cause,
        ...(by ? { suppressedBy: by } : {}),
      };
    });
  }

  function statusView(): PowerStatus {
    const t = now();
    const eff = effectiveDesired(config.calendar, st.overrides, t);
    const p = paused();
    const cvms: CvmStatusView[] = [...memory.values()].map((m) => {
      const phase = phaseOf(m.status, m.inProgress);
      return {
        cvmId: m.cvmId,
        name: m.name,
        app: m.app,
        actual: m.status,
        desired: eff.state,
        inState: phase === eff.state,
        ...(m.driftSinceMs !== undefined ? { drift: { sinceMs: m.driftSinceMs, since: iso(m.driftSinceMs) } } : {}),
        ...(m.owed ? { owed: m.owed } : {}),
        ...(inFlight.has(m.cvmId) ? { inFlight: inFlight.get(m.cvmId)!.action } : {}),
        ...(m.deferred ? { deferred: m.deferred } : {}),
        failures: m.failures,
        ...(m.lastError ? { lastError: m.lastError } : {}),
        ...(m.retryAtMs !== undefined ? { retryAt: iso(m.retryAtMs) } : {}),
        ...(m.lastAction ? { lastAction: m.lastAction } : {}),
      };
    });
    return {
      name: config.name,
      mode: config.mode,
      timezone: config.calendar.timezone,
      now: instant(t),
      ...(p ? { paused: { note: p.note, sinceMs: p.createdAtMs } } : {}),
      calendarDesired: { state: eff.calendar.state, source: effectiveDesired(config.calendar, [], t).cause },
      desired: desiredView(eff),
      cvms,
      unresolved: st.unresolved,
      overrides: st.overrides.map(overrideView),
      nextTransitions: transitions(3),
      recent: [...st.records],
      summary: st.summary,
      ...(st.lastEvaluationMs !== undefined ? { lastEvaluation: instant(st.lastEvaluationMs) } : {}),
      ...(listedAtMs !== undefined ? { lastListing: instant(listedAtMs) } : {}),
      run: { runs: st.runs, iteration, applies: st.applies },
    };
  }

  // ------------------------------------------------------------------------------------------------------------
  // The loop

  setPhase();
  try {
    for (;;) {
      dirty = false;
      await evaluate();
      iteration++;
      const due = iteration >= tuning.maxIterationsPerRun || workflowInfo().continueAsNewSuggested;
      // Only at a quiet moment: actions in flight and updates being handled belong to this run.
      if (due && inFlight.size === 0 && allHandlersFinished()) {
        st.cvms = [...memory.values()];
        return await continueAsNew<typeof powerSchedule>({ config, clock, tuning: input.tuning, carried: st });
      }
      await condition(() => dirty, nextWakeMs());
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled (`cvmflow power delete`): stop managing and leave every CVM as it is, like Terraform's delete.
    record('deleted', 'schedule deleted: no longer managing; CVMs left as they are');
    return { name: config.name, stoppedAtMs: now(), summary: st.summary, recent: st.records };
  }
}

interface InFlight {
  action: PowerAction;
  target: PowerState;
  scope: CancellationScope;
  /** Set when a transition made this action's target unwanted and cancelled it. */
  supersededBy?: PowerState;
}

function isAction(d: Decision): d is Decision & { kind: PowerAction } {
  return d.kind === 'start' || d.kind === 'stop' || d.kind === 'restart';
}

function checkConfig(config: PowerConfig): void {
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

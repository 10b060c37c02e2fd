// One evaluation of a power schedule — expire leases, read the CVMs, decide per CVM (power-decide.ts), launch the
// actions (power-actions.ts) — and when to look again: the next calendar change, drift check, override expiry or
// retry, whichever comes first.
import { isCancellation } from '@temporalio/workflow';
import { nextChange } from '../calendar';
import { describeError } from './errors';
import { isAction, type Launch, launchActions, type readActivities } from './power-actions';
import { type Effective, effectiveDesired, iso, realDelayMs, scheduleNow } from './power-decide';
import type { PowerScheduleState } from './power-state';
import type { CvmDecision } from './power-types';
import { desiredView } from './power-views';

/** Temporal fires shorter timers late (after about a second): a drift check due this close to a change is folded. */
const TIMER_FLOOR_MS = 1000;
/** Real time for which a drift check may reuse the worker's listing made for another schedule. */
const LISTING_REUSE_MAX_MS = 60_000;

type Reads = ReturnType<typeof readActivities>;

export async function evaluate(s: PowerScheduleState, api: Reads): Promise<void> {
  const mine = ++s.evalStarted;
  // Ahead of the clock when the loop woke early to prepare a change (power-schedule.ts).
  const t = s.decisionTime();
  s.expireOverrides(t);
  const eff = effectiveDesired(s.config.calendar, s.overrides, t);
  const transitioned = eff.key !== s.carried.lastEffectiveKey;
  s.noteTransition(eff);
  // A pause that comes while a prepared change holds its calls holds them for good (the CVMs stay owed).
  if (s.paths.early && s.paused()) s.cancelHeld();
  let gone: Set<string>;
  try {
    gone = await read(s, api, eff, t, transitioned);
  } catch (err) {
    if (isCancellation(err)) throw err;
    const message = describeError(err);
    if (message !== s.readError) s.record('error', `reading the targets failed: ${message}; retrying`);
    s.readError = message;
    s.lastReport = {
      atMs: t,
      desired: desiredView(eff),
      decisions: [],
      unresolved: s.carried.unresolved,
      readError: message,
    };
    s.evalDone = mine;
    return;
  }
  s.readError = undefined;

  const cvms = [...s.memory.values()].filter((m) => !gone.has(m.cvmId));
  const first = cvms.map((m) => s.decideFor(m, eff, t, false));
  const wanting = [...new Set(cvms.filter((_, i) => isAction(first[i]!)).map((m) => m.app))];
  const locked = wanting.length ? await lockedApps(s, api, wanting) : new Set<string>();
  const decisions: CvmDecision[] = [];
  const launches: Launch[] = [];
  cvms.forEach((m, i) => {
    const d = locked.has(m.app) ? s.decideFor(m, eff, t, true) : first[i]!;
    const actual = m.status;
    const running = s.inFlight.get(m.cvmId)?.action;
    s.bookkeep(m, d, eff, t);
    if (isAction(d)) launches.push({ m, d });
    // An action launched by an earlier evaluation is what is happening to this CVM now, so that is what to show.
    const shown = running
      ? { decision: running, reason: `${running} in progress since ${iso(m.lastAction?.atMs ?? t)}` }
      : { decision: d.kind, reason: d.reason };
    decisions.push({ cvmId: m.cvmId, name: m.name, actual, desired: eff.state, drift: d.drift, ...shown });
  });
  launchActions(s, launches, eff);
  s.carried.lastEvaluationMs = t;
  s.lastReport = { atMs: t, desired: desiredView(eff), decisions, unresolved: s.carried.unresolved };
  s.evalDone = mine;
}

/** The apps among `wanting` that a deployment holds; all of them when that cannot be told. */
async function lockedApps(s: PowerScheduleState, api: Reads, wanting: string[]): Promise<Set<string>> {
  let locked: Set<string>;
  try {
    locked = new Set(await api.powerLockedApps({ apps: wanting }));
    s.locksCheckedAtMs = Date.now();
  } catch (err) {
    if (isCancellation(err)) throw err;
    // Acting without knowing whether a deployment holds the app could stop a CVM mid-rollout: wait instead.
    locked = new Set(wanting);
    s.record('error', `checking deployment locks failed: ${describeError(err)}; treated as held`);
  }
  if (s.paths.relists) noteReleases(s, wanting, locked);
  return locked;
}

/**
 * Reads the CVMs' current state. Before batching: a full listing each time. Batched: the known CVMs' statuses in
 * one call, and a listing (to resolve the targets) only when one is needed — at a run's start, after an apply,
 * while a target is unresolved, after a deployment released an app, at a drift check in enforce mode (once per
 * drift interval: the one call that finds CVMs made since), and right after a transition, which acts on the CVMs
 * it knows first because a listing of thousands of CVMs takes the API a while. Returns the CVMs not to decide on
 * now (gone).
 */
async function read(
  s: PowerScheduleState,
  api: Reads,
  eff: Effective,
  t: number,
  transitioned: boolean,
): Promise<Set<string>> {
  const { config, paths } = s;
  const driftListing =
    paths.relists &&
    config.mode === 'enforce' &&
    (s.listedAtMs === undefined || t - s.listedAtMs >= config.driftCheckIntervalMs);
  const needed =
    !paths.batched || s.memory.size === 0 || s.carried.unresolved.length > 0 || (s.listNeeded && !transitioned);
  if (needed || (driftListing && !transitioned)) {
    // A drift check only looks for CVMs made since the last listing: one the worker made for another schedule
    // a moment ago will do (a new CVM is still found within one and a half drift intervals).
    const reuseMs = Math.min(realDelayMs(s.clock, config.driftCheckIntervalMs) / 2, LISTING_REUSE_MAX_MS);
    const notBefore = needed ? {} : { notBeforeMs: Date.now() - reuseMs };
    const targets = await api.powerReadTargets({ targets: config.targets, ...notBefore });
    s.mergeTargets(targets, eff);
    s.listNeeded = false;
    s.listHeldUntilMs = undefined;
    s.listedAtMs = targets.listedAtMs === undefined ? t : Math.min(t, scheduleNow(s.clock, targets.listedAtMs));
    return new Set();
  }
  const r = await api.powerReadStatuses({ cvmIds: [...s.memory.keys()] });
  for (const [cvmId, status] of Object.entries(r.statuses)) {
    const m = s.memory.get(cvmId);
    if (m) Object.assign(m, { status: status.status, inProgress: status.inProgress });
  }
  // The listing right after a transition (or after a CVM vanished) runs at once, beside the actions. After a change
  // prepared ahead of its instant it waits until the change's batches have ended (power-actions.ts wakes the loop)
  // or `leadMs` past the instant: answering and parsing a listing of thousands of CVMs held those calls back.
  if (transitioned || r.missing.length) {
    s.listNeeded = true;
    if (s.paths.listsAfterCalls && transitioned && t > s.now() && r.missing.length === 0)
      s.listHeldUntilMs = t + s.tuning.leadMs * (s.clock?.speed ?? 1);
    else s.dirty = true;
  }
  return new Set(r.missing);
}

/**
 * A deployment that held an app and has let go may have made CVMs since the last listing: list again at once
 * (beside the actions this evaluation launches on the CVMs already known).
 */
function noteReleases(s: PowerScheduleState, checked: string[], locked: Set<string>): void {
  for (const app of checked) {
    if (locked.has(app)) s.heldApps.add(app);
    else if (s.heldApps.delete(app)) {
      s.listNeeded = true;
      s.dirty = true;
    }
  }
}

/** Real milliseconds until the next reason to look again. */
export function nextWakeMs(s: PowerScheduleState): number {
  const { config, clock } = s;
  const t = s.decisionTime();
  const change = nextChange(config.calendar, t);
  // A drift check due shortly before a calendar change is folded into it: the change reads every CVM anyway.
  const driftCheck = t + config.driftCheckIntervalMs;
  const gap = change ? change.atMs - driftCheck : 0;
  const folds =
    change &&
    gap > 0 &&
    (gap < config.driftCheckIntervalMs / 2 || (s.paths.batched && realDelayMs(clock, gap) < TIMER_FLOOR_MS));
  const candidates = [folds ? change.atMs : driftCheck];
  if (change) candidates.push(change.atMs);
  if (s.listHeldUntilMs !== undefined) candidates.push(s.listHeldUntilMs);
  for (const o of s.overrides)
    candidates.push(o.fromMs ?? Number.POSITIVE_INFINITY, o.untilMs ?? Number.POSITIVE_INFINITY);
  for (const m of s.memory.values()) {
    if (m.retryAtMs !== undefined) candidates.push(m.retryAtMs);
    if (config.mode === 'enforce' && m.driftSinceMs !== undefined) candidates.push(m.driftSinceMs + config.graceMs);
  }
  const soonest = Math.min(...candidates.filter((c) => c > t));
  let wait = realDelayMs(clock, soonest - s.now());
  // Paused while a change was prepared: its held calls were cancelled, and the loop still wakes at its instant, so
  // the status shows the change as due and held by the pause from then on.
  if (s.paths.listsAfterCalls && t > s.now() && s.paused()) wait = Math.min(wait, realDelayMs(clock, t - s.now()));
  if (s.readError !== undefined || [...s.memory.values()].some((m) => m.deferred === 'locked'))
    wait = Math.min(wait, s.tuning.deferRecheckMs);
  // A target not found yet (an app whose first deployment is still provisioning) is looked for again soon, then
  // less and less often: each look lists the fleet.
  if (s.paths.batched && s.carried.unresolved.length > 0)
    wait = Math.min(wait, s.tuning.deferRecheckMs * 2 ** Math.min(s.unresolvedWaits++, 10));
  else s.unresolvedWaits = 0;
  return wait;
}

/**
 * The wake that prepares the next change of the desired state (a calendar change, a lease's start or end) `leadMs`
 * before its instant, when nothing else wakes the loop first: the reads, the lock check and the batches' start are
 * done by then and the calls go out at the instant (the batches hold them until `notBeforeMs`). Without it the
 * calls of a large instant queued behind a timer firing late and three round trips (bench/power-scale.md).
 */
export function preparingWake(s: PowerScheduleState, wakeMs: number): { ms: number; prepares?: number } {
  if (!s.paths.early) return { ms: wakeMs };
  const t = s.decisionTime();
  // One change prepared at a time, and only from rest: with actions in flight (or paused) the change is taken when
  // it is due, as without the lead, so nothing launched for the old state meets a debt for the new one.
  if (t > s.now() || s.inFlight.size > 0 || s.paused()) return { ms: wakeMs };
  const bounds = s.overrides.flatMap((o) => [o.fromMs, o.untilMs]).filter((b): b is number => b !== undefined && b > t);
  const change = Math.min(nextChange(s.config.calendar, t)?.atMs ?? Number.POSITIVE_INFINITY, ...bounds);
  if (!Number.isFinite(change)) return { ms: wakeMs };
  const ms = realDelayMs(s.clock, change - s.now()) - s.tuning.leadMs;
  return ms > wakeMs ? { ms: wakeMs } : { ms: Math.max(0, ms), prepares: change };
}

// The power schedule's pure logic: what a CVM's status means, what the schedule wants at an instant once overrides
// are applied, and what to do about one CVM. No clock reads and no I/O, so the workflow calls it with its own clock
// and unit tests drive it with tables.
import { type Calendar, DEFAULT_HORIZON_MS, type Desired, describeSource, desiredAt, nextChange } from '../calendar';
import { type PowerPhase, phaseOf } from '../domain/power-phase';
import { iso } from '../domain/time';
import {
  type DecisionKind,
  type Override,
  type PowerAction,
  type PowerMode,
  type PowerRecord,
  type PowerState,
  RESTART_STATE,
  type RecordSummary,
  type ScheduleClock,
} from './power-types';

export { type PowerPhase, phaseOf };

// ---------------------------------------------------------------------------------------------------------------
// Status → power phase: src/domain/power-phase.ts

// ---------------------------------------------------------------------------------------------------------------
// The decision for one CVM

export interface DecideInput {
  desired: PowerState;
  /** A restart window is in force and this CVM has not been restarted in it yet. */
  restartDue: boolean;
  phase: PowerPhase;
  mode: PowerMode;
  /** A transition (or an earlier failed action) owes this CVM the desired state. */
  owed: boolean;
  nowMs: number;
  graceMs: number;
  /** When drift was first seen; undefined if it was not seen before. */
  driftSinceMs?: number;
  /** The last action on this CVM failed, so a move "toward" the state is not trusted to finish. */
  stuck: boolean;
  paused: boolean;
  locked: boolean;
  inFlight: boolean;
  retryAtMs?: number;
}

export interface Decision {
  kind: DecisionKind;
  /** The actual state differs from the desired one without a transition owing it: someone changed it by hand. */
  drift: boolean;
  /** In the desired state, or on its way there. */
  settled: boolean;
  defer?: 'paused' | 'backoff' | 'locked';
  reason: string;
}

export function decide(i: DecideInput): Decision {
  if (i.phase === 'missing') return none(false, false, 'the CVM is being deleted or is gone');
  if (i.inFlight) return none(false, false, 'an action is in progress');
  const inState = i.phase === i.desired;
  const toward =
    (i.desired === 'running' && i.phase === 'starting') || (i.desired === 'stopped' && i.phase === 'stopping');
  if (inState && !i.restartDue) return none(false, true, `${i.desired} as desired`);
  if (toward && !i.restartDue && !i.stuck) return none(false, true, `on its way to ${i.desired}`);
  if (i.phase === 'busy' && !i.owed && !i.restartDue) {
    return none(false, false, 'another operation is in progress; checked again later');
  }

  const drift = !i.owed && !i.restartDue;
  const driftDue = drift && i.mode === 'enforce' && i.nowMs - (i.driftSinceMs ?? i.nowMs) >= i.graceMs;
  if (!(i.owed || i.restartDue || driftDue)) {
    const found = `${i.phase} while ${i.desired} is desired`;
    return none(
      true,
      false,
      i.mode === 'transitions'
        ? `drift: ${found}; left alone until the next transition (mode: transitions)`
        : `drift: ${found}; corrected once it lasts the grace period`,
    );
  }
  if (i.paused) return { kind: 'defer', drift, settled: false, defer: 'paused', reason: 'the schedule is paused' };
  if (i.retryAtMs !== undefined && i.retryAtMs > i.nowMs) {
    return { kind: 'defer', drift, settled: false, defer: 'backoff', reason: 'waiting to retry a failed action' };
  }
  if (i.locked) {
    return {
      kind: 'defer',
      drift,
      settled: false,
      defer: 'locked',
      reason: 'a deployment holds the app (deploy workflow running)',
    };
  }
  const kind: PowerAction =
    i.restartDue && i.phase === 'running' ? 'restart' : i.desired === 'running' ? 'start' : 'stop';
  const why = i.restartDue ? 'restart window' : drift ? 'drift lasted the grace period' : 'owed by a transition';
  return { kind, drift, settled: false, reason: `${kind}: ${why}` };
}

function none(drift: boolean, settled: boolean, reason: string): Decision {
  return { kind: 'none', drift, settled, reason };
}

// ---------------------------------------------------------------------------------------------------------------
// The schedule's clock

/** The schedule's "now" for a real workflow time. */
export function scheduleNow(clock: Required<ScheduleClock> | undefined, realNowMs: number): number {
  return clock ? clock.virtualAnchorMs + (realNowMs - clock.realAnchorMs) * clock.speed : realNowMs;
}

/** The real epoch ms at which the schedule's clock reads `scheduleMs` (rounded up, so never early). */
export function realTimeOf(clock: Required<ScheduleClock> | undefined, scheduleMs: number): number {
  return clock ? clock.realAnchorMs + Math.ceil((scheduleMs - clock.virtualAnchorMs) / clock.speed) : scheduleMs;
}

/** Real milliseconds until the schedule's clock has advanced by `scheduleMs` (rounded up, so never early). */
export function realDelayMs(clock: Required<ScheduleClock> | undefined, scheduleMs: number): number {
  return Math.max(1, Math.ceil(clock ? scheduleMs / clock.speed : scheduleMs));
}

// ---------------------------------------------------------------------------------------------------------------
// Desired state after overrides

export interface Effective {
  state: PowerState;
  /** The restart window in force, if any. */
  restartKey?: string;
  cause: string;
  /** Changes exactly when what the schedule wants changes: the trigger for transitions. */
  key: string;
  calendar: Desired;
}

/** A calendar label as a power state: `restart` windows keep the CVMs running after the restart. */
export function powerStateOf(label: string): PowerState {
  return label === 'stopped' ? 'stopped' : 'running';
}

export function effectiveDesired(calendar: Calendar, overrides: readonly Override[], nowMs: number): Effective {
  const cal = desiredAt(calendar, nowMs);
  const keep = [...overrides]
    .reverse()
    .find((o) => (o.kind === 'keepRunning' || o.kind === 'keepStopped') && (o.untilMs ?? 0) > nowMs);
  if (keep) {
    const state: PowerState = keep.kind === 'keepRunning' ? 'running' : 'stopped';
    return {
      state,
      cause: `override ${keep.id} ${keep.kind} until ${iso(keep.untilMs!)} (${keep.reason})`,
      key: state,
      calendar: cal,
    };
  }
  const skip = overrides.find((o) => o.kind === 'skip' && o.fromMs! <= nowMs && nowMs < o.untilMs!);
  if (skip) {
    const state = skip.holdState!;
    return {
      state,
      cause: `override ${skip.id} skips the transition at ${iso(skip.fromMs!)} (${skip.reason})`,
      key: state,
      calendar: cal,
    };
  }
  const state = powerStateOf(cal.state);
  const source = `calendar ${describeSource(cal.source)}`;
  if (cal.state === RESTART_STATE && cal.source.kind === 'window') {
    const w = calendar.windows?.[cal.source.index];
    const restartKey = `window:${w?.start}/${w?.end}`;
    return { state, restartKey, cause: `${source}: restart`, key: `${state}|${restartKey}`, calendar: cal };
  }
  return { state, cause: source, key: state, calendar: cal };
}

/**
 * The next calendar change that would make the schedule act: a different power state, or the start of a restart
 * window. (The end of a restart window inside a running period changes the label, not the power state.)
 */
export function nextPowerChange(calendar: Calendar, afterMs: number, horizonMs = DEFAULT_HORIZON_MS) {
  const current = desiredAt(calendar, afterMs);
  let previous = powerStateOf(current.state);
  let from = afterMs;
  for (let i = 0; i < 64; i++) {
    const change = nextChange(calendar, from, { horizonMs: Math.max(1, afterMs + horizonMs - from) });
    if (!change) return undefined;
    if (powerStateOf(change.state) !== previous || change.state === RESTART_STATE) return change;
    previous = powerStateOf(change.state);
    from = change.atMs;
  }
  return undefined;
}

/** The next `count` changes that make the schedule act. */
export function upcomingPowerChanges(calendar: Calendar, afterMs: number, count: number) {
  const out = [];
  let from = afterMs;
  for (let i = 0; i < count; i++) {
    const change = nextPowerChange(calendar, from);
    if (!change) break;
    out.push(change);
    from = change.atMs;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Overrides: validation and planning (used by update validators, so they throw plain errors with a clear message)

// Notes and lease ends follow the one rule of every control request (src/domain/audit-input.ts).
export { checkNote, checkUntil as checkLeaseUntil, MAX_OVERRIDE_MS as MAX_LEASE_MS } from '../domain/audit-input';

/** The skip lease for the next transition after `nowMs`: hold today's state from that change until the one after. */
export function planSkip(calendar: Calendar, overrides: readonly Override[], nowMs: number) {
  const next = nextPowerChange(calendar, nowMs);
  if (!next) throw new Error('the calendar has no transition in the next 400 days; nothing to skip');
  if (overrides.some((o) => o.kind === 'skip' && o.fromMs === next.atMs)) {
    throw new Error(`the transition at ${iso(next.atMs)} is already skipped`);
  }
  const following = nextPowerChange(calendar, next.atMs);
  return {
    fromMs: next.atMs,
    untilMs: following?.atMs ?? next.atMs + DEFAULT_HORIZON_MS,
    holdState: powerStateOf(desiredAt(calendar, nowMs).state),
    skippedState: next.state,
  };
}

/** Splits overrides into those still active at `nowMs` and those that have expired. */
export function partitionExpired(overrides: readonly Override[], nowMs: number) {
  const active: Override[] = [];
  const expired: Override[] = [];
  for (const o of overrides) (o.untilMs !== undefined && o.untilMs <= nowMs ? expired : active).push(o);
  return { active, expired };
}

// ---------------------------------------------------------------------------------------------------------------
// Retry back-off and the bounded record book

export function retryDelayMs(failures: number, retry: { initialIntervalMs: number; maximumIntervalMs: number }) {
  return Math.min(retry.maximumIntervalMs, retry.initialIntervalMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
}

export interface RecordBook {
  records: PowerRecord[];
  summary: RecordSummary;
  nextSeq: number;
}

/** Appends a record; beyond `max`, the oldest are folded into the summary (counts by kind and time span). */
export function addRecord(book: RecordBook, entry: Omit<PowerRecord, 'seq'>, max: number): PowerRecord {
  const record: PowerRecord = { seq: book.nextSeq++, ...entry };
  book.records.push(record);
  while (book.records.length > Math.max(1, max)) {
    const old = book.records.shift()!;
    const s = book.summary;
    s.folded++;
    s.byKind[old.kind] = (s.byKind[old.kind] ?? 0) + 1;
    s.sinceMs = Math.min(s.sinceMs ?? old.atMs, old.atMs);
    s.untilMs = Math.max(s.untilMs ?? old.atMs, old.atMs);
  }
  return record;
}

export { iso };

// The power schedule's state for one run: what continue-as-new carries (overrides, records, the CVMs it manages) and
// what a run keeps to itself (actions in flight, when it last listed the fleet, the last evaluation), with the
// bookkeeping every step shares — the clock, the audit trail, drift and owed actions per CVM. No I/O and no
// workflow APIs besides cancelling an action's scope, so update validators and unit tests read it as plain data.
import type { CancellationScope } from '@temporalio/workflow';
import { formatInstant } from '../calendar';
import { reportDrift } from './observe';
import { carriedFrom } from './power-carry';
import {
  addRecord,
  type Decision,
  decide,
  type Effective,
  iso,
  partitionExpired,
  phaseOf,
  realTimeOf,
  scheduleNow,
} from './power-decide';
import type {
  CarriedState,
  CvmMemory,
  EvaluationReport,
  InstantView,
  Override,
  PowerAction,
  PowerConfig,
  PowerRecord,
  PowerScheduleInput,
  PowerState,
  PowerTuning,
  RecordKind,
  ScheduleClock,
  TargetRead,
} from './power-types';
import { pauseOf } from './power-validators';

export const DEFAULT_POWER_TUNING: Required<PowerTuning> = {
  deferRecheckMs: 30_000,
  maxIterationsPerRun: 500,
  maxRecords: 100,
  apiAttemptTimeoutMs: 30_000,
  heartbeatTimeoutMs: 20_000,
  batchSize: 200,
  leadMs: 1500,
};

/** A power action running beside the loop, on one CVM or a batch of them. */
export interface InFlight {
  action: PowerAction;
  target: PowerState;
  scope: CancellationScope;
  /** Set when a transition made this action's target unwanted and cancelled it. */
  supersededBy?: PowerState;
  /** Its scope was cancelled (superseded, or held when a pause came): a held batch asking is told no. */
  cancelled?: boolean;
  /** A batch prepared ahead of a change holds its calls until this instant (schedule time). */
  holdsUntilMs?: number;
}

/** Which recorded behaviour this run follows (its patches, decided once per run). */
export interface PowerPaths {
  /** One activity per action for a batch of CVMs, drift checks that read statuses only ('power-batched-actions'). */
  batched: boolean;
  /** The fleet is listed again whenever it can have grown ('power-fleet-relist'). */
  relists: boolean;
  /** A calendar change is prepared `leadMs` before its instant, its calls held until then ('power-early-wake'). */
  early: boolean;
  /**
   * After a change prepared ahead, the fleet listing that looks for CVMs made since waits for the change's batches
   * to end instead of running beside them, and the loop looks again whenever its last action ends, so the next
   * change is prepared even when the wake was set with actions in flight ('power-list-after-calls').
   */
  listsAfterCalls: boolean;
}

export class PowerScheduleState {
  config: PowerConfig;
  readonly tuning: Required<PowerTuning>;
  readonly clock: Required<ScheduleClock> | undefined;
  /** What moves to the next run. */
  readonly carried: CarriedState;
  /** What the schedule knows of each CVM it manages. */
  readonly memory: Map<string, CvmMemory>;
  /** Power actions running beside the loop, one per CVM at most. */
  readonly inFlight = new Map<string, InFlight>();
  /** Schedule time of the last listing: enforce mode lists again once a drift interval has passed. */
  listedAtMs: number | undefined;
  /** Apps a deployment held at their last lock check (or whose check failed): their release means a new listing. */
  readonly heldApps = new Set<string>();
  /** Whether the next evaluation lists the fleet to resolve the targets (each run's first one does). */
  listNeeded = true;
  /**
   * Schedule time by which the listing held back after a prepared change is made, when its batches have not ended
   * before ('power-list-after-calls'): `leadMs` after the change's instant.
   */
  listHeldUntilMs: number | undefined;
  /** Workflow time of the last deployment-lock check, which the batch activity trusts while it is fresh. */
  locksCheckedAtMs: number | undefined;
  /** Waits in a row with a target unresolved: its re-check backs off from deferRecheckMs to the drift interval. */
  unresolvedWaits = 0;
  /**
   * The instant (schedule time) of a change the loop woke early to prepare: evaluations decide for it from then
   * on, never for an earlier time, so a wake in between cannot undo the change before it is due.
   */
  preparedForMs: number | undefined;
  /** Something happened that the loop must look at before its next scheduled wake. */
  dirty = false;
  iteration = 0;
  evalStarted = 0;
  evalDone = 0;
  lastReport: EvaluationReport | undefined;
  readError: string | undefined;

  constructor(
    readonly input: PowerScheduleInput,
    readonly paths: PowerPaths,
    realNowMs: number,
  ) {
    this.config = input.config;
    this.tuning = { ...DEFAULT_POWER_TUNING, ...input.tuning };
    this.clock = input.clock && { ...input.clock, realAnchorMs: input.clock.realAnchorMs ?? realNowMs };
    this.carried = carriedFrom(input.carried);
    this.carried.runs++;
    this.memory = new Map(this.carried.cvms.map((c) => [c.cvmId, c]));
  }

  /** The schedule's clock (workflow time, scaled when the schedule runs on a test clock). */
  now(): number {
    return scheduleNow(this.clock, Date.now());
  }

  /** The time an evaluation decides for: now, or a prepared change's instant that the clock has not reached. */
  decisionTime(): number {
    const now = this.now();
    return this.preparedForMs !== undefined && this.preparedForMs > now ? this.preparedForMs : now;
  }

  get overrides(): readonly Override[] {
    return this.carried.overrides;
  }

  paused(): Override | undefined {
    return pauseOf(this);
  }

  instant(atMs: number): InstantView {
    return { atMs, local: formatInstant(this.config.calendar.timezone, atMs), utc: iso(atMs) };
  }

  record(kind: RecordKind, reason: string, extra: Partial<PowerRecord> = {}): PowerRecord {
    return addRecord(this.carried, { atMs: this.now(), kind, reason, ...extra }, this.tuning.maxRecords);
  }

  addOverride(fields: Omit<Override, 'id' | 'createdAtMs'>): Override {
    const o: Override = { id: `o${++this.carried.overrideSeq}`, createdAtMs: this.now(), ...fields };
    this.carried.overrides.push(o);
    this.dirty = true;
    return o;
  }

  removeOverrides(gone: (o: Override) => boolean): Override[] {
    const removed = this.carried.overrides.filter(gone);
    this.carried.overrides = this.carried.overrides.filter((o) => !removed.includes(o));
    return removed;
  }

  expireOverrides(t: number): void {
    const { active, expired } = partitionExpired(this.carried.overrides, t);
    this.carried.overrides = active;
    for (const o of expired) this.record('override-expired', `${o.kind} ${o.id} expired (${o.reason})`);
  }

  noteTransition(eff: Effective): void {
    if (eff.key === this.carried.lastEffectiveKey) return;
    this.record('transition', `desired ${this.carried.lastEffectiveKey ?? '(none yet)'} → ${eff.key}: ${eff.cause}`, {
      to: eff.state,
    });
    this.carried.lastEffectiveKey = eff.key;
    for (const m of this.memory.values()) owe(m, eff);
    // An action toward a state that is no longer wanted (a start stuck in boot when the stop is due) gives way.
    for (const running of this.inFlight.values()) {
      if (running.target === eff.state) continue;
      running.supersededBy = eff.state;
      running.cancelled = true;
      running.scope.cancel();
    }
  }

  /**
   * Whether the batch held for `notBeforeMs` (real ms) on these CVMs may make its calls: not paused, and each CVM's
   * action in flight is that batch's (held for that instant) and not cancelled.
   */
  heldBatchWanted(cvmIds: string[], notBeforeMs: number): boolean {
    if (this.paused()) return false;
    return cvmIds.every((id) => {
      const running = this.inFlight.get(id);
      if (!running || running.cancelled || running.holdsUntilMs === undefined) return false;
      return realTimeOf(this.clock, running.holdsUntilMs) === notBeforeMs;
    });
  }

  /** Held batches of a prepared change not yet due: a pause cancels them (their CVMs stay owed). */
  cancelHeld(): void {
    for (const running of this.inFlight.values()) {
      if (running.holdsUntilMs === undefined || running.holdsUntilMs <= this.now()) continue;
      running.cancelled = true;
      running.scope.cancel();
      running.holdsUntilMs = undefined;
    }
  }

  mergeTargets(read: TargetRead, eff: Effective): void {
    const seen = new Set<string>();
    for (const c of read.cvms) {
      seen.add(c.cvmId);
      const m = this.memory.get(c.cvmId);
      if (m) {
        Object.assign(m, { name: c.name, app: c.app, status: c.status, inProgress: c.inProgress });
        continue;
      }
      // A CVM the schedule starts managing (a new replica, a new target) is brought to the desired state.
      const fresh: CvmMemory = { ...c, failures: 0 };
      owe(fresh, eff);
      this.memory.set(c.cvmId, fresh);
      this.record('targets', `now managing ${c.name} (${c.cvmId}), ${c.status}`, { cvmId: c.cvmId, app: c.app });
    }
    for (const [cvmId, m] of this.memory) {
      if (seen.has(cvmId)) continue;
      this.memory.delete(cvmId);
      this.record('targets', `no longer managing ${m.name} (${cvmId}): not among the targets' live CVMs`, {
        cvmId,
        app: m.app,
      });
    }
    const before = JSON.stringify(this.carried.unresolved);
    this.carried.unresolved = read.unresolved;
    const unresolved = this.carried.unresolved;
    if (JSON.stringify(unresolved) !== before && unresolved.length) {
      this.record('targets', `unresolved: ${unresolved.map((u) => `${u.target} (${u.reason})`).join('; ')}`);
    }
  }

  decideFor(m: CvmMemory, eff: Effective, t: number, locked: boolean): Decision {
    return decide({
      desired: eff.state,
      restartDue: eff.restartKey !== undefined && m.restartedKey !== eff.restartKey,
      phase: phaseOf(m.status, m.inProgress),
      mode: this.config.mode,
      owed: m.owed === eff.state,
      nowMs: t,
      graceMs: this.config.graceMs,
      driftSinceMs: m.driftSinceMs,
      stuck: m.failures > 0,
      paused: this.paused() !== undefined,
      locked,
      inFlight: this.inFlight.has(m.cvmId),
      retryAtMs: m.retryAtMs,
    });
  }

  /** Bookkeeping of one decision: drift start and end, deferrals, settled CVMs. */
  bookkeep(m: CvmMemory, d: Decision, eff: Effective, t: number): void {
    if (d.settled) {
      if (m.driftSinceMs !== undefined) {
        this.record(
          'drift-resolved',
          `${m.name} is ${m.status} again, as desired (drift since ${iso(m.driftSinceMs)})`,
          { cvmId: m.cvmId, app: m.app },
        );
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
        this.config.mode === 'enforce'
          ? `corrected after the grace period (${this.config.graceMs / 1000}s)`
          : 'left alone until the next transition';
      const driftText = `${m.name} is ${m.status} while ${eff.state} is desired (${eff.cause}); ${handling}`;
      reportDrift(m.app, driftText);
      this.record('drift', driftText, { cvmId: m.cvmId, app: m.app, from: m.status, to: eff.state });
    }
    if (d.defer === 'locked') this.heldByDeployment(m, d.reason);
    else m.deferred = d.defer;
  }

  /**
   * onBusy defer: keep the action owed and re-check every deferRecheckMs. onBusy skip: drop it (enforce mode
   * still corrects the drift after the grace period). Recorded once per hold, not at every re-check.
   */
  heldByDeployment(m: CvmMemory, why: string): void {
    const held = this.config.onBusy === 'skip' ? 'skipped' : 'locked';
    if (m.deferred !== held) {
      const handling = held === 'skipped' ? 'skipped (onBusy: skip)' : 'retried when it ends (onBusy: defer)';
      this.record('deferred', `${m.name}: ${why}; ${handling}`, { cvmId: m.cvmId, app: m.app });
    }
    if (held === 'skipped') Object.assign(m, { owed: undefined, owedReason: undefined });
    m.deferred = held;
  }
}

/** A new target state is a fresh start: the back-off of an action toward the old one no longer applies. */
function owe(m: CvmMemory, eff: Effective): void {
  Object.assign(m, { owed: eff.state, owedReason: eff.cause, failures: 0, retryAtMs: undefined });
}

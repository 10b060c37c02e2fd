// What one rollout wave knows at any instant, as plain data: its CVM records (carried across continue-as-new), the
// groups of app CVMs still to run, the slots in use, the control (hold/stop) and the time held, and why it stops.
// No Temporal calls here, so the fleet-wide limits (free slots, unavailable CVMs), when the dispatcher stops, what
// each group's outcome does to the records, and the views are pure functions of this state
// (test/unit/rollout-wave-state.test.ts). WaveRun (rollout-wave-run.ts) adds the Temporal side.
import type { LockHolder } from '../activities/rollout-activities';
import { deployWorkflowId } from './deploy-types';
import { isUnavailable, needsRevert } from './rollout-plan';
import type {
  AppInput,
  AppResult,
  CvmRecord,
  WaveCarried,
  WaveControl,
  WaveInput,
  WaveResult,
  WaveStatus,
} from './rollout-types';

const DEFAULTS = { maxCvmsPerWaveRun: 100, lockPollMs: 5000, heartbeatTimeoutMs: 20_000, apiAttemptTimeoutMs: 30_000 };
const MAX_EVENTS = 50;
/** CVMs of one app per app workflow: a bigger share is split, so each app workflow's history stays small too. */
export const MAX_CVMS_PER_APP_RUN = 50;

/** One app's CVMs of the wave, handed to one app workflow. */
export interface Group {
  app: string;
  cvms: CvmRecord[];
}

export class WaveState {
  readonly tuning: typeof DEFAULTS;
  readonly revertMode: boolean;
  /** What the wave carries into its next run when it continues as new. */
  readonly st: WaveCarried;
  private readonly index: Map<string, number>;
  /** Restore keys the rollout holds or this wave found: app workflows report only new ones. */
  readonly known: Set<string>;
  /** Groups still to dispatch, in the wave's order. */
  readonly queue: Group[];
  /** Apps with a group dispatched: an app's next group (over MAX_CVMS_PER_APP_RUN) waits for its lock to be free. */
  readonly active = new Set<string>();
  /** Apps whose group waits for another deployment's lock. */
  readonly waiting = new Set<string>();
  /** Apps whose app workflow is running, with the slots it was given. */
  readonly runningApps = new Map<string, number>();
  control: WaveControl;
  /** Update slots in use. */
  used = 0;
  budgetExceeded = false;
  deadlineExceeded = false;
  blocked: string | undefined;
  startedThisRun = 0;
  continueDue = false;
  private heldMs = 0;
  private heldSince: number | undefined;

  constructor(readonly input: WaveInput) {
    this.tuning = { ...DEFAULTS, ...input.tuning };
    this.st = input.carried ?? {
      cvms: input.cvms.map((c) => ({ ...c })),
      restores: {},
      startedAtMs: Date.now(),
      failures: 0,
      runs: 0,
      events: [],
    };
    this.st.runs++;
    this.revertMode = input.mode === 'revert';
    this.index = new Map(this.st.cvms.map((c, i) => [c.cvmId, i]));
    this.known = new Set([...input.knownRestoreKeys, ...Object.keys(this.st.restores)]);
    this.control = input.control;
    this.heldSince = this.control.hold ? Date.now() : undefined;
    this.queue = this.groups();
  }

  /** Each app's CVMs still to do, in the wave's order, split into groups of at most MAX_CVMS_PER_APP_RUN. */
  private groups(): Group[] {
    const queue: Group[] = [];
    for (const c of this.st.cvms) {
      const todo = this.revertMode
        ? needsRevert(c) && c.state !== 'revert-failed'
        : c.state === 'pending' || c.state === 'waiting-lock';
      if (!todo) continue;
      const last = queue.findLast((g) => g.app === c.app);
      if (last && last.cvms.length < MAX_CVMS_PER_APP_RUN) last.cvms.push(c);
      else queue.push({ app: c.app, cvms: [c] });
    }
    return queue;
  }

  event(text: string): void {
    this.st.events.push({ atMs: Date.now(), text });
    if (this.st.events.length > MAX_EVENTS) this.st.events.shift();
  }

  /** The rollout's new control: the time held is counted (the deadline does not run while held) and logged. */
  setControl(next: WaveControl): void {
    if (next.hold && this.heldSince === undefined) this.heldSince = Date.now();
    if (!next.hold && this.heldSince !== undefined) {
      this.heldMs += Date.now() - this.heldSince;
      this.heldSince = undefined;
    }
    if (next.hold !== this.control.hold || next.stop !== this.control.stop)
      this.event(
        next.stop ? `stop: ${next.reason ?? 'asked'}` : next.hold ? `hold: ${next.reason ?? 'asked'}` : 'released',
      );
    this.control = next;
  }

  /** Slots in use count as down: never fewer than the simulator shows. Failed CVMs stay down until reverted. */
  unavailable(): number {
    return this.input.unavailableBefore + this.used + this.st.cvms.filter(isUnavailable).length;
  }

  free(): number {
    return this.revertMode
      ? this.input.strategy.maxParallel - this.used
      : Math.min(this.input.strategy.maxParallel - this.used, this.input.maxUnavailable - this.unavailable());
  }

  /** The wave deadline does not run while the wave is held (a pause or a closed window). */
  deadlineAt(): number {
    return this.st.startedAtMs + this.input.deadlines.waveMs + this.heldMs;
  }

  stopping(): boolean {
    return this.control.stop || this.budgetExceeded || this.deadlineExceeded;
  }

  /** Nothing in flight or waiting, and too many CVMs down for any to start: waiting would wait forever. */
  stuck(): boolean {
    return (
      this.used === 0 && this.waiting.size === 0 && !this.revertMode && this.unavailable() >= this.input.maxUnavailable
    );
  }

  /** Every group has run: a group back from waiting for a lock needs dispatching too. */
  idle(): boolean {
    return this.queue.length === 0 && this.waiting.size === 0 && this.used === 0;
  }

  /** The first group whose app has no group dispatched, or -1. */
  pickable(): number {
    return this.queue.findIndex((g) => !this.active.has(g.app));
  }

  /** The dispatcher has something to do: stop, hold, a group that can start (or never will), or the end. */
  ready(): boolean {
    return (
      this.stopping() ||
      this.control.hold ||
      (this.pickable() >= 0 && (this.free() >= 1 || this.stuck())) ||
      this.idle()
    );
  }

  drained(): boolean {
    return this.runningApps.size === 0 && this.used === 0 && this.waiting.size === 0;
  }

  /** Takes the next pickable group off the queue and gives it as many slots as are free. */
  dispatch(): { group: Group; slots: number } {
    const [group] = this.queue.splice(this.pickable(), 1) as [Group];
    this.active.add(group.app);
    const slots = Math.min(group.cvms.length, this.free());
    this.used += slots;
    this.startedThisRun += group.cvms.length;
    return { group, slots };
  }

  startedText(): string {
    const total = this.queue.reduce((n, g) => n + g.cvms.length, 0);
    return this.st.runs === 1
      ? `started: ${total} CVMs of ${new Set(this.queue.map((g) => g.app)).size} apps (${this.input.mode})`
      : `continued (run ${this.st.runs}): ${total} CVMs left`;
  }

  merge(cvms: CvmRecord[]): void {
    for (const c of cvms) {
      const i = this.index.get(c.cvmId);
      if (i !== undefined) this.st.cvms[i] = c;
    }
  }

  appInput(g: Group, slots: number): AppInput {
    const { input } = this;
    return {
      rolloutId: input.rolloutId,
      wave: input.wave,
      app: g.app,
      mode: input.mode,
      cvms: g.cvms,
      version: input.version,
      concurrency: slots,
      jitterMs: input.strategy.jitterMs,
      failuresLeft: Math.max(0, input.failuresLeft - this.st.failures),
      health: input.health,
      cvmDeadlineMs: input.deadlines.cvmMs,
      autoRevert: input.autoRevert,
      restores: this.revertMode ? input.restores : {},
      knownRestoreKeys: [...this.known],
      control: this.control,
      tuning: input.tuning,
    };
  }

  /** The app workflow could not start (not because the app is held): its CVMs stay pending. */
  notStarted(g: Group, why: string): void {
    for (const c of g.cvms) Object.assign(c, { state: 'pending', reason: `not started: ${why}` });
    this.merge(g.cvms);
  }

  /** An app workflow's result: its records, the restore patches it found, its failures against the budget. */
  appDone(r: AppResult): void {
    this.merge(r.cvms);
    Object.assign(this.st.restores, r.restores);
    for (const key of Object.keys(r.restores)) this.known.add(key);
    this.st.failures += r.failures;
    if (!this.revertMode && this.st.failures > this.input.failuresLeft && !this.budgetExceeded) {
      this.budgetExceeded = true;
      this.event(
        `failure budget exceeded (${this.st.failures} failed in this wave, ${this.input.failuresLeft} allowed): no new updates`,
      );
    }
  }

  /** The app workflow itself failed (not a CVM of it): what it did is unknown, so its CVMs count as failed. */
  appFailed(g: Group, why: string): void {
    for (const c of g.cvms)
      Object.assign(c, { state: 'failed', reason: `app workflow deploy-${g.app} failed: ${why}` });
    this.merge(g.cvms);
    this.st.failures += g.cvms.length;
    this.budgetExceeded ||= !this.revertMode && this.st.failures > this.input.failuresLeft;
  }

  /** Another deployment holds the app and onBusy is skip: its CVMs are skipped. */
  skipHeld(g: Group, who: string): void {
    for (const c of g.cvms)
      Object.assign(c, { state: 'skipped', reason: `app held by ${who}; skipped (onBusy: skip)` });
    this.merge(g.cvms);
    this.event(`${g.app}: held by ${who}; skipped`);
  }

  /** Another deployment holds the app and onBusy is wait: its CVMs wait for the lock. */
  waitHeld(g: Group, who: string): void {
    for (const c of g.cvms)
      Object.assign(c, { state: 'waiting-lock', reason: `app held by ${who}; waiting (onBusy: wait)` });
    this.event(`${g.app}: held by ${who}; waiting`);
  }

  /** The wave stopped (or continues as new) while this app was held: its CVMs were never touched. */
  heldUntilStop(g: Group): void {
    for (const c of g.cvms)
      Object.assign(c, { state: 'pending', reason: `not started: the wave stopped while deploy-${g.app} was held` });
  }

  /** The app is free again: its group goes back to the front of the line. */
  requeue(g: Group): void {
    for (const c of g.cvms) Object.assign(c, { state: 'pending', reason: undefined });
    this.queue.unshift(g);
  }

  /** After the drain: whether this run hands over to the next one (continue-as-new) rather than ending. */
  continues(): boolean {
    return this.continueDue && !this.stopping() && !this.blocked;
  }

  outcome(): WaveResult['outcome'] {
    return this.budgetExceeded
      ? 'budget-exceeded'
      : this.deadlineExceeded
        ? 'deadline-exceeded'
        : this.blocked
          ? 'blocked'
          : this.control.stop
            ? 'stopped'
            : 'done';
  }
}

/** Who holds an app, as the CVM records and events say it. */
export function holderText(h: LockHolder): string {
  return `${h.workflowId} (${h.workflowType}${h.kind ? `, ${h.kind}` : ''}, run ${h.runId})`;
}

export function waveStatusView(s: WaveState): WaveStatus {
  return {
    wave: s.input.wave,
    mode: s.input.mode,
    control: s.control,
    inFlight: s.used,
    running: [...s.runningApps.keys()].map(deployWorkflowId),
    unavailable: s.unavailable(),
    failures: s.st.failures,
    cvms: s.st.cvms,
    events: s.st.events,
    run: s.st.runs,
  };
}

export function waveResult(s: WaveState, outcome: WaveResult['outcome']): WaveResult {
  return {
    wave: s.input.wave,
    cvms: s.st.cvms,
    restores: s.st.restores,
    failures: s.st.failures,
    outcome,
    ...(outcome === 'blocked' ? { reason: s.blocked } : outcome === 'stopped' ? { reason: s.control.reason } : {}),
    events: s.st.events,
    startedAtMs: s.st.startedAtMs,
    endedAtMs: Date.now(),
  };
}

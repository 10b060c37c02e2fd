// The CVM state machine. An operation is a list of transient phases, each lasting a (scaled, jittered) delay, ending
// in a stable target status. Only one operation runs per CVM: callers check `isBusy` and answer 409, except stop and
// delete, which cancel whatever runs (reference §5.2). Every status change is recorded and published.
import type { FaultRegistry } from './faults';
import { newCorrelationId } from './ids';
import type { Cvm, HistoryEntry, Operation, OpKind } from './model';
import type { TransitionDelays } from './options';

type DelayKey = Exclude<keyof TransitionDelays, 'lockLinger' | 'jitter'>;
interface Phase {
  status: string;
  delay: DelayKey;
}

const PHASES: Record<OpKind, Phase[]> = {
  create: [
    { status: 'creating', delay: 'create' },
    { status: 'starting', delay: 'boot' },
  ],
  start: [{ status: 'starting', delay: 'boot' }],
  stop: [{ status: 'stopping', delay: 'stop' }],
  shutdown: [{ status: 'shutting_down', delay: 'shutdown' }],
  restart: [{ status: 'restarting', delay: 'restart' }],
  update: [
    { status: 'updating', delay: 'update' },
    { status: 'restarting', delay: 'restart' },
  ],
  delete: [{ status: 'deleting', delay: 'delete' }],
};

const TARGET: Record<OpKind, Operation['target']> = {
  create: 'running',
  start: 'running',
  stop: 'stopped',
  shutdown: 'stopped',
  restart: 'running',
  update: 'running',
  delete: 'deleted',
};

/** Statuses a CVM rests in when powered off; start/restart/update treat them alike. */
export const STOPPED_STATUSES = new Set(['stopped', 'exited']);

export interface LifecycleDeps {
  delays: TransitionDelays;
  timeScale: number;
  faults: FaultRegistry;
  onChange(cvm: Cvm): void;
  onGone(cvm: Cvm): void;
  random?: () => number;
}

/** Epoch milliseconds with sub-millisecond precision, comparable across the process. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

export class Lifecycle {
  private readonly opTimers = new Map<number, NodeJS.Timeout>();
  private readonly crashTimers = new Map<number, NodeJS.Timeout>();
  private readonly random: () => number;

  constructor(private readonly deps: LifecycleDeps) {
    this.random = deps.random ?? Math.random;
  }

  /** Real milliseconds for a simulated delay. */
  scaled(simulatedMs: number): number {
    return simulatedMs * this.deps.timeScale;
  }

  isBusy(cvm: Cvm): boolean {
    return cvm.op !== null || Date.now() < cvm.lockedUntil;
  }

  /**
   * Starts an operation, cancelling the current one. An update of a powered-off CVM only applies the change and
   * leaves it off (reference §5.2: "accepted; applied on next boot").
   */
  begin(cvm: Cvm, kind: OpKind): Operation {
    this.cancelTimers(cvm);
    const offUpdate = kind === 'update' && STOPPED_STATUSES.has(cvm.status);
    const phases = offUpdate ? PHASES.update.slice(0, 1) : PHASES[kind];
    const op: Operation = {
      kind,
      target: offUpdate ? 'stopped' : TARGET[kind],
      startedAt: new Date(),
      correlationId: newCorrelationId(),
    };
    cvm.op = op;
    if (op.target !== 'running') cvm.runningSince = null;
    this.runPhase(cvm, op, phases, 0);
    return op;
  }

  close(): void {
    for (const t of this.opTimers.values()) clearTimeout(t);
    for (const t of this.crashTimers.values()) clearTimeout(t);
    this.opTimers.clear();
    this.crashTimers.clear();
  }

  private runPhase(cvm: Cvm, op: Operation, phases: Phase[], index: number): void {
    const phase = phases[index]!;
    this.setStatus(cvm, phase.status);
    const last = index === phases.length - 1;
    if (last && op.target === 'running' && this.deps.faults.cvmFault(cvm, 'neverReachTarget')) return;
    const timer = setTimeout(() => {
      this.opTimers.delete(cvm.id);
      if (cvm.op !== op) return;
      if (last) this.finish(cvm, op);
      else this.runPhase(cvm, op, phases, index + 1);
    }, this.delay(phase.delay));
    this.opTimers.set(cvm.id, timer);
  }

  private finish(cvm: Cvm, op: Operation): void {
    if (op.target === 'deleted') {
      cvm.status = 'deleted';
      this.record(cvm);
      cvm.op = null;
      this.deps.onGone(cvm);
      return;
    }
    cvm.op = null;
    cvm.lockedUntil = Date.now() + this.scaled(this.deps.delays.lockLinger);
    if (op.target === 'running') {
      cvm.runningSince = Date.now();
      cvm.exitedAt = null;
      cvm.bootError = null;
      this.armCrash(cvm);
    }
    this.setStatus(cvm, op.target);
  }

  private armCrash(cvm: Cvm): void {
    const fault = this.deps.faults.cvmFault(cvm, 'crashAfterMs');
    if (!fault || fault.crashAfterMs === undefined) return;
    const timer = setTimeout(() => {
      this.crashTimers.delete(cvm.id);
      if (cvm.op !== null || cvm.status !== 'running') return;
      cvm.runningSince = null;
      cvm.exitedAt = new Date();
      cvm.bootError = 'CVM exited unexpectedly (injected crash)';
      this.setStatus(cvm, 'exited');
    }, this.scaled(fault.crashAfterMs));
    this.crashTimers.set(cvm.id, timer);
  }

  private setStatus(cvm: Cvm, status: string): void {
    cvm.status = status;
    this.record(cvm);
    this.deps.onChange(cvm);
  }

  private record(cvm: Cvm): void {
    const ts = preciseNow();
    cvm.updatedAt = new Date(ts);
    const entry: HistoryEntry = {
      status: cvm.status,
      at: cvm.updatedAt.toISOString(),
      ts,
      op: cvm.op?.kind ?? null,
      correlationId: cvm.op?.correlationId ?? null,
    };
    cvm.history.push(entry);
  }

  private delay(key: DelayKey): number {
    const { jitter } = this.deps.delays;
    const factor = jitter > 0 ? 1 + jitter * (2 * this.random() - 1) : 1;
    return this.scaled(this.deps.delays[key] * factor);
  }

  private cancelTimers(cvm: Cvm): void {
    for (const map of [this.opTimers, this.crashTimers]) {
      const t = map.get(cvm.id);
      if (t) clearTimeout(t);
      map.delete(cvm.id);
    }
  }
}

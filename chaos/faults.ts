// The fault schedule of a run, drawn from the seed: worker SIGKILLs at random moments (each followed by a restart
// after a random pause), one restart of the Temporal server in the middle, an outage of the chain's RPC, and a
// stream of simulator faults (5xx, 429 with Retry-After, latency, SSE drops and stalls). Every injected fault is
// counted for the report; the Retry-After ones are remembered for the invariant that checks clients waited.
import type { FaultProfile, RouteFaultInput } from '../src/simulator';
import type { Rng } from './rng';
import type { ChaosStack } from './stack';

export interface FaultPlan {
  /** Milliseconds from the start of the drive. */
  kills: number[];
  temporalRestartAt: number;
  chainOutage: { at: number; forMs: number };
  simFaults: { at: number; fault: RouteFaultInput }[];
}

export interface FaultCounts {
  workerKills: number;
  workerRestarts: number;
  temporalRestarts: number;
  temporalDownMs: number;
  chainOutages: number;
  chainDownMs: number;
  simFaultRules: number;
  /** Requests the simulator answered with an injected fault (errors, latency or SSE effects). */
  simFaultsFired: number;
  byType: Record<string, number>;
}

/** Retry-After faults (id → seconds), for the invariant. */
export type RetryAfterFaults = Map<string, number>;

const SIM_FAULT_MENU: ((rng: Rng, id: string) => RouteFaultInput & { type: string })[] = [
  (_, id) => ({ type: '5xx', id, method: 'POST', path: '/cvms/provision', status: 503, count: 2 }),
  (_, id) => ({ type: '5xx', id, method: 'POST', path: '/cvms', status: 502, count: 1 }),
  (rng, id) => ({ type: '5xx', id, method: 'GET', path: '/cvms/:id', status: rng.pick([500, 502, 504]), count: 3 }),
  (rng, id) => ({
    type: '429',
    id,
    method: 'PATCH',
    path: '/cvms/:id',
    status: 429,
    retryAfter: rng.int(1, 2),
    count: 2,
  }),
  (rng, id) => ({
    type: '429',
    id,
    method: 'POST',
    path: '/cvms/:id/replicas',
    status: 429,
    retryAfter: rng.int(1, 2),
    count: 1,
  }),
  (rng, id) => ({
    type: '503+retry-after',
    id,
    method: 'POST',
    path: '/cvms/:id/stop',
    status: 503,
    retryAfter: 1,
    count: rng.int(1, 2),
  }),
  (rng, id) => ({
    type: '503+retry-after',
    id,
    method: 'DELETE',
    path: '/cvms/:id',
    status: 503,
    retryAfter: 1,
    count: rng.int(1, 2),
  }),
  (rng, id) => ({ type: 'latency', id, path: '*', latencyMs: rng.int(150, 700), count: rng.int(10, 30) }),
  (rng, id) => ({
    type: 'sse-drop',
    id,
    path: '/cvms/:id/state',
    sse: { dropAfterEvents: rng.int(0, 2) },
    count: rng.int(2, 4),
  }),
  (rng, id) => ({
    type: 'sse-stall',
    id,
    path: '/cvms/:id/state',
    sse: { stallAfterEvents: rng.int(0, 1) },
    count: rng.int(1, 3),
  }),
  (_, id) => ({ type: '5xx', id, method: 'POST', path: '/status/batch', status: 503, count: 2 }),
];

export function planFaults(rng: Rng, driveMs: number, minKills: number): FaultPlan {
  const kills: number[] = [];
  const slot = driveMs / (minKills + 1);
  for (let i = 0; i < minKills; i++) kills.push(Math.round(slot * (i + 0.5) + rng.next() * slot));
  const simFaults: FaultPlan['simFaults'] = [];
  const every = Math.max(1500, driveMs / Math.max(8, Math.round(driveMs / 4000)));
  // Cycling through the menu from a seeded offset: every kind of fault shows up in any run of a few.
  const offset = rng.int(0, SIM_FAULT_MENU.length - 1);
  let n = 0;
  for (let t = 1000; t < driveMs; t += every * (0.5 + rng.next())) {
    const make = SIM_FAULT_MENU[(offset + n) % SIM_FAULT_MENU.length]!;
    simFaults.push({ at: Math.round(t), fault: make(rng, `chaos-${++n}`) });
  }
  return {
    kills,
    temporalRestartAt: Math.round(driveMs * (0.4 + rng.next() * 0.2)),
    chainOutage: {
      at: Math.round(driveMs * (0.1 + rng.next() * 0.15)),
      forMs: Math.round(Math.min(15_000, driveMs * 0.12)),
    },
    simFaults,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FaultInjector {
  readonly counts: FaultCounts = {
    workerKills: 0,
    workerRestarts: 0,
    temporalRestarts: 0,
    temporalDownMs: 0,
    chainOutages: 0,
    chainDownMs: 0,
    simFaultRules: 0,
    simFaultsFired: 0,
    byType: {},
  };
  readonly retryAfter: RetryAfterFaults = new Map();
  private readonly injected: string[] = [];
  private readonly pending: Promise<unknown>[] = [];
  private stopped = false;

  constructor(
    private readonly stack: ChaosStack,
    private readonly rng: Rng,
    private readonly plan: FaultPlan,
    private readonly log: (line: string) => void,
  ) {}

  /** Runs the plan against the clock; resolves when the last planned fault has been injected. */
  async run(): Promise<void> {
    const t0 = Date.now();
    const at = (ms: number) => sleep(Math.max(0, t0 + ms - Date.now()));
    const tasks: Promise<void>[] = [];
    for (const ms of this.plan.kills) tasks.push(at(ms).then(() => this.kill()));
    tasks.push(at(this.plan.temporalRestartAt).then(() => this.restartTemporal()));
    tasks.push(at(this.plan.chainOutage.at).then(() => this.chainOutage(this.plan.chainOutage.forMs)));
    for (const f of this.plan.simFaults) tasks.push(at(f.at).then(() => this.simFault(f.fault)));
    await Promise.all(tasks);
    await Promise.all(this.pending);
  }

  stop(): void {
    this.stopped = true;
  }

  private bump(type: string): void {
    this.counts.byType[type] = (this.counts.byType[type] ?? 0) + 1;
  }

  private async kill(): Promise<void> {
    if (this.stopped) return;
    const live = this.stack.workers.filter((w) => this.stack.alive(w));
    if (live.length === 0) return;
    const victim = this.rng.pick(live);
    if (!(await this.stack.killWorker(victim))) return;
    this.counts.workerKills++;
    this.bump('worker SIGKILL');
    this.log(`SIGKILL worker ${victim.index} (kill #${this.counts.workerKills})`);
    const pause = this.rng.int(300, 3000);
    const restart = sleep(pause).then(async () => {
      if (this.stack.alive(victim)) return;
      await this.stack.startWorker(victim).catch((err: Error) => this.log(`worker ${victim.index}: ${err.message}`));
      this.counts.workerRestarts++;
    });
    this.pending.push(restart);
  }

  private async restartTemporal(): Promise<void> {
    if (this.stopped) return;
    this.log('restarting the Temporal server (same database file)');
    const ms = await this.stack.restartTemporal();
    this.counts.temporalRestarts++;
    this.counts.temporalDownMs += ms;
    this.bump('Temporal restart');
    this.log(`Temporal server back after ${ms} ms`);
  }

  private async chainOutage(forMs: number): Promise<void> {
    if (this.stopped) return;
    this.log(`chain RPC outage for ${forMs} ms`);
    await this.stack.rpcProxy.close();
    this.counts.chainOutages++;
    this.bump('chain RPC outage');
    const t0 = Date.now();
    await sleep(forMs);
    await this.stack.rpcProxy.open();
    this.counts.chainDownMs += Date.now() - t0;
    this.log('chain RPC back');
  }

  private simFault(fault: RouteFaultInput & { type?: string }): void {
    if (this.stopped) return;
    const { type, ...rule } = fault;
    this.stack.sim.addFaults({ routes: [rule] } as FaultProfile);
    if (rule.id) this.injected.push(rule.id);
    this.counts.simFaultRules++;
    this.bump(`sim ${type ?? 'fault'}`);
    if (rule.retryAfter !== undefined && rule.id) this.retryAfter.set(rule.id, Number(rule.retryAfter));
  }

  /** Clears what is left of the simulator faults (the drain runs clean), and counts what fired. */
  finish(): void {
    this.stopped = true;
    for (const id of this.injected) this.stack.sim.removeFault(id);
    for (const r of this.stack.sim.requests())
      if (r.faults.some((id) => id.startsWith('chaos-'))) this.counts.simFaultsFired++;
  }
}

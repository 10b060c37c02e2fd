// simulator: capacity of the Phala Cloud API simulator (not a test): 1 000 CVMs and 200 concurrent SSE watchers
// spread over 40 API keys (5 each — the per-key cap) against one simulator. Three threads, each with its own event
// loop as separate processes would have: the main thread runs the simulator (and orchestrates), a `fleet` thread
// makes the fleet's API calls, a `watchers` thread holds the SSE streams. Every CVM is created, stopped, started,
// shut down and started again. For each transition of a watched CVM that happened while one of its streams was
// open, the delay from the transition (the simulator's history timestamp) to the arrival of the `state` event
// carrying it is measured (all threads read the same clock): p50 / p99 / max, and whether every event arrived
// within 100 ms. --quick: 200 CVMs and 50 watchers over 10 keys.
//
// In the suite: `npm run bench -- --only simulator`. Alone: npx tsx bench/simulator-capacity.ts [--quick]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { type SimulatorHandle, startSimulator } from '../src/simulator';
import { readSse, type SseFrame } from '../src/simulator/sse-client';
import { type BenchOutput, invariant } from './lib/report';
import type { BenchContext } from './lib/stack';
import { round } from './lib/stats';

export interface SimulatorCapacityOptions {
  cvms?: number;
  /** API keys; each holds up to 5 watchers (the per-key cap). */
  keys?: number;
  timeScale?: number;
}

const WATCHERS_PER_KEY = 5;
const TIME_SCALE = 0.05; // boot 1.5 s, shutdown 750 ms, stop 250 ms; SSE interval 5 s → 250 ms ticks (--quick: 0.02)
const JITTER = 0.2; // ±20% per delay so the fleet does not move in lock step
const HTTP_CONCURRENCY = 20; // API calls in flight from the fleet thread
const BUDGET_MS = 100;
const COMPOSE = 'services:\n  app:\n    image: nginx:1.27\n';
const PHASES = [
  ['stop', 'stopped'],
  ['start', 'running'],
  ['shutdown', 'stopped'],
  ['start', 'running'],
] as const;

interface ClientConfig {
  url: string;
  keys: string[];
  cvms: number;
}

interface Target {
  key: string;
  vmUuid: string;
  watched: boolean;
}

interface StreamRecord {
  vmUuid: string;
  frames: SseFrame[];
}

// ---------------------------------------------------------------------------------------------------------------
// Client threads

type ToFleet = { cmd: 'create' } | { cmd: 'act'; action: string };
type FromFleet = { type: 'committed'; target: Target } | { type: 'done' };
interface WatchCmd {
  id: number;
  target: Target;
  status: string;
}
interface Watched extends StreamRecord {
  id: number;
  ok: boolean;
  detail: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

/** The fleet's API calls: provision + commit every CVM, then one power action on all of them per phase. */
function runFleetThread(cfg: ClientConfig): void {
  const targets: Target[] = [];
  const post = async (key: string, path: string, body: unknown = {}) => {
    const res = await fetch(`${cfg.url}${path}`, {
      method: 'POST',
      headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`POST ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  const reply = (m: FromFleet) => parentPort!.postMessage(m);
  parentPort!.on('message', async (m: ToFleet) => {
    if (m.cmd === 'create') {
      await pool(
        Array.from({ length: cfg.cvms }, (_, i) => i),
        HTTP_CONCURRENCY,
        async (i) => {
          const key = cfg.keys[i % cfg.keys.length]!;
          const name = `bench-${String(i).padStart(4, '0')}`;
          const p = await post(key, '/cvms/provision', { name, compose_file: { docker_compose_file: COMPOSE } });
          const c = await post(key, '/cvms', { app_id: p.app_id, compose_hash: p.compose_hash });
          const t: Target = {
            key,
            vmUuid: String(c.vm_uuid),
            watched: Math.floor(i / cfg.keys.length) < WATCHERS_PER_KEY,
          };
          targets.push(t);
          reply({ type: 'committed', target: t });
        },
      );
    } else {
      await pool(targets, HTTP_CONCURRENCY, (t) => post(t.key, `/cvms/${t.vmUuid}/${m.action}`).then(() => undefined));
    }
    reply({ type: 'done' });
  });
}

/** The watchers: one SSE stream per command, reported back with every frame and its arrival time. */
function runWatcherThread(cfg: ClientConfig): void {
  parentPort!.on('message', async ({ id, target, status }: WatchCmd) => {
    const r = await readSse(`${cfg.url}/cvms/${target.vmUuid}/state?target=${status}&interval=5&timeout=600`, {
      apiKey: target.key,
    });
    const ok = r.status === 200 && r.frames.at(-1)?.event === 'complete';
    const detail = `watch ${target.vmUuid} → ${status}: HTTP ${r.status}, last event ${r.frames.at(-1)?.event}`;
    parentPort!.postMessage({ id, vmUuid: target.vmUuid, frames: r.frames, ok, detail } satisfies Watched);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Simulator side (main thread)

/**
 * The client thread runs this same file; Node 20 does not hand tsx's loader to workers, so a tiny ESM bootstrap
 * registers it first (as bin/cvmflow.mjs does) and then imports this module.
 */
function tsWorkerUrl(): URL {
  const bootstrap = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};
register();
await import(${JSON.stringify(import.meta.url)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}

function spawn(role: 'fleet' | 'watchers', cfg: ClientConfig, onError: (err: Error) => void): Worker {
  const thread = new Worker(tsWorkerUrl(), { workerData: { role, cfg } });
  thread.on('error', (err) => onError(new Error(`${role} thread failed: ${err.stack ?? err}`)));
  return thread;
}

/** Drives both client threads through the phases; returns every stream the watchers held. */
class Orchestrator {
  private nextId = 0;
  private readonly pending = new Map<number, (w: Watched) => void>();
  readonly streams: StreamRecord[] = [];
  private fleetDone: (() => void) | undefined;
  private readonly created: Promise<void>[] = [];
  private readonly targets: Target[] = [];

  constructor(
    private readonly sim: SimulatorHandle,
    private readonly fleet: Worker,
    private readonly watchers: Worker,
    private readonly cvms: number,
  ) {
    watchers.on('message', (w: Watched) => {
      this.streams.push({ vmUuid: w.vmUuid, frames: w.frames });
      this.pending.get(w.id)?.(w);
      this.pending.delete(w.id);
    });
    fleet.on('message', (m: FromFleet) => {
      if (m.type === 'done') {
        this.fleetDone?.();
        return;
      }
      this.targets.push(m.target);
      if (m.target.watched) this.created.push(this.watch(m.target, 'running'));
    });
  }

  private watch(target: Target, status: string): Promise<void> {
    const id = this.nextId++;
    this.watchers.postMessage({ id, target, status } satisfies WatchCmd);
    return new Promise((resolve, reject) =>
      this.pending.set(id, (w) => (w.ok ? resolve() : reject(new Error(w.detail)))),
    );
  }

  private fleetCommand(cmd: ToFleet): Promise<void> {
    const done = new Promise<void>((resolve) => {
      this.fleetDone = resolve;
    });
    this.fleet.postMessage(cmd);
    return done;
  }

  private async settle(status: string): Promise<void> {
    while (this.sim.statusCounts()[status] !== this.cvms) await sleep(50);
  }

  async run(): Promise<void> {
    // Create: the watched CVMs are followed from `creating` to `running` as soon as they are committed.
    await this.fleetCommand({ cmd: 'create' });
    await Promise.all(this.created);
    await this.settle('running');
    const watched = this.targets.filter((t) => t.watched);
    for (const [action, status] of PHASES) {
      let ended = 0;
      const done = watched.map((t) => this.watch(t, status).finally(() => ended++));
      // Every stream is registered before the fleet moves, so each transition has a watcher to reach.
      const open = () => Object.values(this.sim.sseStreams()).reduce((a, b) => a + b, 0);
      while (open() < watched.length) {
        if (ended > 0) throw new Error(`a watch for ${status} ended before the fleet moved`);
        await sleep(5);
      }
      await this.fleetCommand({ cmd: 'act', action });
      await Promise.all(done);
      await this.settle(status);
    }
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Each transition inside a stream's lifetime, matched with the first `state` event carrying it that came after. */
function measure(sim: SimulatorHandle, streams: StreamRecord[]) {
  const history = new Map(sim.cvms().map((c) => [c.vmUuid, c.history]));
  const covered = new Set<string>();
  const delays: number[] = [];
  let missed = 0;
  for (const s of streams) {
    const first = s.frames[0]?.at ?? Number.POSITIVE_INFINITY;
    const last = s.frames.at(-1)?.at ?? Number.NEGATIVE_INFINITY;
    for (const [i, h] of (history.get(s.vmUuid) ?? []).entries()) {
      if (h.ts <= first || h.ts > last) continue;
      covered.add(`${s.vmUuid}/${i}`);
      const frame = s.frames.find(
        (f) => f.event === 'state' && (f.data as { status: string }).status === h.status && f.at >= h.ts,
      );
      if (frame) delays.push(frame.at - h.ts);
      else missed++;
    }
  }
  const watchedTransitions = [...new Set(streams.map((s) => s.vmUuid))].reduce(
    (n, vm) => n + (history.get(vm)?.length ?? 1) - 1, // the first entry (`creating`) precedes any watch
    0,
  );
  return { delays: delays.sort((a, b) => a - b), missed, covered: covered.size, watchedTransitions };
}

export async function simulatorCapacity(
  ctx: Pick<BenchContext, 'quick' | 'log'>,
  opts: SimulatorCapacityOptions = {},
): Promise<BenchOutput> {
  const cvms = opts.cvms ?? (ctx.quick ? 200 : 1000);
  const keyCount = opts.keys ?? (ctx.quick ? 10 : 40);
  const timeScale = opts.timeScale ?? (ctx.quick ? 0.02 : TIME_SCALE);
  const keys = Array.from({ length: keyCount }, (_, i) => `phak_bench_${String(i).padStart(2, '0')}`);
  const sim = await startSimulator({ apiKeys: keys, timeScale, delays: { jitter: JITTER } });
  const cfg: ClientConfig = { url: sim.url, keys, cvms };
  let threadFailed: (err: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    threadFailed = reject;
  });
  const fleet = spawn('fleet', cfg, threadFailed);
  const watchers = spawn('watchers', cfg, threadFailed);
  try {
    const started = performance.now();
    const orchestrator = new Orchestrator(sim, fleet, watchers, cvms);
    await Promise.race([orchestrator.run(), failed]);
    const wallMs = performance.now() - started;
    const streams = orchestrator.streams;
    const { delays, missed, covered, watchedTransitions } = measure(sim, streams);
    invariant(delays.length > 0, 'some transitions were measured');
    invariant(missed === 0, `every transition inside an open stream reached its watcher (${missed} missed)`);
    invariant(sim.cvms().length === cvms, `the simulator holds ${cvms} CVMs (got ${sim.cvms().length})`);
    const over = delays.filter((d) => d > BUDGET_MS).length;
    const concurrent = keyCount * WATCHERS_PER_KEY;
    ctx.log(
      `  simulator: ${cvms} CVMs, ${concurrent} concurrent watchers: p99 ${round(percentile(delays, 99), 2)} ms, ` +
        `max ${round(delays.at(-1)!, 2)} ms`,
    );
    return {
      name: 'simulator',
      what:
        `${cvms} CVMs created, stopped, started, shut down and started again while ${concurrent} SSE watchers ` +
        `(${WATCHERS_PER_KEY} per key over ${keyCount} API keys) follow them; delay = a watched CVM's transition ` +
        '(simulator history) → the arrival of the `state` event carrying it, in separate client threads.',
      settings: {
        cvms,
        keys: keyCount,
        watchersPerKey: WATCHERS_PER_KEY,
        timeScale,
        jitter: JITTER,
        httpConcurrency: HTTP_CONCURRENCY,
      },
      figures: {
        cvms_held: cvms,
        sse_watchers_held: concurrent,
        sse_watches_total: streams.length,
        transitions_measured: delays.length,
        transitions_watched: watchedTransitions,
        transitions_in_open_stream: covered,
        delay_p50_ms: round(percentile(delays, 50), 2),
        delay_p99_ms: round(percentile(delays, 99), 2),
        delay_max_ms: round(delays.at(-1)!, 2),
        events_over_100ms: over,
        api_requests: sim.requests().length,
        wall_ms: round(wallMs, 0),
      },
      goals: [
        { figure: 'delay_p99_ms', op: '<=', target: BUDGET_MS },
        { figure: 'events_over_100ms', op: '==', target: 0 },
      ],
      notes: ['Client threads have their own event loops, as separate processes would; all read the same clock.'],
    };
  } finally {
    await Promise.all([fleet.terminate(), watchers.terminate()]);
    await sim.close();
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const out = await simulatorCapacity({ quick, log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

if (!isMainThread && (workerData as { role?: string } | null)?.role) {
  const { role, cfg } = workerData as { role: 'fleet' | 'watchers'; cfg: ClientConfig };
  if (role === 'fleet') runFleetThread(cfg);
  else runWatcherThread(cfg);
} else if (isMainThread && process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

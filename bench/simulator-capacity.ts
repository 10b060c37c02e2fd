// Capacity benchmark of the Phala Cloud API simulator (not a test): 1 000 CVMs and 200 concurrent SSE watchers
// spread over 40 API keys (5 each — the per-key cap) against one simulator. Three threads, each with its own event
// loop as separate processes would have: the main thread runs the simulator (and orchestrates), a `fleet` thread
// makes the fleet's API calls, a `watchers` thread holds the SSE streams. Every CVM is created, stopped, started,
// shut down and started again. For each transition of a watched CVM that happened while one of its streams was
// open, the delay from the transition (the simulator's history timestamp) to the arrival of the `state` event
// carrying it is measured (all threads read the same clock). Prints p50 / p99 / max and whether every event arrived
// within 100 ms.
//
//   npx tsx bench/simulator-capacity.ts
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { type SimulatorHandle, startSimulator } from '../src/simulator';
import { readSse, type SseFrame } from '../src/simulator/sse-client';

const KEYS = 40;
const CVMS = 1000;
const WATCHERS_PER_KEY = 5;
const TIME_SCALE = 0.05; // boot 1.5 s, shutdown 750 ms, stop 250 ms; SSE interval 5 s → 250 ms ticks
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
        Array.from({ length: CVMS }, (_, i) => i),
        HTTP_CONCURRENCY,
        async (i) => {
          const key = cfg.keys[i % KEYS]!;
          const name = `bench-${String(i).padStart(4, '0')}`;
          const p = await post(key, '/cvms/provision', { name, compose_file: { docker_compose_file: COMPOSE } });
          const c = await post(key, '/cvms', { app_id: p.app_id, compose_hash: p.compose_hash });
          const t: Target = { key, vmUuid: String(c.vm_uuid), watched: Math.floor(i / KEYS) < WATCHERS_PER_KEY };
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

function spawn(role: 'fleet' | 'watchers', cfg: ClientConfig): Worker {
  const thread = new Worker(tsWorkerUrl(), { workerData: { role, cfg } });
  thread.on('error', (err) => {
    process.stderr.write(`${role} thread failed: ${err.stack ?? err}\n`);
    process.exit(1);
  });
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
    while (this.sim.statusCounts()[status] !== CVMS) await sleep(50);
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

async function main(): Promise<void> {
  const keys = Array.from({ length: KEYS }, (_, i) => `phak_bench_${String(i).padStart(2, '0')}`);
  const sim = await startSimulator({ apiKeys: keys, timeScale: TIME_SCALE, delays: { jitter: JITTER } });
  const cfg: ClientConfig = { url: sim.url, keys };
  const fleet = spawn('fleet', cfg);
  const watchers = spawn('watchers', cfg);
  try {
    const started = performance.now();
    const orchestrator = new Orchestrator(sim, fleet, watchers);
    await orchestrator.run();
    const wallMs = performance.now() - started;
    const streams = orchestrator.streams;
    const { delays, missed, covered, watchedTransitions } = measure(sim, streams);
    const over = delays.filter((d) => d > BUDGET_MS).length;
    const ms = (v: number) => `${v.toFixed(2)} ms`;
    process.stdout.write(
      [
        `simulator capacity: ${CVMS} CVMs, ${streams.length} SSE watches (${KEYS * WATCHERS_PER_KEY} concurrent) over ${KEYS} API keys`,
        `  timeScale ${TIME_SCALE}, jitter ±${JITTER * 100}%, ${sim.requests().length} API requests, wall ${(wallMs / 1000).toFixed(1)} s`,
        `  transitions of watched CVMs: ${watchedTransitions}; inside an open stream: ${covered}; measured: ${delays.length}; missed: ${missed}`,
        `  transition → state event delay: p50 ${ms(percentile(delays, 50))}, p99 ${ms(percentile(delays, 99))}, max ${ms(delays.at(-1)!)}`,
        `  every event within ${BUDGET_MS} ms: ${over === 0 && missed === 0 ? 'yes' : `no (${over} late, ${missed} missed)`}`,
        '',
      ].join('\n'),
    );
    if (over > 0 || missed > 0) process.exitCode = 1;
  } finally {
    await Promise.all([fleet.terminate(), watchers.terminate()]);
    await sim.close();
  }
}

if (isMainThread) await main();
else {
  const { role, cfg } = workerData as { role: 'fleet' | 'watchers'; cfg: ClientConfig };
  if (role === 'fleet') runFleetThread(cfg);
  else runWatcherThread(cfg);
}

// concurrency: N deployments (1 CVM + 2 replicas each) in flight at once against ONE cvmflow worker process, on a
// simulator whose CVMs boot in 30 s of simulated time (create 20 s + boot 30 s, scaled). Every deploy must finish,
// the worker must stay within the API's SSE cap and its memory budget, and the slowest deploys must not take much
// longer than one deploy alone.
//
// The floor: before them, in the same run, on the same server and simulator, N workflows of the same shape (the same
// activities in the same order, each a bare SDK call; bench/floor/) on the least worker the SDK allows, each under its
// own API key — how fast the machine does the same work with no cvmflow in it. p99_vs_floor compares the two.
//
// In the suite: `npm run bench -- --only concurrency [--n N]`. Alone: npx tsx bench/concurrency.ts [--quick] [--n N] [--max-cached N]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { startDeploy } from '../src/client/deploy';
import type { SimulatorHandle } from '../src/simulator';
import type { DeployResult } from '../src/workflows/deploy-types';
import { mapPool, sleep } from './lib/pool';
import { type BenchOutput, invariant } from './lib/report';
import { sampleMax } from './lib/sampler';
import {
  BENCH_API_KEY,
  type BenchContext,
  benchClient,
  benchSimulator,
  deploymentSpec,
  preciseNow,
  runDeploy,
  uniqueName,
} from './lib/stack';
import { standalone } from './lib/standalone';
import { round, summary } from './lib/stats';
import type { WorkerProcessConfig } from './lib/worker-main';
import { spawnWorkerProcess } from './lib/worker-process';

export interface ConcurrencyOptions {
  n?: number;
  timeScale?: number;
  /** How many start requests the client keeps in flight while it launches the N deployments. */
  startConcurrency?: number;
  /** Overrides of the worker's tuning (experiments only: the suite measures the production defaults). */
  tuning?: WorkerProcessConfig['tuning'];
  hub?: WorkerProcessConfig['hub'];
}

const REPLICAS = 3;
const FLOOR_WORKER = fileURLToPath(new URL('./floor/worker-main.ts', import.meta.url));
const floorApiKey = (i: number) => `phak_floor_${String(i).padStart(16, '0')}`;

interface Outcome {
  name: string;
  ms: number;
  result?: unknown;
  error?: string;
}

/** Starts every workflow (startConcurrency at a time) and waits for all; completion time = start request → result. */
async function runBatch(
  names: string[],
  startConcurrency: number,
  start: (name: string, i: number) => Promise<WorkflowHandle>,
  onProgress: (done: number) => void,
): Promise<{ outcomes: Outcome[]; launchMs: number; wallMs: number }> {
  const started = preciseNow();
  const launched = await mapPool(names, startConcurrency, async (name, i) => {
    const t0 = preciseNow();
    const handle = await start(name, i);
    return { name, t0, handle };
  });
  const launchMs = preciseNow() - started;
  let done = 0;
  const progress = setInterval(() => onProgress(done), 10_000);
  const outcomes = await Promise.all(
    launched.map(async ({ name, t0, handle }): Promise<Outcome> => {
      try {
        const result = await handle.result();
        return { name, ms: preciseNow() - t0, result };
      } catch (err) {
        return { name, ms: preciseNow() - t0, error: failureText(err) };
      } finally {
        done++;
      }
    }),
  );
  clearInterval(progress);
  return { outcomes, launchMs, wallMs: preciseNow() - started };
}

/** The floor batch (see the header) on its own worker process; returns its completion times and the worker's RSS. */
async function floorBatch(
  ctx: BenchContext,
  cvmflowClient: Client,
  sim: SimulatorHandle,
  n: number,
  startConcurrency: number,
) {
  const taskQueue = uniqueName('bench-floor');
  // No payload codec on the floor: the same connection, the SDK's default data converter.
  const client = new Client({ connection: cvmflowClient.connection, namespace: ctx.temporal.namespace });
  const worker = await spawnWorkerProcess(
    {
      temporal: ctx.temporal,
      taskQueue,
      codecKeyText: ctx.codecKeyText,
      phalaUrl: sim.url,
      apiKey: floorApiKey(0),
    },
    { entry: FLOOR_WORKER },
  );
  try {
    const run = (name: string, i: number) =>
      client.workflow.start('floorDeploy', {
        taskQueue,
        workflowId: name,
        args: [{ name, apiKey: floorApiKey(i), replicas: REPLICAS }],
      });
    const t0 = preciseNow();
    await (await run(uniqueName('floor-solo'), n)).result();
    const singleMs = preciseNow() - t0;
    const rss = sampleMax(500, async () => (await worker.stats()).rssMiB);
    const names = Array.from({ length: n }, (_, i) => uniqueName(`floor${i}`));
    const batch = await runBatch(names, startConcurrency, run, (done) =>
      ctx.log(`  concurrency floor: ${done}/${n} done, ${JSON.stringify(sim.statusCounts())}`),
    );
    await rss.stop();
    const final = await worker.stop();
    const failed = batch.outcomes.filter((o) => o.error !== undefined);
    invariant(failed.length === 0, `${failed.length} of ${n} floor workflows failed, e.g. ${failed[0]?.error ?? ''}`);
    for (const o of batch.outcomes)
      invariant((o.result as string[]).length === REPLICAS, `floor workflow ${o.name} made ${REPLICAS} CVMs`);
    return { ...batch, singleMs, peakRssMiB: Math.max(final.peakRssMiB, rss.max()) };
  } finally {
    await worker.stop().catch(() => undefined);
  }
}

/** The innermost cause of a workflow failure: the message that says what really went wrong. */
function failureText(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.message) parts.push(e.message);
  }
  return parts.join(' ← ');
}

export async function concurrency(ctx: BenchContext, opts: ConcurrencyOptions = {}): Promise<BenchOutput> {
  const n = opts.n ?? (ctx.quick ? 20 : 1000);
  // 0.2: the 30 s boot takes 6 s and a whole deploy (two create+boot levels) about 20 s of real time.
  const timeScale = opts.timeScale ?? (ctx.quick ? 0.05 : 0.2);
  const startConcurrency = opts.startConcurrency ?? 100;
  const sim = await benchSimulator({
    timeScale,
    delays: { jitter: 0 },
    apiKeys: [BENCH_API_KEY, ...Array.from({ length: n + 1 }, (_, i) => floorApiKey(i))],
  });
  const client = await benchClient(ctx);
  const keyId = sim.apiKeyId(BENCH_API_KEY);
  ctx.log(`  concurrency: the floor, ${n} bare workflows of the same shape`);
  const floor = await floorBatch(ctx, client, sim, n, startConcurrency);
  const floorTimes = summary(floor.outcomes.map((o) => o.ms));
  const floorCvms = sim.cvms().length;
  invariant(floorCvms === (n + 1) * REPLICAS, `the floor made ${(n + 1) * REPLICAS} CVMs (${floorCvms})`);
  // The floor's CVMs would fill the simulator's nodes: cvmflow starts on an empty fleet, as the floor did.
  sim.reset();
  const taskQueue = uniqueName('bench-concurrency');
  const worker = await spawnWorkerProcess({
    temporal: ctx.temporal,
    taskQueue,
    codecKeyText: ctx.codecKeyText,
    phalaUrl: sim.url,
    apiKey: BENCH_API_KEY,
    tuning: opts.tuning,
    hub: opts.hub,
  });
  try {
    // The reference: one deploy alone on the same worker and simulator.
    const single = await runDeploy(client, ctx, taskQueue, deploymentSpec(uniqueName('solo'), REPLICAS));
    const singleMs = single.endedAt - single.startedAt;
    ctx.log(`  concurrency: one deploy alone took ${Math.round(singleMs)} ms; launching ${n}`);
    const seqBefore = sim.requests().at(-1)?.seq ?? 0;

    const streams = sampleMax(10, () => sim.sseStreams()[keyId] ?? 0);
    const rss = sampleMax(500, async () => (await worker.stats()).rssMiB);
    const names = Array.from({ length: n }, (_, i) => uniqueName(`fleet${i}`));
    const { outcomes, launchMs, wallMs } = await runBatch(
      names,
      startConcurrency,
      (name) => startDeploy(deploymentSpec(name, REPLICAS), { client, taskQueue, codecKeys: ctx.codecKeys, env: {} }),
      async (done) => {
        const w = await worker.stats().catch(() => undefined);
        const mem = w
          ? `worker rss ${Math.round(w.rssMiB)} MiB heap ${Math.round(w.heapUsedMiB)} ext ${Math.round(w.externalMiB)}`
          : '';
        ctx.log(`  concurrency: ${done}/${n} done, ${JSON.stringify(sim.statusCounts())} ${mem}`);
      },
    );
    await streams.stop();
    await rss.stop();
    const final = await worker.stop();
    // Requests still in flight when the last result arrived are logged a moment later.
    await sleep(50);

    const failed = outcomes.flatMap((o) => (o.error !== undefined ? [o.error] : []));
    const completed = outcomes.filter((o) => o.result !== undefined);
    if (failed.length) {
      const reasons = new Map<string, number>();
      for (const f of failed) {
        const key = f.replace(/[0-9a-f]{8,}(-[0-9a-f]{4,})*/g, '…').slice(0, 300);
        reasons.set(key, (reasons.get(key) ?? 0) + 1);
      }
      for (const [k, v] of reasons) ctx.log(`  concurrency: ${v} × ${k}`);
    }
    invariant(failed.length === 0, `${failed.length} of ${n} deploys failed, e.g. ${failed[0] ?? ''}`);
    const live = sim.cvms();
    const byApp = new Map<string, number>();
    for (const c of live) byApp.set(c.name, (byApp.get(c.name) ?? 0) + 1);
    invariant(
      live.length === (n + 1) * REPLICAS,
      `expected ${(n + 1) * REPLICAS} CVMs, the simulator has ${live.length}`,
    );
    invariant(
      live.every((c) => c.status === 'running'),
      `every CVM running (${JSON.stringify(sim.statusCounts())})`,
    );
    invariant(
      names.every((name) => byApp.get(name) === REPLICAS),
      `every app has exactly ${REPLICAS} CVMs (no duplicate from a retry)`,
    );
    for (const o of completed) {
      const r = o.result as DeployResult | undefined;
      invariant(
        r?.cvms.length === REPLICAS && r.mode === 'create',
        `deploy ${o.name} reports ${REPLICAS} created CVMs`,
      );
    }
    const requests = sim.requests({ sinceSeq: seqBefore });
    const refused = requests.filter((r) => r.route === '/cvms/:id/state' && r.status === 429).length;
    invariant(refused === 0, `the worker never ran into the API's SSE cap (got ${refused} × 429)`);
    invariant(streams.max() <= 5, `at most 5 SSE streams per API key (saw ${streams.max()})`);

    const times = summary(outcomes.map((o) => o.ms));
    const byRoute: Record<string, number> = {};
    for (const r of requests) {
      const k = `${r.method} ${r.route ?? r.path}`;
      byRoute[k] = (byRoute[k] ?? 0) + 1;
    }
    const peakRss = Math.max(final.peakRssMiB, rss.max());
    return {
      name: 'concurrency',
      what:
        `${n} deployments of 1 CVM + 2 replicas started at once against one cvmflow worker process (production ` +
        'defaults); completion time = client start request → result; the reference is one deploy alone on the same ' +
        'stack just before; the floor is the same number of bare workflows of the same shape on the least worker, ' +
        'same server and simulator, just before.',
      settings: {
        n,
        timeScale,
        delays: 'default (create 20 s, boot 30 s simulated), jitter 0',
        startConcurrency,
        hub: 'production defaults (4 streams, 1 s batched poll)',
        worker: opts.tuning ? { process: 'separate', tuning: opts.tuning } : 'separate process, createWorker defaults',
      },
      figures: {
        completed: completed.length,
        n,
        max_sse_streams_per_key: streams.max(),
        worker_peak_rss_mib: round(peakRss, 0),
        p99_completion_ratio: round(times.p99 / singleMs, 2),
        p99_vs_floor: round(times.p99 / floorTimes.p99, 2),
        floor_p50_completion_ms: round(floorTimes.p50, 0),
        floor_p99_completion_ms: round(floorTimes.p99, 0),
        floor_single_ms: round(floor.singleMs, 0),
        floor_worker_peak_rss_mib: round(floor.peakRssMiB, 0),
        floor_wall_ms: round(floor.wallMs, 0),
        api_calls_total: requests.length,
        single_deploy_ms: round(singleMs, 0),
        p50_completion_ms: round(times.p50, 0),
        p99_completion_ms: round(times.p99, 0),
        max_completion_ms: round(times.max, 0),
        launch_ms: round(launchMs, 0),
        wall_ms: round(wallMs, 0),
        api_calls_per_deploy: round(requests.length / n, 1),
        status_batch_calls: byRoute['POST /status/batch'] ?? 0,
        sse_streams_opened: final.hub.streamsOpened,
      },
      goals: [
        { figure: 'completed', op: '==', target: n },
        { figure: 'max_sse_streams_per_key', op: '<=', target: 5 },
        { figure: 'worker_peak_rss_mib', op: '<=', target: 1024 },
        { figure: 'p99_completion_ratio', op: '<=', target: 1.5 },
        { figure: 'p99_vs_floor', op: '<=', target: 1.25 },
      ],
      notes: [
        `API calls by route: ${Object.entries(byRoute)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}.`,
        `Peak RSS is the worker process's VmHWM (kernel high-water mark), sampled RSS max ${round(rss.max(), 0)} MiB.`,
      ],
    };
  } finally {
    await worker.stop().catch(() => undefined);
    await client.connection.close();
    await sim.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (flag: string) => {
    const i = process.argv.indexOf(flag);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  // --max-cached N: the worker's workflow cache size (experiments; the suite measures the shipped default).
  const maxCached = arg('--max-cached');
  standalone((ctx) =>
    concurrency(ctx, {
      n: arg('--n'),
      ...(maxCached !== undefined ? { tuning: { maxCachedWorkflows: maxCached } } : {}),
    }),
  );
}

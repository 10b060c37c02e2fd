// overhead: what durability costs. A deploy of 1 CVM + 2 replicas through cvmflow (client start → workflow result)
// against a plain script with the official @phala/cloud SDK making the deploy's calls with the same structure
// (provision → commit → watch → replicas created one after another, each watched while the next is created) and
// no durability, alternately on the same simulator in the same run:
//   - with the simulator's realistic delays (create 20 s + boot 30 s, scaled): cvmflow_ms, sdk_script_ms, ratio;
//   - with every delay at zero, so only the orchestration is left: overhead_ms_per_step = the difference divided by
//     the pipeline's steps on the critical path.
//
// In the suite: `npm run bench -- --only overhead`. Alone: npx tsx bench/overhead.ts [--quick]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commitCvmProvision, createClient, provisionCvm, replicateCvm, watchCvmState } from '@phala/cloud';
import type { SimulatorHandle } from '../src/simulator';
import { type BenchOutput, invariant } from './lib/report';
import {
  BENCH_API_KEY,
  type BenchContext,
  benchClient,
  benchSimulator,
  COMPOSE,
  deploymentSpec,
  preciseNow,
  runDeploy,
  startInProcessWorker,
  uniqueName,
} from './lib/stack';
import { standalone } from './lib/standalone';
import { median, round } from './lib/stats';

export interface OverheadOptions {
  /** Alternating pairs (cvmflow, SDK script) on realistic delays, and on zero delays. */
  pairs?: number;
  zeroPairs?: number;
  timeScale?: number;
}

const REPLICAS = 3;
/** inspect, provision, commit, watch primary, create replica 1, create replica 2, watch replica 2. */
const CRITICAL_PATH_STEPS = 7;
const ZERO_DELAYS = { create: 0, boot: 0, stop: 0, shutdown: 0, restart: 0, update: 0, delete: 0, jitter: 0 };

/** What a user would write with the SDK: the same calls and structure as the pipeline, without durability. */
async function sdkDeploy(sim: SimulatorHandle, name: string): Promise<string[]> {
  const client = createClient({ baseURL: sim.url, apiKey: BENCH_API_KEY });
  const watch = (id: string) => watchCvmState(client, { id, target: 'running', maxRetries: 3, retryDelay: 100 });
  const provisioned = await provisionCvm(client, { name, compose_file: { docker_compose_file: COMPOSE } });
  const primary = await commitCvmProvision(client, {
    app_id: provisioned.app_id!,
    compose_hash: provisioned.compose_hash,
  });
  await watch(primary.vm_uuid!);
  const ids = [primary.vm_uuid!];
  const watches: Promise<unknown>[] = [];
  for (let i = 1; i < REPLICAS; i++) {
    const replica = await replicateCvm(client, { id: primary.vm_uuid! });
    ids.push(replica.vm_uuid!);
    watches.push(watch(replica.vm_uuid!));
  }
  await Promise.all(watches);
  return ids;
}

interface Phase {
  cvmflowMs: number[];
  sdkMs: number[];
  cvmflowCalls: number[];
  sdkCalls: number[];
}

async function measure(ctx: BenchContext, sim: SimulatorHandle, pairs: number, label: string): Promise<Phase> {
  const client = await benchClient(ctx);
  const worker = await startInProcessWorker(ctx, sim);
  const phase: Phase = { cvmflowMs: [], sdkMs: [], cvmflowCalls: [], sdkCalls: [] };
  const seq = () => sim.requests().at(-1)?.seq ?? 0;
  const cvmflow = async () => {
    const before = seq();
    const run = await runDeploy(client, ctx, worker.taskQueue, deploymentSpec(uniqueName(`ovh-${label}`), REPLICAS));
    invariant(run.result.cvms.length === REPLICAS, `cvmflow deploy reports ${REPLICAS} CVMs`);
    for (const c of run.result.cvms)
      invariant(sim.cvms().find((v) => v.vmUuid === c.cvmId)?.status === 'running', `CVM ${c.cvmId} is running`);
    return { ms: run.endedAt - run.startedAt, calls: sim.requests({ sinceSeq: before }).length };
  };
  const sdk = async () => {
    const before = seq();
    const started = preciseNow();
    const ids = await sdkDeploy(sim, uniqueName(`sdk-${label}`));
    const ms = preciseNow() - started;
    invariant(new Set(ids).size === REPLICAS, `the SDK script created ${REPLICAS} CVMs`);
    for (const id of ids)
      invariant(sim.cvms().find((v) => v.vmUuid === id)?.status === 'running', `CVM ${id} is running`);
    return { ms, calls: sim.requests({ sinceSeq: before }).length };
  };
  try {
    // Warm-up: the first workflow task of a worker loads the workflow bundle; the first SDK call opens connections.
    await cvmflow();
    await sdk();
    for (let i = 0; i < pairs; i++) {
      // Alternate who goes first so a drift in machine load weighs on both alike.
      const order = i % 2 === 0 ? [cvmflow, sdk] : [sdk, cvmflow];
      for (const run of order) {
        const r = await run();
        if (run === cvmflow) {
          phase.cvmflowMs.push(r.ms);
          phase.cvmflowCalls.push(r.calls);
        } else {
          phase.sdkMs.push(r.ms);
          phase.sdkCalls.push(r.calls);
        }
      }
    }
    return phase;
  } finally {
    await worker.stop();
    await client.connection.close();
  }
}

export async function overhead(ctx: BenchContext, opts: OverheadOptions = {}): Promise<BenchOutput> {
  const pairs = opts.pairs ?? (ctx.quick ? 1 : 4);
  const zeroPairs = opts.zeroPairs ?? (ctx.quick ? 3 : 10);
  // 0.05: a CVM's create + boot (50 s) takes 2.5 s; --quick 0.02 (1 s).
  const timeScale = opts.timeScale ?? (ctx.quick ? 0.02 : 0.05);
  const realistic = await benchSimulator({ timeScale, delays: { jitter: 0 } });
  let real: Phase;
  try {
    real = await measure(ctx, realistic, pairs, 'real');
    invariant(realistic.cvms().length === (pairs + 1) * 2 * REPLICAS, "no CVM beyond the deploys' own");
  } finally {
    await realistic.close();
  }
  const instant = await benchSimulator({ delays: ZERO_DELAYS });
  let zero: Phase;
  try {
    zero = await measure(ctx, instant, zeroPairs, 'zero');
    invariant(instant.cvms().length === (zeroPairs + 1) * 2 * REPLICAS, "no CVM beyond the deploys' own");
  } finally {
    await instant.close();
  }
  const cvmflowMs = median(real.cvmflowMs);
  const sdkMs = median(real.sdkMs);
  const zeroCvmflow = median(zero.cvmflowMs);
  const zeroSdk = median(zero.sdkMs);
  return {
    name: 'overhead',
    what:
      'A deploy of 1 CVM + 2 replicas: cvmflow (client start → result, durable) vs a plain @phala/cloud SDK script ' +
      'making the same calls with the same structure without durability, alternately on the same simulator; ' +
      'medians.',
    settings: {
      pairs,
      zeroDelayPairs: zeroPairs,
      timeScale,
      delays: 'default (create 20 s, boot 30 s simulated), jitter 0; then every delay 0',
      criticalPathSteps: CRITICAL_PATH_STEPS,
      worker: 'in-process, createWorker defaults',
    },
    figures: {
      cvmflow_ms: round(cvmflowMs, 0),
      sdk_script_ms: round(sdkMs, 0),
      ratio: round(cvmflowMs / sdkMs, 3),
      overhead_ms_per_step: round((zeroCvmflow - zeroSdk) / CRITICAL_PATH_STEPS, 1),
      zero_delay_cvmflow_ms: round(zeroCvmflow, 1),
      zero_delay_sdk_script_ms: round(zeroSdk, 1),
      cvmflow_api_calls: median(real.cvmflowCalls),
      sdk_script_api_calls: median(real.sdkCalls),
    },
    goals: [
      { figure: 'ratio', op: '<=', target: 1.1 },
      { figure: 'overhead_ms_per_step', op: '<=', target: 30 },
    ],
    notes: [
      `Each figure is the median of ${pairs} (realistic) or ${zeroPairs} (zero delays) runs after one warm-up each.`,
      "overhead_ms_per_step = (cvmflow − SDK script) with zero delays ÷ the pipeline's 7 steps on the critical path " +
        '(inspect, provision, commit, watch, replica 1, replica 2, watch replica 2); the SDK script skips the ' +
        "inspect and the replicas' idempotency checks, so their calls count as our overhead.",
      `Realistic runs (ms) cvmflow ${real.cvmflowMs.map((v) => Math.round(v)).join(', ')}; SDK ${real.sdkMs.map((v) => Math.round(v)).join(', ')}.`,
      `Zero-delay runs (ms) cvmflow ${zero.cvmflowMs.map((v) => Math.round(v)).join(', ')}; SDK ${zero.sdkMs.map((v) => Math.round(v)).join(', ')}.`,
    ],
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  standalone((ctx) => overhead(ctx));
}

// overhead: what durability costs. A deploy of 1 CVM + 2 replicas through cvmflow (client start → workflow result)
// against a plain script with the official @phala/cloud SDK making the deploy's calls with the same structure
// (provision → commit → watch → replicas created one after another, each watched while the next is created) and
// no durability, alternately on the same simulator in the same run:
//   - with the simulator's realistic delays (create 20 s + boot 30 s, scaled): cvmflow_ms, sdk_script_ms, ratio;
//   - with every delay at zero, so only the orchestration is left: overhead_ms_per_step = the difference divided by
//     the pipeline's steps on the critical path — measured on a worker that has already run zero-delay deploys back
//     to back for minutes (a fresh worker's figure beside it): the server's per-shard queue-read budget lasted only
//     a few seconds (src/dev/temporal-server.ts), so a fresh worker hid it. The workflow tasks' schedule-to-start
//     and run times, read from the late deploys' histories, say whose time it is (server or worker).
//
// In the suite: `npm run bench -- --only overhead`. Alone: npx tsx bench/overhead.ts [--quick]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commitCvmProvision, createClient, provisionCvm, replicateCvm, watchCvmState } from '@phala/cloud';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
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
import { median, round, timestampMs } from './lib/stats';

export interface OverheadOptions {
  /** Alternating pairs (cvmflow, SDK script) on realistic delays, and on zero delays (fresh, then late). */
  pairs?: number;
  zeroPairs?: number;
  timeScale?: number;
  /** How long the zero-delay worker runs deploys back to back before its late pairs. */
  soakS?: number;
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
  /** Per workflow task of the measured cvmflow deploys (server clock): scheduled → started, started → completed. */
  wftScheduleToStartMs: number[];
  wftRunMs: number[];
}

const newPhase = (): Phase => ({
  cvmflowMs: [],
  sdkMs: [],
  cvmflowCalls: [],
  sdkCalls: [],
  wftScheduleToStartMs: [],
  wftRunMs: [],
});

const EventType = proto.temporal.api.enums.v1.EventType;

/** Workflow task timings of one run's history. */
async function workflowTaskTimes(client: Client, workflowId: string, runId: string, into: Phase): Promise<void> {
  const events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
  const at = new Map(events.map((e) => [Number(e.eventId), timestampMs(e.eventTime)]));
  for (const e of events) {
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)
      into.wftScheduleToStartMs.push(
        timestampMs(e.eventTime) - at.get(Number(e.workflowTaskStartedEventAttributes!.scheduledEventId))!,
      );
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
      into.wftRunMs.push(
        timestampMs(e.eventTime) - at.get(Number(e.workflowTaskCompletedEventAttributes!.startedEventId))!,
      );
  }
}

/**
 * Alternating pairs on one worker. With `soakS`, the worker first runs `pairs` fresh pairs, then cvmflow deploys back
 * to back for `soakS` seconds, then `pairs` late pairs; without, `pairs` pairs after the warm-up.
 */
async function measure(
  ctx: BenchContext,
  sim: SimulatorHandle,
  pairs: number,
  label: string,
  soakS?: number,
): Promise<{ fresh: Phase; late: Phase; soakDeploys: number; workerAgeS: number }> {
  const client = await benchClient(ctx);
  const worker = await startInProcessWorker(ctx, sim);
  const workerStarted = performance.now();
  const seq = () => sim.requests().at(-1)?.seq ?? 0;
  let timesInto: Phase | undefined;
  const cvmflow = async () => {
    const before = seq();
    const run = await runDeploy(client, ctx, worker.taskQueue, deploymentSpec(uniqueName(`ovh-${label}`), REPLICAS));
    invariant(run.result.cvms.length === REPLICAS, `cvmflow deploy reports ${REPLICAS} CVMs`);
    for (const c of run.result.cvms)
      invariant(sim.cvms().find((v) => v.vmUuid === c.cvmId)?.status === 'running', `CVM ${c.cvmId} is running`);
    const calls = sim.requests({ sinceSeq: before }).length;
    if (timesInto) await workflowTaskTimes(client, run.workflowId, run.runId, timesInto);
    return { ms: run.endedAt - run.startedAt, calls };
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
  const runPairs = async (phase: Phase) => {
    timesInto = phase;
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
    timesInto = undefined;
  };
  try {
    // Warm-up: the first workflow task of a worker loads the workflow bundle; the first SDK call opens connections.
    await cvmflow();
    await sdk();
    const fresh = newPhase();
    await runPairs(fresh);
    if (soakS === undefined) return { fresh, late: fresh, soakDeploys: 0, workerAgeS: 0 };
    let soakDeploys = 0;
    const soakEnd = performance.now() + soakS * 1000;
    while (performance.now() < soakEnd) {
      await cvmflow();
      soakDeploys++;
    }
    const workerAgeS = (performance.now() - workerStarted) / 1000;
    const late = newPhase();
    await runPairs(late);
    return { fresh, late, soakDeploys, workerAgeS };
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
  // Minutes of back-to-back deploys: the "after the worker has run for minutes".
  const soakS = opts.soakS ?? (ctx.quick ? 10 : 120);
  const realistic = await benchSimulator({ timeScale, delays: { jitter: 0 } });
  let real: Phase;
  try {
    real = (await measure(ctx, realistic, pairs, 'real')).fresh;
    invariant(realistic.cvms().length === (pairs + 1) * 2 * REPLICAS, "no CVM beyond the deploys' own");
  } finally {
    await realistic.close();
  }
  const instant = await benchSimulator({ delays: ZERO_DELAYS });
  let zero: Awaited<ReturnType<typeof measure>>;
  try {
    zero = await measure(ctx, instant, zeroPairs, 'zero', soakS);
    invariant(
      instant.cvms().length === (2 + 4 * zeroPairs + zero.soakDeploys) * REPLICAS,
      "no CVM beyond the deploys' own",
    );
  } finally {
    await instant.close();
  }
  const cvmflowMs = median(real.cvmflowMs);
  const sdkMs = median(real.sdkMs);
  const perStep = (p: Phase) => (median(p.cvmflowMs) - median(p.sdkMs)) / CRITICAL_PATH_STEPS;
  const { fresh, late } = zero;
  const runs = (label: string, p: Phase) =>
    `${label} zero-delay runs (ms) cvmflow ${p.cvmflowMs.map((v) => Math.round(v)).join(', ')}; SDK ${p.sdkMs.map((v) => Math.round(v)).join(', ')}.`;
  return {
    name: 'overhead',
    what:
      'A deploy of 1 CVM + 2 replicas: cvmflow (client start → result, durable) vs a plain @phala/cloud SDK script ' +
      'making the same calls with the same structure without durability, alternately on the same simulator; ' +
      'medians. With zero delays, on a worker that has run deploys back to back for minutes.',
    settings: {
      pairs,
      zeroDelayPairs: zeroPairs,
      soakS,
      timeScale,
      delays: 'default (create 20 s, boot 30 s simulated), jitter 0; then every delay 0',
      criticalPathSteps: CRITICAL_PATH_STEPS,
      worker: 'in-process, createWorker defaults',
    },
    figures: {
      cvmflow_ms: round(cvmflowMs, 0),
      sdk_script_ms: round(sdkMs, 0),
      ratio: round(cvmflowMs / sdkMs, 3),
      overhead_ms_per_step: round(perStep(late), 1),
      overhead_ms_per_step_fresh: round(perStep(fresh), 1),
      zero_delay_cvmflow_ms: round(median(late.cvmflowMs), 1),
      zero_delay_sdk_script_ms: round(median(late.sdkMs), 1),
      worker_age_s: round(zero.workerAgeS, 0),
      soak_deploys: zero.soakDeploys,
      wft_schedule_to_start_p50_ms: round(median(late.wftScheduleToStartMs), 1),
      wft_run_p50_ms: round(median(late.wftRunMs), 1),
      wft_per_deploy: round(late.wftRunMs.length / late.cvmflowMs.length, 1),
      cvmflow_api_calls: median(real.cvmflowCalls),
      sdk_script_api_calls: median(real.sdkCalls),
    },
    goals: [
      { figure: 'ratio', op: '<=', target: 1.1 },
      { figure: 'overhead_ms_per_step', op: '<=', target: 20 },
    ],
    notes: [
      `Each figure is the median of ${pairs} (realistic) or ${zeroPairs} (zero delays) runs after one warm-up each; ` +
        `the zero-delay figures are the late pairs, after ${zero.soakDeploys} deploys in ${soakS} s on the same worker ` +
        '(_fresh: the pairs right after the warm-up).',
      "overhead_ms_per_step = (cvmflow − SDK script) with zero delays ÷ the pipeline's 7 steps on the critical path " +
        '(inspect, provision, commit, watch, replica 1, replica 2, watch replica 2); the SDK script skips the ' +
        'inspect, so its call counts as our overhead.',
      'wft_* (server clock, late cvmflow deploys): a workflow task waiting to be handed to the worker ' +
        '(schedule_to_start: the server) vs the worker holding it (run: poll reply, workflow code, local activities, ' +
        'completion).',
      `Realistic runs (ms) cvmflow ${real.cvmflowMs.map((v) => Math.round(v)).join(', ')}; SDK ${real.sdkMs.map((v) => Math.round(v)).join(', ')}.`,
      runs('Fresh', fresh),
      runs('Late', late),
    ],
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  standalone((ctx) => overhead(ctx));
}

// fleet_rollout: 200 single-CVM apps rolled to a new compose with maxParallel 20 — ten waves of twenty — on the real
// stack (Temporal dev server, the Phala simulator over HTTP, an in-process worker with the real activities), in
// scaled time. Figures:
//   wall_ms         the 200-CVM rollout, start to result
//   cvm_update_ms   one CVM's update inside the pipeline (prepare → commit → running on the new hash), measured
//                   alone in a one-CVM rollout first
//   theoretical_ms  waves × cvm_update_ms: a rollout with no cost beyond its CVMs' own updates
//   ratio           wall_ms / theoretical_ms (goal ≤ 1.15)
// plus the simulator's own update time, the most CVMs updating at once (from the simulator's state histories) and
// the history sizes of the rollout's workflows (continue-as-new keeps each one small).
//
// The default time scale, 0.2, makes a CVM's update (5 s + 40 s restart in the simulator) 9 s. The rollout's own
// cost is a fixed amount of real time per wave (workflow starts and task round trips, about 1 s on a loaded 2-core
// box), so it weighs more the harder time is compressed.
//
// In the suite: `npm run bench -- --only fleet_rollout`. Alone (starts its own Temporal dev server):
//   npx tsx bench/fleet-rollout.ts [--quick] [--cvms 200] [--max-parallel 20] [--time-scale 0.2]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startRollout } from '../src/client/rollout';
import { startTemporalDevServer } from '../src/dev/temporal-server';
import { PhalaClient } from '../src/phala/client';
import { validateSpec } from '../src/spec';
import type { RolloutSpec } from '../src/spec/rollout';
import { type RolloutResult, waveWorkflowId } from '../src/workflows/rollout-types';
import { mapPool, sleep } from './lib/pool';
import { type BenchOutput, invariant, judge } from './lib/report';
import {
  BENCH_API_KEY,
  type BenchContext,
  benchClient,
  benchSimulator,
  codecKeysOf,
  newCodecKeyText,
  preciseNow,
  startInProcessWorker,
  uniqueName,
} from './lib/stack';
import { round } from './lib/stats';

export interface FleetRolloutOptions {
  cvms?: number;
  maxParallel?: number;
  timeScale?: number;
}

const V1 = 'services:\n  web:\n    image: nginx:1.27-alpine\n';
const V2 = 'services:\n  web:\n    image: nginx:1.28-alpine\n';

function spec(name: string, selector: string, maxParallel: number): RolloutSpec {
  return validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'Rollout',
      name,
      targets: { selector: { name: selector } },
      version: { compose: { inline: V2 } },
      strategy: { maxParallel },
      health: { minHealthy: '0s' },
    },
    { source: 'bench', baseDir: '.', kinds: ['Rollout'] },
  ) as RolloutSpec;
}

async function historyLength(client: Client, workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return history.events?.length ?? 0;
}

export async function fleetRollout(ctx: BenchContext, opts: FleetRolloutOptions = {}): Promise<BenchOutput> {
  const cvms = opts.cvms ?? (ctx.quick ? 20 : 200);
  const maxParallel = opts.maxParallel ?? (ctx.quick ? 5 : 20);
  const timeScale = opts.timeScale ?? (ctx.quick ? 0.05 : 0.2);
  const sim = await benchSimulator({ timeScale, delays: { jitter: 0 } });
  const phala = new PhalaClient({ baseURL: sim.url, apiKey: BENCH_API_KEY });
  const client = await benchClient(ctx);
  // The worker's status poll is scaled with the simulator, so a poll tick weighs against an update as in real time.
  const worker = await startInProcessWorker(ctx, sim, {
    activities: { hub: { pollIntervalMs: Math.max(20, 1000 * timeScale) } },
    tuning: { maxConcurrentActivityTaskExecutions: 400 },
  });
  const tag = uniqueName('r').slice(2);
  try {
    const names = Array.from({ length: cvms + 1 }, (_, i) =>
      i === cvms ? `solo-${tag}` : `fleet-${tag}-${String(i).padStart(4, '0')}`,
    );
    await mapPool(names, 20, async (name) => {
      const p = await phala.provisionCvm({ name, compose_file: { docker_compose_file: V1 }, node_id: 1 });
      await phala.commitCvmProvision({ app_id: p.app_id!, compose_hash: p.compose_hash });
    });
    while (Object.keys(sim.statusCounts()).some((s) => s !== 'running')) await sleep(100);

    const run = async (s: RolloutSpec): Promise<{ result: RolloutResult; wallMs: number; workflowId: string }> => {
      const started = performance.now();
      const handle = await startRollout(s, {
        client,
        taskQueue: worker.taskQueue,
        codecKeys: ctx.codecKeys,
        tuning: { healthPollMs: 50 },
      });
      const result = await handle.result();
      return { result, wallMs: performance.now() - started, workflowId: handle.workflowId };
    };

    // One CVM alone: the update time the fleet's waves are measured against.
    const solo = await run(spec(`bench-solo-${tag}`, `solo-${tag}`, maxParallel));
    invariant(solo.result.outcome === 'succeeded', `the one-CVM rollout succeeded (got ${solo.result.outcome})`);
    const soloCvm = solo.result.cvms[0]!;
    const cvmUpdateMs = soloCvm.endedAtMs! - soloCvm.startedAtMs!;
    ctx.log(`  fleet_rollout: one CVM's update took ${Math.round(cvmUpdateMs)} ms; rolling ${cvms}`);

    const hashBefore = new Map(sim.cvms().map((c) => [c.vmUuid, c.composeHash]));
    const since = preciseNow();
    const fleet = await run(spec(`bench-fleet-${tag}`, `fleet-${tag}-*`, maxParallel));
    const waves = fleet.result.waves.length;
    const theoreticalMs = waves * cvmUpdateMs;

    const fleetCvms = sim.cvms().filter((c) => c.name.startsWith(`fleet-${tag}-`));
    invariant(fleet.result.outcome === 'succeeded', `the rollout succeeded (got ${fleet.result.outcome})`);
    invariant((fleet.result.counts.healthy ?? 0) === cvms, `${cvms} CVMs updated (got ${fleet.result.counts.healthy})`);
    invariant(fleetCvms.length === cvms, `the simulator holds exactly ${cvms} fleet CVMs (got ${fleetCvms.length})`);
    invariant(
      fleetCvms.every((c) => c.status === 'running' && c.composeHash !== hashBefore.get(c.vmUuid)),
      'every fleet CVM runs a new compose',
    );
    invariant(waves === Math.ceil(cvms / maxParallel), `${Math.ceil(cvms / maxParallel)} waves (got ${waves})`);

    // From the simulator's histories: its own update time, and the most CVMs updating at once.
    const spans = fleetCvms.flatMap((c) => {
      const h = c.history.filter((e) => e.ts >= since);
      const from = h.find((e) => e.status === 'updating')?.ts;
      const to = h.find((e) => e.status === 'running' && from !== undefined && e.ts > from)?.ts;
      return from !== undefined && to !== undefined ? [{ from, to }] : [];
    });
    const edges = spans.flatMap((s) => [
      { at: s.from, d: 1 },
      { at: s.to, d: -1 },
    ]);
    edges.sort((a, b) => a.at - b.at || a.d - b.d);
    let now = 0;
    let maxUpdating = 0;
    for (const e of edges) {
      now += e.d;
      maxUpdating = Math.max(maxUpdating, now);
    }
    invariant(maxUpdating <= maxParallel, `at most ${maxParallel} CVMs updating at once (saw ${maxUpdating})`);
    const simUpdateMs = spans.reduce((sum, s) => sum + s.to - s.from, 0) / Math.max(1, spans.length);

    const waveIds = fleet.result.waves.map((w) => waveWorkflowId(fleet.workflowId, w.index, w.mode));
    const waveHistories = await Promise.all(waveIds.map((id) => historyLength(client, id).catch(() => 0)));
    return {
      name: 'fleet_rollout',
      what:
        `${cvms} single-CVM apps rolled to a new compose with maxParallel ${maxParallel} by one in-process worker; ` +
        "theoretical_ms = waves × one CVM's update inside a one-CVM rollout measured just before.",
      settings: {
        cvms,
        maxParallel,
        timeScale,
        delays: 'default (update 5 s + restart 40 s simulated), jitter 0',
        hubPollIntervalMs: Math.max(20, 1000 * timeScale),
        healthPollMs: 50,
      },
      figures: {
        wall_ms: round(fleet.wallMs, 0),
        theoretical_ms: round(theoreticalMs, 0),
        ratio: round(fleet.wallMs / theoreticalMs, 3),
        waves,
        cvm_update_ms: round(cvmUpdateMs, 0),
        sim_update_ms: round(simUpdateMs, 0),
        max_updating_at_once: maxUpdating,
        history_events_rollout: await historyLength(client, fleet.workflowId),
        history_events_wave_max: Math.max(...waveHistories),
      },
      goals: [{ figure: 'ratio', op: '<=', target: 1.15 }],
      notes: [
        "The rollout's own cost is a roughly fixed amount of real time per wave (workflow starts, task round " +
          "trips), so the ratio worsens as the time scale compresses the CVMs' updates.",
      ],
    };
  } finally {
    await worker.stop();
    await client.connection.close();
    await phala.close();
    await sim.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      cvms: { type: 'string' },
      'max-parallel': { type: 'string' },
      'time-scale': { type: 'string' },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const server = await startTemporalDevServer({ fastSqlite: true, readyTimeoutMs: 90_000 });
  const codecKeyText = newCodecKeyText();
  const ctx: BenchContext = {
    quick: values.quick ?? false,
    temporal: { address: server.address, namespace: server.namespace },
    codecKeyText,
    codecKeys: codecKeysOf(codecKeyText),
    log: (line) => process.stderr.write(`${line}\n`),
  };
  try {
    const out = await fleetRollout(ctx, {
      cvms: num(values.cvms),
      maxParallel: num(values['max-parallel']),
      timeScale: num(values['time-scale']),
    });
    process.stdout.write(`${JSON.stringify({ ...out, goals: judge(out.goals, out.figures) }, null, 2)}\n`);
  } finally {
    await server.stop();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

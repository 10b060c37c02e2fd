// Fleet rollout benchmark (not a test): 200 single-CVM apps rolled to a new compose with maxParallel 20 — ten waves
// of twenty — on the real stack (Temporal dev server, the Phala simulator over HTTP, an in-process worker with the
// real activities), in scaled time. Prints JSON:
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
// box), so it weighs more the harder time is compressed: see the report for 0.05.
//
//   npx tsx bench/fleet-rollout.ts [--cvms 200] [--max-parallel 20] [--time-scale 0.2]
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startRollout } from '../src/client/rollout';
import { startTemporalDevServer } from '../src/dev/temporal-server';
import { PhalaClient } from '../src/phala/client';
import { startSimulator } from '../src/simulator';
import { validateSpec } from '../src/spec';
import type { RolloutSpec } from '../src/spec/rollout';
import { connectClient, connectWorkerConnection } from '../src/temporal/connection';
import { createWorkerActivities } from '../src/worker/activities';
import { createWorker } from '../src/worker/worker';
import type { RolloutResult } from '../src/workflows/rollout-types';

const { values } = parseArgs({
  options: {
    cvms: { type: 'string', default: '200' },
    'max-parallel': { type: 'string', default: '20' },
    'time-scale': { type: 'string', default: '0.2' },
  },
});
const CVMS = Number(values.cvms);
const MAX_PARALLEL = Number(values['max-parallel']);
const TIME_SCALE = Number(values['time-scale']);
const API_KEY = 'phak_bench_0123456789';
const V1 = 'services:\n  web:\n    image: nginx:1.27-alpine\n';
const V2 = 'services:\n  web:\n    image: nginx:1.28-alpine\n';

Runtime.install({ logger: new DefaultLogger('WARN') });

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

function spec(name: string, selector: string): RolloutSpec {
  return validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'Rollout',
      name,
      targets: { selector: { name: selector } },
      version: { compose: { inline: V2 } },
      strategy: { maxParallel: MAX_PARALLEL },
      health: { minHealthy: '0s' },
    },
    { source: 'bench', baseDir: '.', kinds: ['Rollout'] },
  );
}

async function historyLength(client: Client, workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return history.events?.length ?? 0;
}

async function main(): Promise<void> {
  const server = await startTemporalDevServer({ fastSqlite: true, readyTimeoutMs: 90_000 });
  const sim = await startSimulator({ port: 0, apiKeys: [API_KEY], timeScale: TIME_SCALE, delays: { jitter: 0 } });
  const phala = new PhalaClient({ baseURL: sim.url, apiKey: API_KEY });
  const target = { address: server.address, namespace: server.namespace };
  const client = await connectClient({ ...target, codecKeys: undefined });
  const connection = await connectWorkerConnection(target);
  const taskQueue = 'bench-rollout';
  // The worker's status poll is scaled with the simulator, so a poll tick weighs against an update as in real time.
  const { activities, close } = createWorkerActivities({
    phala,
    hub: { pollIntervalMs: Math.max(20, 1000 * TIME_SCALE) },
  });
  const worker = await createWorker({
    connection,
    config: { namespace: server.namespace, taskQueue, codecKeys: undefined },
    activities,
    shutdownGraceTime: '1s',
    tuning: { maxConcurrentActivityTaskExecutions: 400 },
  });
  const running = worker.run();
  try {
    const names = Array.from({ length: CVMS + 1 }, (_, i) =>
      i === CVMS ? 'solo-app' : `fleet-${String(i).padStart(4, '0')}`,
    );
    await pool(names, 20, async (name) => {
      const p = await phala.provisionCvm({ name, compose_file: { docker_compose_file: V1 }, node_id: 1 });
      await phala.commitCvmProvision({ app_id: p.app_id!, compose_hash: p.compose_hash });
    });
    while (Object.keys(sim.statusCounts()).some((s) => s !== 'running')) await new Promise((r) => setTimeout(r, 100));

    const run = async (s: RolloutSpec): Promise<{ result: RolloutResult; wallMs: number }> => {
      const started = performance.now();
      const handle = await startRollout(s, { client, taskQueue, tuning: { healthPollMs: 50 } });
      const result = await handle.result();
      return { result, wallMs: performance.now() - started };
    };

    // One CVM alone: the update time the fleet's waves are measured against.
    const solo = await run(spec('bench-solo', 'solo-app'));
    const soloCvm = solo.result.cvms[0]!;
    const cvmUpdateMs = soloCvm.endedAtMs! - soloCvm.startedAtMs!;

    const since = performance.timeOrigin + performance.now();
    const fleet = await run(spec('bench-fleet', 'fleet-*'));
    const waves = fleet.result.waves.length;
    const theoreticalMs = waves * cvmUpdateMs;

    // From the simulator's histories: its own update time, and the most CVMs updating at once.
    const spans = sim
      .cvms()
      .filter((c) => c.name.startsWith('fleet-'))
      .flatMap((c) => {
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
    const simUpdateMs = spans.reduce((sum, s) => sum + s.to - s.from, 0) / Math.max(1, spans.length);

    const waveIds = fleet.result.waves.map((w) => `rollout-bench-fleet-wave-${w.index}`);
    const waveHistories = await Promise.all(waveIds.map((id) => historyLength(client, id)));
    console.log(
      JSON.stringify(
        {
          cvms: CVMS,
          max_parallel: MAX_PARALLEL,
          waves,
          time_scale: TIME_SCALE,
          outcome: fleet.result.outcome,
          updated: fleet.result.counts.healthy ?? 0,
          wall_ms: Math.round(fleet.wallMs),
          cvm_update_ms: Math.round(cvmUpdateMs),
          theoretical_ms: Math.round(theoreticalMs),
          ratio: Number((fleet.wallMs / theoreticalMs).toFixed(3)),
          sim_update_ms: Math.round(simUpdateMs),
          max_updating_at_once: maxUpdating,
          history_events: {
            rollout: await historyLength(client, 'rollout-bench-fleet'),
            wave_max: Math.max(...waveHistories),
          },
        },
        null,
        2,
      ),
    );
  } finally {
    worker.shutdown();
    await running.catch(() => undefined);
    close();
    await connection.close();
    await client.connection.close();
    await sim.close();
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

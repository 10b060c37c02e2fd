// efficiency: what one deploy of 1 CVM + 2 replicas costs the Phala API and Temporal, against the least each
// allows. API calls are counted in the simulator's request log; history events with the Temporal client's
// fetchHistory. The minimums:
//   api_calls_min       7: provision, commit, replicate × 2, and one SSE watch per CVM — what a plain SDK script
//                       makes (bench/overhead.ts counts its calls and checks it);
//   history_events_min  47: a workflow making those 7 calls as 7 activities (3 events each) with one workflow task
//                       (3 events) per activity completion plus the first, started and completed: 1 + 3·8 + 3·7 + 1.
//
// In the suite: `npm run bench -- --only efficiency`. Alone: npx tsx bench/efficiency.ts [--quick]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import proto from '@temporalio/proto';
import { type BenchOutput, invariant } from './lib/report';
import {
  type BenchContext,
  benchClient,
  benchSimulator,
  deploymentSpec,
  runDeploy,
  startInProcessWorker,
  uniqueName,
} from './lib/stack';
import { standalone } from './lib/standalone';
import { median, round } from './lib/stats';

export interface EfficiencyOptions {
  deploys?: number;
  timeScale?: number;
}

const REPLICAS = 3;
const API_CALLS_MIN = 7;
const HISTORY_EVENTS_MIN = 47;

export async function efficiency(ctx: BenchContext, opts: EfficiencyOptions = {}): Promise<BenchOutput> {
  const deploys = opts.deploys ?? (ctx.quick ? 1 : 3);
  const timeScale = opts.timeScale ?? 0.05;
  const sim = await benchSimulator({ timeScale, delays: { jitter: 0 } });
  const client = await benchClient(ctx);
  const worker = await startInProcessWorker(ctx, sim);
  try {
    const calls: number[] = [];
    const events: number[] = [];
    const byRoute: Record<string, number> = {};
    const byType: Record<string, number> = {};
    for (let i = 0; i < deploys; i++) {
      const before = sim.requests().at(-1)?.seq ?? 0;
      const run = await runDeploy(client, ctx, worker.taskQueue, deploymentSpec(uniqueName(`eff${i}`), REPLICAS));
      invariant(run.result.cvms.length === REPLICAS && run.result.mode === 'create', `deploy ${i} created 3 CVMs`);
      const requests = sim.requests({ sinceSeq: before });
      calls.push(requests.length);
      const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      const evs = history.events ?? [];
      events.push(evs.length);
      if (i === deploys - 1) {
        for (const r of requests)
          byRoute[`${r.method} ${r.route ?? r.path}`] = (byRoute[`${r.method} ${r.route ?? r.path}`] ?? 0) + 1;
        for (const e of evs) {
          const t = proto.temporal.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType);
          const k = t.replace(/^EVENT_TYPE_/, '');
          byType[k] = (byType[k] ?? 0) + 1;
        }
      }
    }
    invariant(sim.cvms().length === deploys * REPLICAS, `exactly ${deploys * REPLICAS} CVMs exist`);
    invariant(
      sim.cvms().every((c) => c.status === 'running'),
      'every CVM is running',
    );
    const apiCalls = median(calls);
    const historyEvents = median(events);
    invariant(apiCalls >= API_CALLS_MIN, `at least the ${API_CALLS_MIN} calls a deploy needs (got ${apiCalls})`);
    return {
      name: 'efficiency',
      what:
        'One deploy of 1 CVM + 2 replicas: Phala API calls (simulator request log) and workflow history events ' +
        '(fetchHistory), each against the least the API / Temporal allow for the same work.',
      settings: { deploys, timeScale, delays: 'default, jitter 0', hub: 'production defaults' },
      figures: {
        api_calls: apiCalls,
        api_calls_min: API_CALLS_MIN,
        api_calls_ratio: round(apiCalls / API_CALLS_MIN, 2),
        history_events: historyEvents,
        history_events_min: HISTORY_EVENTS_MIN,
        history_events_ratio: round(historyEvents / HISTORY_EVENTS_MIN, 2),
      },
      // Crash safety pays only where an earlier attempt could have acted (issue 20): at most 15% over the least.
      goals: [
        { figure: 'api_calls_ratio', op: '<=', target: 1.15 },
        { figure: 'history_events_ratio', op: '<=', target: 1.15 },
      ],
      notes: [
        `API calls by route (last deploy): ${Object.entries(byRoute)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}.`,
        `History events by type (last deploy): ${Object.entries(byType)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}.`,
        'api_calls_min: provision, commit, 2 replicate, one SSE watch per CVM (the SDK script of `overhead`). ' +
          'history_events_min: those 7 calls as 7 activities, one workflow task per completion.',
      ],
    };
  } finally {
    await worker.stop();
    await client.connection.close();
    await sim.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  standalone((ctx) => efficiency(ctx));
}

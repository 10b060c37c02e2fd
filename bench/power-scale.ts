// power_scale: 10 000 CVMs under a realistic mix of power schedules (8 IANA zones including a 30-minute offset,
// office hours, extended hours, nightly-off, one-off maintenance and restart windows, active keep-running /
// keep-stopped leases), driven by ONE cvmflow worker process, on a scaled clock: the schedules' calendar clock and
// the simulator's CVM delays run `speed` times faster than real time. The fleet is seeded straight into the
// simulator, resting in each schedule's desired state; over about a calendar day every CVM then goes through at
// least two transitions. The simulator's request log is the judge: every due stop/start must be issued exactly once,
// and its lateness (issued-at − due-at) is converted back to real time.
//
//   npx tsx bench/power-scale.ts [--quick] [--cvms N] [--speed N] [--mapping schedule|shard|cvm] [--shard-size N]
//                                [--worker-heap-mib N] [--max-connections N] [--lead-ms N] [--breakdown]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { changesBetween } from '../src/calendar';
import { applyPowerSchedule, holdPower } from '../src/client/power';
import { startTemporalDevServer } from '../src/dev/temporal-server';
import { validateSpec } from '../src/spec';
import type { PowerScheduleSpec } from '../src/spec/power';
import { effectiveDesired } from '../src/workflows/power-decide';
import { DEFAULT_POWER_TUNING } from '../src/workflows/power-state';
import { type Override, type PowerTuning, powerWorkflowId } from '../src/workflows/power-types';
import { mapPool, sleep } from './lib/pool';
import { type InstantCalls, latenessBreakdown } from './lib/power-breakdown';
import { type BenchOutput, invariant } from './lib/report';
import { sampleMax } from './lib/sampler';
import {
  BENCH_API_KEY,
  type BenchContext,
  benchClient,
  benchSimulator,
  codecKeysOf,
  newCodecKeyText,
  uniqueName,
} from './lib/stack';
import { percentile, round } from './lib/stats';
import type { WorkerProcessConfig } from './lib/worker-main';
import { spawnWorkerProcess } from './lib/worker-process';

export type Mapping = 'schedule' | 'shard' | 'cvm';

export interface PowerScaleOptions {
  quick?: boolean;
  cvms?: number;
  /** Real ms per calendar ms (the simulator's notion); the schedules' clock speed is its inverse. */
  timeScale?: number;
  /** How schedules map onto workflows: one per schedule (product default), shards of `shardSize`, one per CVM. */
  mapping?: Mapping;
  shardSize?: number;
  /** Experiments only: worker / workflow knobs other than the production defaults. */
  tuning?: WorkerProcessConfig['tuning'];
  powerTuning?: PowerTuning;
  /** Experiments only: cap the worker's V8 heap (MiB), as a container memory limit would. */
  workerHeapMiB?: number;
  /** Experiments only: the worker's Phala connection cap (default 32). */
  phalaMaxConnections?: number;
  /** Diagnostics: where lateness goes, phase by phase, from the histories (schedule mapping only). */
  breakdown?: boolean;
}

const DAY = 86_400_000;
/** Monday 23:05Z: Tokyo's office day has just begun; the next change anywhere is 85 calendar minutes away. */
const START = Date.parse('2026-03-02T23:05:00Z');
const ZONES = [
  'Asia/Tokyo',
  'Asia/Kolkata', // UTC+5:30
  'Europe/Berlin',
  'America/New_York',
  'Australia/Sydney',
  'Europe/London',
  'America/Los_Angeles',
  'UTC',
] as const;
const QUICK_ZONES = ['Asia/Kolkata', 'Europe/Berlin', 'UTC'] as const;
type Kind = 'office' | 'extended' | 'nightly';
const WEEKDAYS = ['mon-fri'] as const;

interface Plan {
  /** The logical schedule: what a fleet operator writes. */
  base: string;
  zone: string;
  kind: Kind;
  spec: Omit<PowerScheduleSpec, 'name' | 'targets'>;
  /** Leases set right after apply (instants on the calendar clock). */
  leases: { kind: 'keepRunning' | 'keepStopped'; untilMs: number }[];
  apps: { name: string; cvmIds: string[] }[];
  expected: { atMs: number; action: string }[];
}

function calendarFor(zone: string, kind: Kind, index: number) {
  const periods =
    kind === 'office'
      ? [{ days: WEEKDAYS, start: '08:00', end: '18:00', state: 'running', note: 'office hours' }]
      : kind === 'extended'
        ? [{ days: WEEKDAYS, start: '06:00', end: '22:00', state: 'running', note: 'extended hours' }]
        : [{ days: ['mon-sun'], start: '22:00', end: '06:00', state: 'stopped', note: 'nightly off' }];
  const windows = [];
  // Maintenance: every third schedule stops for three hours on Tuesday midday; one in five restarts instead.
  if (index % 3 === 1) {
    windows.push({ start: '2026-03-03T11:00', end: '2026-03-03T14:00', state: 'stopped', note: 'host maintenance' });
  }
  if (index % 5 === 2) {
    windows.push({ start: '2026-03-03T15:00', end: '2026-03-03T18:00', state: 'restart', note: 'kernel patch' });
  }
  return { timezone: zone, default: kind === 'nightly' ? 'running' : 'stopped', periods, windows };
}

function plans(zones: readonly string[], runId: string): Plan[] {
  const out: Plan[] = [];
  const kinds: Kind[] = ['office', 'extended', 'nightly'];
  let index = 0;
  for (const zone of zones) {
    for (const kind of kinds) {
      const spec = validateSpec(
        {
          apiVersion: 'cvmflow/v1',
          kind: 'PowerSchedule',
          name: 'placeholder',
          targets: { apps: ['placeholder'] },
          calendar: calendarFor(zone, kind, index),
          // A realistic mix: most check drift every 15 minutes, one in four every 5; one in three only acts on
          // transitions; extended hours force-stop, the others shut down gracefully.
          mode: index % 3 === 2 ? 'transitions' : 'enforce',
          driftCheckInterval: index % 4 === 0 ? '5m' : '15m',
          stop: { action: kind === 'extended' ? 'stop' : 'shutdown' },
        },
        { source: 'bench', baseDir: '.', kinds: ['PowerSchedule'] },
      ) as PowerScheduleSpec;
      const { name: _n, targets: _t, ...rest } = spec;
      const leases: Plan['leases'] = [];
      // Active overrides: Tokyo's office stays up two hours past its 18:00 stop; Berlin's extended hours start late.
      if (zone === 'Asia/Tokyo' && kind === 'office') {
        leases.push({ kind: 'keepRunning', untilMs: Date.parse('2026-03-03T11:00:00Z') });
      }
      if (zone === 'Europe/Berlin' && kind === 'extended') {
        leases.push({ kind: 'keepStopped', untilMs: Date.parse('2026-03-03T08:00:00Z') });
      }
      if (zone === 'UTC' && kind === 'office') {
        leases.push({ kind: 'keepStopped', untilMs: Date.parse('2026-03-03T10:00:00Z') });
      }
      const slug = zone.toLowerCase().replace(/[^a-z]+/g, '-');
      out.push({ base: `ps-${runId}-${kind}-${slug}`, zone, kind, spec: rest, leases, apps: [], expected: [] });
      index++;
    }
  }
  return out;
}

/** Overrides as the workflow holds them, for the evaluator. */
const overridesOf = (p: Plan): Override[] =>
  p.leases.map((l, i) => ({
    id: `o${i + 1}`,
    kind: l.kind,
    by: 'bench',
    reason: 'bench',
    at: new Date(START).toISOString(),
    createdAtMs: START,
    untilMs: l.untilMs,
  }));

/** Every change of the effective desired state in (from, to]: the calls each of the plan's CVMs is owed. */
function expectedCalls(p: Plan, from: number, to: number): Plan['expected'] {
  const overrides = overridesOf(p);
  const instants = new Set(changesBetween(p.spec.calendar, from, to).map((c) => c.atMs));
  for (const o of overrides) if (o.untilMs! > from && o.untilMs! <= to) instants.add(o.untilMs!);
  let prev = effectiveDesired(p.spec.calendar, overrides, from);
  const out: Plan['expected'] = [];
  for (const t of [...instants].sort((a, b) => a - b)) {
    const eff = effectiveDesired(p.spec.calendar, overrides, t);
    if (eff.key === prev.key) continue;
    if (eff.restartKey !== undefined) out.push({ atMs: t, action: prev.state === 'running' ? 'restart' : 'start' });
    else if (eff.state !== prev.state)
      out.push({ atMs: t, action: eff.state === 'running' ? 'start' : p.spec.stop.action });
    prev = eff;
  }
  return out;
}

interface Workload {
  name: string;
  plan: Plan;
  apps: string[];
  cvms: string[];
}

/** The workflows to start: one per schedule, per shard of at most `shardSize` CVMs, or per CVM. */
function workloads(all: Plan[], mapping: Mapping, shardSize: number): Workload[] {
  const out: Workload[] = [];
  for (const plan of all) {
    if (mapping === 'schedule') {
      out.push({ name: plan.base, plan, apps: plan.apps.map((a) => a.name), cvms: [] });
      continue;
    }
    if (mapping === 'cvm') {
      let k = 0;
      for (const a of plan.apps)
        for (const id of a.cvmIds) out.push({ name: `${plan.base}-c${k++}`, plan, apps: [], cvms: [id] });
      continue;
    }
    let shard: string[] = [];
    let size = 0;
    const flush = () => {
      if (shard.length) out.push({ name: `${plan.base}-s${out.length}`, plan, apps: shard, cvms: [] });
      shard = [];
      size = 0;
    };
    for (const a of plan.apps) {
      if (size + a.cvmIds.length > shardSize) flush();
      shard.push(a.name);
      size += a.cvmIds.length;
    }
    flush();
  }
  return out;
}

export async function powerScale(ctx: BenchContext, opts: PowerScaleOptions = {}): Promise<BenchOutput> {
  const quick = opts.quick ?? ctx.quick;
  const n = opts.cvms ?? (quick ? 200 : 10_000);
  const speed = opts.timeScale ? 1 / opts.timeScale : quick ? 3600 : 600;
  const mapping = opts.mapping ?? 'schedule';
  const shardSize = opts.shardSize ?? 500;
  const runId = uniqueName('x').slice(2, 8);
  const all = plans(quick ? QUICK_ZONES : ZONES, runId);

  // The fleet: apps of 1–3 CVMs (a primary and replicas), dealt round-robin to the schedules, seeded in the state
  // each schedule wants at the start.
  const sim = await benchSimulator({ timeScale: 1 / speed, delays: { jitter: 0.2 } });
  const seeds: { name: string; status: 'running' | 'stopped'; plan: Plan }[] = [];
  for (let i = 0, app = 0; i < n; app++) {
    const plan = all[app % all.length]!;
    const size = Math.min([1, 2, 1, 3][app % 4]!, n - i);
    const status = effectiveDesired(plan.spec.calendar, overridesOf(plan), START).state;
    const name = `ps${runId}-a${app}`;
    for (let k = 0; k < size; k++, i++) seeds.push({ name, status, plan });
  }
  const ids = sim.seedCvms(BENCH_API_KEY, seeds);
  const planOf = new Map<string, Plan>();
  seeds.forEach((s, i) => {
    const id = ids[i]!;
    planOf.set(bare(id), s.plan);
    const last = s.plan.apps.at(-1);
    if (last?.name === s.name) last.cvmIds.push(id);
    else s.plan.apps.push({ name: s.name, cvmIds: [id] });
  });
  const used = all.filter((p) => p.apps.length > 0);
  // The window ends 20 calendar minutes after the last change that falls within a day; calls are counted until the
  // first change after that, so a late action still counts and the next day's does not.
  const lastOfDay = Math.max(...used.flatMap((p) => expectedCalls(p, START, START + DAY).map((e) => e.atMs)));
  const end = lastOfDay + 20 * 60_000;
  const cutoff = Math.min(...used.flatMap((p) => expectedCalls(p, end, end + DAY).map((e) => e.atMs)));
  for (const p of used) p.expected = expectedCalls(p, START, end);
  invariant(
    used.every((p) => p.expected.length >= 2),
    'every schedule owes its CVMs at least two transitions in the window',
  );
  const firstDue = Math.min(...used.flatMap((p) => p.expected.map((e) => e.atMs)));
  const lastDue = Math.max(...used.flatMap((p) => p.expected.map((e) => e.atMs)));
  const expectedTotal = used.reduce(
    (s, p) => s + p.expected.length * p.apps.reduce((c, a) => c + a.cvmIds.length, 0),
    0,
  );
  const work = workloads(used, mapping, shardSize);
  ctx.log(
    `  power_scale: ${n} CVMs, ${used.length} schedules → ${work.length} workflows (${mapping}), speed ${speed}×, ` +
      `${expectedTotal} transitions due`,
  );

  const client = await benchClient(ctx);
  const taskQueue = uniqueName('bench-power');
  const worker = await spawnWorkerProcess(
    {
      temporal: ctx.temporal,
      taskQueue,
      codecKeyText: ctx.codecKeyText,
      phalaUrl: sim.url,
      apiKey: BENCH_API_KEY,
      tuning: opts.tuning,
      phalaMaxConnections: opts.phalaMaxConnections,
    },
    { heapMiB: opts.workerHeapMiB },
  );
  let rss: ReturnType<typeof sampleMax> | undefined;
  let progress: NodeJS.Timeout | undefined;
  try {
    const seqBefore = sim.requests().at(-1)?.seq ?? 0;
    // The calendar clock starts now at START; the first change is 85 calendar minutes away, the applies' budget.
    const clock = { realAnchorMs: Date.now(), virtualAnchorMs: START, speed };
    const realOf = (virtualMs: number) => clock.realAnchorMs + (virtualMs - START) / speed;
    rss = sampleMax(500, async () => (await worker.stats()).rssMiB);
    await mapPool(work, 32, async (w) => {
      const spec = { ...w.plan.spec, name: w.name, targets: { apps: w.apps, cvms: w.cvms } } as PowerScheduleSpec;
      await applyPowerSchedule(spec, { client, taskQueue, clock, tuning: opts.powerTuning });
      for (const l of w.plan.leases) {
        await holdPower(client, w.name, l.kind, new Date(l.untilMs).toISOString(), 'bench lease');
      }
    });
    const setupMs = Date.now() - clock.realAnchorMs;
    // Applying after the first change makes that change late; it still counts, and the note says so.
    const setupOverran = Date.now() > realOf(firstDue);
    ctx.log(`  power_scale: applied in ${setupMs} ms; running the calendar day`);
    progress = setInterval(async () => {
      const w = await worker.stats().catch(() => undefined);
      const at = new Date(START + (Date.now() - clock.realAnchorMs) * speed).toISOString().slice(5, 16);
      ctx.log(`  power_scale: calendar ${at}Z ${JSON.stringify(sim.statusCounts())} rss ${Math.round(w?.rssMiB ?? 0)}`);
    }, 10_000);
    await sleep(Math.max(0, realOf(end) - Date.now()));
    // Let the last actions land and the fleet come to rest.
    const settleBy = Math.min(Date.now() + 30_000, realOf(cutoff) - 100);
    while (Date.now() < settleBy) {
      const counts = sim.statusCounts();
      if (Object.keys(counts).every((s) => s === 'running' || s === 'stopped')) break;
      await sleep(200);
    }
    await sleep(Math.max(0, Math.min(1000, realOf(cutoff) - Date.now())));
    clearInterval(progress);
    await rss.stop();
    const sampledMax = rss.max();
    rss = undefined;
    const history = await historyGrowth(client, taskQueue);
    const final = await worker.stop();
    const rssMax = sampledMax;

    // ------------------------------------------------------------------------------------------------------------
    // The judge: the simulator's request log.
    const requests = sim.requests({ sinceSeq: seqBefore });
    const byRoute: Record<string, number> = {};
    for (const r of requests) {
      const k = `${r.method} ${r.route ?? r.path}`;
      byRoute[k] = (byRoute[k] ?? 0) + 1;
    }
    const calls = new Map<string, { action: string; at: number }[]>();
    let refused = 0;
    for (const r of requests) {
      const m = POWER_PATH.exec(r.path);
      if (!m || r.method !== 'POST' || Date.parse(r.at) >= realOf(cutoff)) continue;
      if (r.status >= 400) {
        refused++;
        continue;
      }
      const key = bare(m[1]!);
      const list = calls.get(key) ?? [];
      list.push({ action: m[2]!, at: Date.parse(r.at) });
      calls.set(key, list);
    }
    let done = 0;
    let unexpected = 0;
    const lateness: number[] = [];
    const instants = new Map<string, InstantCalls>();
    const missing: string[] = [];
    const extra: string[] = [];
    for (const [id, plan] of planOf) {
      const got = calls.get(id) ?? [];
      const used = new Set<number>();
      for (const e of plan.expected) {
        const due = realOf(e.atMs);
        // Request-log times are whole milliseconds; an action never precedes its instant by more than rounding.
        const i = got.findIndex((c, k) => !used.has(k) && c.action === e.action && c.at >= due - 1);
        if (i < 0) {
          if (missing.length < 5) missing.push(`${id} ${e.action} due ${new Date(e.atMs).toISOString()}`);
          continue;
        }
        used.add(i);
        done++;
        lateness.push(Math.max(0, got[i]!.at - due));
        const key = `${plan.base} ${due}`;
        if (!instants.has(key)) instants.set(key, { workflowId: powerWorkflowId(plan.base), dueMs: due, calls: [] });
        instants.get(key)!.calls.push(got[i]!.at);
      }
      unexpected += got.length - used.size;
      if (got.length > used.size && extra.length < 5) {
        const virt = (at: number) => new Date(START + (at - clock.realAnchorMs) * speed).toISOString().slice(5, 16);
        const shown = got.map((c, k) => `${used.has(k) ? '' : '!'}${c.action}@${virt(c.at)}`).join(' ');
        const want = plan.expected.map((e) => `${e.action}@${new Date(e.atMs).toISOString().slice(5, 16)}`).join(' ');
        extra.push(`${plan.base}: got ${shown}; due ${want}`);
      }
    }
    const phases =
      opts.breakdown && mapping === 'schedule'
        ? await latenessBreakdown(
            client,
            [...instants.values()],
            opts.powerTuning?.leadMs ?? DEFAULT_POWER_TUNING.leadMs,
          )
        : undefined;
    if (phases) {
      // A fleet listing the API answers while an instant's calls go out delays them (its rendering and the worker's
      // parsing of ~20 MiB): how many instants had one from 300 ms before the instant to their last call.
      const listings = requests
        .filter((r) => r.method === 'GET' && (r.route ?? r.path) === '/cvms')
        .map((r) => Date.parse(r.at));
      const crossed = [...instants.values()].filter((i) => {
        const lastCall = Math.max(...i.calls);
        return listings.some((at) => at >= i.dueMs - 300 && at <= lastCall);
      }).length;
      phases.listing_during_calls = `${crossed} of ${instants.size} instants`;
      // The latest instants (all schedules' calls due at one time): calls, first and last call after the instant.
      const byDue = new Map<number, number[]>();
      for (const i of instants.values()) byDue.set(i.dueMs, [...(byDue.get(i.dueMs) ?? []), ...i.calls]);
      phases.latest_instants = [...byDue]
        .map(([due, at]) => ({ n: at.length, first: Math.min(...at) - due, last: Math.max(...at) - due }))
        .sort((x, y) => y.last - x.last)
        .slice(0, 3)
        .map((x) => `${x.n} calls ${x.first}–${x.last} ms`)
        .join('; ');
    }
    if (phases)
      ctx.log(
        `  power_scale: lateness by phase (after the due instant):\n    ${Object.entries(phases)
          .map(([k, v]) => `${k}: ${v}`)
          .join('\n    ')}`,
      );
    if (missing.length) ctx.log(`  power_scale: missing e.g. ${missing.join('; ')}`);
    if (extra.length) ctx.log(`  power_scale: unexpected calls e.g.\n    ${extra.join('\n    ')}`);
    const powerCalls = [...calls.values()].reduce((s, l) => s + l.length, 0);
    const days = (end - START) / DAY;
    const peakRss = Math.max(final.peakRssMiB, rssMax);
    const late = lateness.length ? lateness : [Number.NaN];
    return {
      name: 'power_scale',
      what:
        `${n} CVMs (apps of 1–3) under ${used.length} power schedules in ${quick ? QUICK_ZONES.length : ZONES.length} ` +
        'time zones (office / extended / nightly-off, maintenance and restart windows, keep-running and keep-stopped ' +
        `leases), mapped ${mapping === 'schedule' ? 'one workflow per schedule' : mapping === 'shard' ? `to shards of ≤ ${shardSize} CVMs` : 'one workflow per CVM'}, ` +
        `driven by one worker process over ${round(days * 24, 1)} calendar hours at ${speed}× ; the simulator's request ` +
        'log is the judge; lateness = issued-at − due-at in real ms.',
      settings: {
        cvms: n,
        schedules: used.length,
        workflows: work.length,
        mapping,
        ...(mapping === 'shard' ? { shardSize } : {}),
        speed,
        calendarWindow: `${new Date(START).toISOString()} + ${round(days * 24, 1)} h`,
        simulator: 'default delays scaled by 1/speed, jitter ±20%',
        worker: {
          ...(opts.tuning ? { tuning: opts.tuning } : { tuning: 'createWorker defaults' }),
          ...(opts.workerHeapMiB ? { heapMiB: opts.workerHeapMiB } : {}),
          ...(opts.phalaMaxConnections ? { phalaMaxConnections: opts.phalaMaxConnections } : {}),
        },
      },
      figures: {
        transitions_expected: expectedTotal,
        transitions_done: done,
        duplicate_calls: unexpected,
        lateness_p50_ms: round(percentile(late, 50), 0),
        lateness_p99_ms: round(percentile(late, 99), 0),
        lateness_max_ms: round(percentile(late, 100), 0),
        lateness_p99_calendar_s: round((percentile(late, 99) * speed) / 1000, 0),
        worker_peak_rss_mib: round(peakRss, 0),
        api_calls_total: requests.length,
        api_calls_per_transition: round(requests.length / Math.max(1, done), 3),
        power_calls: powerCalls,
        power_calls_refused: refused,
        status_batch_calls: byRoute['POST /status/batch'] ?? 0,
        list_calls: (byRoute['GET /cvms'] ?? 0) + (byRoute['GET /cvms/paginated'] ?? 0),
        sse_streams_opened: final.hub.streamsOpened,
        history_events: history.events,
        history_events_per_cvm_per_day: round(history.events / n / days, 2),
        history_runs: history.runs,
        history_max_events_per_run: history.maxRun,
        setup_ms: setupMs,
      },
      goals: [
        { figure: 'transitions_done', op: '==', target: expectedTotal },
        { figure: 'duplicate_calls', op: '==', target: 0 },
        { figure: 'lateness_p99_ms', op: '<=', target: 1000 },
        { figure: 'worker_peak_rss_mib', op: '<=', target: 1024 },
        { figure: 'api_calls_per_transition', op: '<=', target: 1.2 },
      ],
      notes: [
        `API calls by route: ${Object.entries(byRoute)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}.`,
        ...(setupOverran
          ? [
              `Applying took longer than the ${round((firstDue - START) / speed, 0)} ms before the first change: the first changes' lateness includes setup.`,
            ]
          : []),
        `Due instants span ${new Date(firstDue).toISOString()} – ${new Date(lastDue).toISOString()} (calendar); ` +
          `applying the ${work.length} workflows took ${setupMs} ms.`,
        'History: every run of every power workflow on the task queue (continue-as-new included), per CVM and ' +
          'calendar day of the window.',
        ...(phases
          ? [
              `Lateness by phase (end of each after the due instant, over every schedule × instant): ${Object.entries(
                phases,
              )
                .map(([k, v]) => `${k} ${v}`)
                .join('; ')}.`,
            ]
          : []),
      ],
    };
  } finally {
    clearInterval(progress);
    await rss?.stop();
    await worker.stop().catch(() => undefined);
    await client.connection.close();
    await sim.close();
  }
}

const POWER_PATH = /\/cvms\/([^/]+)\/(start|stop|shutdown|restart)$/;
const bare = (id: string) => id.replaceAll('-', '').toLowerCase();

/** Events of every run (continue-as-new included) of the power workflows on this task queue. */
async function historyGrowth(client: Client, taskQueue: string) {
  let events = 0;
  let runs = 0;
  let maxRun = 0;
  const running: { workflowId: string; runId: string }[] = [];
  for await (const e of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) {
    runs++;
    if (e.status.name === 'RUNNING') running.push({ workflowId: e.workflowId, runId: e.runId });
    else {
      events += e.historyLength;
      maxRun = Math.max(maxRun, e.historyLength);
    }
  }
  // Visibility's length of a running workflow lags; describe reads it from the workflow's own state.
  await mapPool(running, 16, async ({ workflowId, runId }) => {
    const d = await client.workflow.getHandle(workflowId, runId).describe();
    events += d.historyLength;
    maxRun = Math.max(maxRun, d.historyLength);
  });
  return { events, runs, maxRun };
}

// ---------------------------------------------------------------------------------------------------------------
// Alone: `npx tsx bench/power-scale.ts [--quick] …` starts its own Temporal dev server and prints the output.

function argValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const server = await startTemporalDevServer({ fastSqlite: true, readyTimeoutMs: 90_000 });
  const codecKeyText = newCodecKeyText();
  const ctx: BenchContext = {
    quick: args.includes('--quick'),
    temporal: { address: server.address, namespace: server.namespace },
    codecKeyText,
    codecKeys: codecKeysOf(codecKeyText),
    log: (line) => process.stderr.write(`${line}\n`),
  };
  const num = (flag: string) => (argValue(args, flag) === undefined ? undefined : Number(argValue(args, flag)));
  const speed = num('--speed');
  const started = Date.now();
  try {
    const out = await powerScale(ctx, {
      cvms: num('--cvms'),
      timeScale: speed ? 1 / speed : undefined,
      mapping: argValue(args, '--mapping') as Mapping | undefined,
      shardSize: num('--shard-size'),
      workerHeapMiB: num('--worker-heap-mib'),
      phalaMaxConnections: num('--max-connections'),
      breakdown: args.includes('--breakdown'),
      ...(num('--lead-ms') !== undefined ? { powerTuning: { leadMs: num('--lead-ms') } } : {}),
      ...(num('--max-cached') ? { tuning: { maxCachedWorkflows: num('--max-cached') } } : {}),
    });
    process.stdout.write(
      `${JSON.stringify({ ...out, durationS: round((Date.now() - started) / 1000, 1) }, null, 2)}\n`,
    );
  } finally {
    await server.stop();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}

// `npm run chaos`: starts the real stack, drives a seeded mix of deploys, updates, roll-backs, cancellations,
// blue-green runs, rollouts and power schedules while killing workers, restarting the Temporal server, cutting the
// chain's RPC and injecting API faults; then checks the invariants and prints them as a table (exit 1 if any broke).
//
//   npm run chaos -- [--seed N] [--minutes M] [--size N] [--workers N] [--quick] [--keep]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FaultInjector, planFaults } from './faults';
import {
  chainInvariant,
  cvmInvariant,
  fileText,
  historyText,
  type InvariantResult,
  type LeakSurface,
  lockInvariant,
  retryAfterInvariant,
  secretsInvariant,
  workflowsInvariant,
} from './invariants';
import { type ChaosSummary, renderReport } from './report';
import { Rng } from './rng';
import { planScenarios, runScenario, type ScenarioContext, type ScenarioRecord } from './scenarios';
import { ChaosStack } from './stack';

export interface ChaosOptions {
  seed: number;
  /** Scenarios in the mix. */
  size: number;
  /** How long faults are injected, in ms; the drain that follows is extra. */
  driveMs: number;
  /** Worker SIGKILLs spread over the drive (at least). */
  kills: number;
  workers: number;
  quick: boolean;
  /** Keep the run's folder (Temporal database, worker logs). */
  keep?: boolean;
  log?: (line: string) => void;
}

export function chaosOptions(argv: string[]): ChaosOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' },
      minutes: { type: 'string' },
      size: { type: 'string' },
      workers: { type: 'string' },
      quick: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = (name: string, v: string | undefined, min: number, max: number) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new Error(`--${name}: expected a number from ${min} to ${max}`);
    return n;
  };
  const quick = values.quick ?? false;
  const minutes = num('minutes', values.minutes, 0.25, 120) ?? (quick ? 0.6 : 4);
  const driveMs = Math.round(minutes * 60_000);
  return {
    seed: num('seed', values.seed, 0, 2 ** 32 - 1) ?? Math.floor(Math.random() * 1e6),
    size: num('size', values.size, 1, 500) ?? (quick ? 9 : 18),
    driveMs,
    // One kill every ~10 s (a default run: 24), at least 6.
    kills: Math.max(6, Math.round(driveMs / 10_000)),
    workers: num('workers', values.workers, 1, 16) ?? 3,
    quick,
    keep: values.keep,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(opts: ChaosOptions): Promise<ChaosSummary> {
  const started = Date.now();
  const lines: string[] = [];
  const log = (line: string) => {
    const text = `[chaos +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`;
    lines.push(text);
    (opts.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(text);
  };
  const rng = new Rng(opts.seed);
  const records = planScenarios(rng, opts.size);
  const plan = planFaults(rng, opts.driveMs, opts.kills);
  const dir = mkdtempSync(join(tmpdir(), 'cvmflow-chaos-'));
  const stack = new ChaosStack({
    dir,
    workers: opts.workers,
    routerApps: records.filter((r) => r.kind === 'bluegreen').map((r) => r.app),
    log,
  });
  const command = `npm run chaos -- --seed ${opts.seed}${opts.quick ? ' --quick' : ''} --minutes ${+(opts.driveMs / 60_000).toFixed(2)} --size ${opts.size} --workers ${opts.workers}`;
  try {
    log(`starting the stack in ${dir} (${opts.workers} workers)`);
    await stack.start();
    log(`stack up; driving ${records.length} scenarios for ${opts.driveMs / 1000} s`);
    const ctx: ScenarioContext = { stack, rng, log, waitLimitMs: opts.driveMs + 120_000, errors: [] };
    const injector = new FaultInjector(stack, rng, plan, log);
    // Slow scenarios first (a roll-back waits out a 30 s watch); the rest start over the first 60% of the drive.
    const order = [...records].sort((a, b) => Number(b.kind === 'rollback') - Number(a.kind === 'rollback'));
    const offsets = order
      .map((_, i) => (i === 0 ? 0 : Math.round(rng.next() * opts.driveMs * 0.6)))
      .sort((a, b) => a - b);
    const t0 = Date.now();
    const runs = order.map(async (rec, i) => {
      await sleep(offsets[i]!);
      rec.startedAt = Date.now() - t0;
      log(`${rec.id} ${rec.kind} ${rec.app}: start`);
      try {
        await runScenario(ctx, rec);
      } catch (err) {
        rec.errors.push((err as Error).message);
        ctx.errors.push((err as Error).stack ?? String(err));
      }
      rec.endedAt = Date.now() - t0;
      log(
        `${rec.id} ${rec.kind} ${rec.app}: ${rec.workflows.map((w) => w.actual + (w.failure ? ` [${w.failure}]` : '')).join(',') || 'no workflow'} after ${((rec.endedAt - rec.startedAt) / 1000).toFixed(1)} s${rec.errors.length ? ` (${rec.errors.join('; ')})` : ''}`,
      );
    });
    await injector.run();
    injector.finish();
    log('faults over; draining with every worker up');
    await stack.ensureWorkers();
    await Promise.all(runs);
    await settle(stack);
    const invariants = await checkInvariants(stack, records, injector.retryAfter, ctx.errors, lines);
    const summary: ChaosSummary = {
      seed: opts.seed,
      command,
      durationMs: Date.now() - started,
      scenarios: records,
      workflows: records.reduce((n, r) => n + r.workflows.length, 0),
      faults: injector.counts,
      invariants,
      ok: invariants.every((i) => i.held),
    };
    return summary;
  } finally {
    await stack.close();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
}

/** Deletions and stops finish in the simulator after the workflows that asked for them. */
async function settle(stack: ChaosStack): Promise<void> {
  const giveUp = Date.now() + 30_000;
  while (Date.now() < giveUp && stack.sim.cvms().some((c) => c.operation !== null || c.status === 'deleting'))
    await sleep(200);
}

async function checkInvariants(
  stack: ChaosStack,
  records: ScenarioRecord[],
  retryAfter: Map<string, number>,
  errors: string[],
  logLines: string[],
): Promise<InvariantResult[]> {
  const stillRunning: string[] = [];
  for await (const e of stack.client.workflow.list({ query: `ExecutionStatus = 'Running'` }))
    stillRunning.push(e.workflowId);
  const surfaces: LeakSurface[] = [];
  for await (const e of stack.client.workflow.list()) {
    const history = await stack.rawClient.workflow.getHandle(e.workflowId, e.runId).fetchHistory();
    surfaces.push({ name: `history of ${e.workflowId}`, text: historyText(history) });
  }
  for (const file of stack.logFiles) surfaces.push({ name: `log ${file}`, text: fileText(file) });
  surfaces.push({ name: 'Temporal server log', text: stack.temporal.logTail() });
  surfaces.push({ name: 'chaos log', text: logLines.join('\n') });
  surfaces.push({ name: 'error messages', text: [...errors, ...records.flatMap((r) => r.errors)].join('\n') });
  surfaces.push({ name: 'simulator request log', text: JSON.stringify(stack.sim.requests()) });
  surfaces.push({ name: 'simulator CVM views', text: JSON.stringify(stack.sim.cvms({ includeDeleted: true })) });
  const secrets = [
    { label: 'Phala API key', value: stack.secrets.apiKey },
    { label: 'codec key', value: stack.secrets.codecKeyMaterial },
    { label: 'chain private key', value: stack.secrets.privateKey },
    { label: 'router secret', value: stack.secrets.routerSecret },
    ...records.flatMap((r) => r.secrets.map((value) => ({ label: `env value of ${r.app}`, value }))),
  ];
  const requests = stack.sim.requests();
  const sent = await stack.workerTxCount();
  return [
    workflowsInvariant(records, stillRunning),
    cvmInvariant(records, stack.sim.cvms()),
    chainInvariant(records, sent),
    retryAfterInvariant(requests, retryAfter),
    secretsInvariant(secrets, surfaces),
    lockInvariant(stack.sim.cvms({ includeDeleted: true }), requests),
  ];
}

async function main(): Promise<void> {
  let opts: ChaosOptions;
  try {
    opts = chaosOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`chaos: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const summary = await runChaos(opts);
  process.stdout.write(`\n${renderReport(summary)}\n`);
  process.exitCode = summary.ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}

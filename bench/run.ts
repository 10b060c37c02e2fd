// `npm run bench [-- --quick] [--only a,b] [--n N] [--strict]`: starts its own Temporal dev server, runs the
// benchmarks one after another (each with its own simulator and worker), writes bench/results.json and
// bench/results.md, and prints the table. A broken invariant (or a benchmark that cannot finish) exits 1; a missed
// goal is reported and exits 1 only with --strict.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, type as osType, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ensureTemporalCli, temporalCliVersion } from '../src/dev/temporal-cli';
import { startTemporalDevServer } from '../src/dev/temporal-server';
import { concurrency } from './concurrency';
import { efficiency } from './efficiency';
import { fleetRollout } from './fleet-rollout';
import { type BenchArgs, type BenchName, BenchUsageError, parseBenchArgs, selected, USAGE } from './lib/args';
import { type BenchOutput, type BenchResult, judge, renderMarkdown, renderTable, type SuiteReport } from './lib/report';
import { type BenchContext, codecKeysOf, newCodecKeyText } from './lib/stack';
import { round } from './lib/stats';
import { overhead } from './overhead';
import { reactionLatency } from './reaction-latency';
import { simulatorCapacity } from './simulator-capacity';
import { startup } from './startup';

// The committed figures are a full run's; a quick (smoke) run writes git-ignored files beside them instead.
const resultsFile = (quick: boolean, ext: 'json' | 'md') =>
  fileURLToPath(new URL(`./results${quick ? '.local' : ''}.${ext}`, import.meta.url));
const POWER_SCALE = fileURLToPath(new URL('./power-scale.ts', import.meta.url));

type Runner = (ctx: BenchContext, args: BenchArgs) => Promise<BenchOutput | NotAvailable>;

interface NotAvailable {
  notAvailable: string;
}

type PowerScaleModule = {
  powerScale?: (ctx: BenchContext, opts?: { quick?: boolean }) => Promise<BenchOutput>;
};

const RUNNERS: Record<BenchName, Runner> = {
  reaction_latency: (ctx) => reactionLatency(ctx),
  overhead: (ctx) => overhead(ctx),
  efficiency: (ctx) => efficiency(ctx),
  concurrency: (ctx, args) => concurrency(ctx, { n: args.n ?? (ctx.quick ? 20 : 1000) }),
  fleet_rollout: (ctx) => fleetRollout(ctx),
  simulator: (ctx) => simulatorCapacity(ctx),
  startup: (ctx) => startup({ quick: ctx.quick }),
  // Written separately (bench/power-scale.ts); loaded only when present so the suite runs either way.
  power_scale: async (ctx) => {
    if (!existsSync(POWER_SCALE)) return { notAvailable: 'bench/power-scale.ts does not exist in this checkout' };
    const mod = (await import(POWER_SCALE)) as PowerScaleModule;
    if (typeof mod.powerScale !== 'function')
      return { notAvailable: 'bench/power-scale.ts does not export powerScale(ctx, opts)' };
    return mod.powerScale(ctx, { quick: ctx.quick });
  },
};

function machine(temporalCli: string): Record<string, unknown> {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    os: `${osType()} ${release()}`,
    node: process.version,
    temporalCli,
  };
}

async function runOne(name: BenchName, ctx: BenchContext, args: BenchArgs): Promise<BenchResult> {
  const started = performance.now();
  const durationS = () => round((performance.now() - started) / 1000, 1);
  ctx.log(`▶ ${name}${ctx.quick ? ' (quick)' : ''}`);
  try {
    const out = await RUNNERS[name](ctx, args);
    if ('notAvailable' in out) {
      ctx.log(`  ${name}: not available — ${out.notAvailable}`);
      return {
        name,
        what: 'not available',
        settings: {},
        figures: { status: 'not available' },
        goals: [],
        notes: [`Not run: ${out.notAvailable}.`],
        durationS: durationS(),
      };
    }
    const result: BenchResult = { ...out, name, goals: judge(out.goals, out.figures), durationS: durationS() };
    const missed = result.goals.filter((g) => !g.met).map((g) => g.figure);
    ctx.log(`✔ ${name} in ${result.durationS} s${missed.length ? `; goals missed: ${missed.join(', ')}` : ''}`);
    ctx.log(`  ${JSON.stringify(result.figures)}`);
    return result;
  } catch (err) {
    const text = (err as Error).stack ?? String(err);
    ctx.log(`✘ ${name}: ${text}`);
    return { name, what: '', settings: {}, figures: {}, goals: [], notes: [], durationS: durationS(), error: text };
  }
}

/** With --only, the other benchmarks' last figures (same mode) stay in the results files. */
function previous(mode: SuiteReport['mode'], keep: readonly string[]): BenchResult[] {
  const file = resultsFile(mode === 'quick', 'json');
  if (!existsSync(file)) return [];
  try {
    const old = JSON.parse(readFileSync(file, 'utf8')) as SuiteReport;
    if (old.mode !== mode) return [];
    return Object.entries(old.benchmarks)
      .filter(([name]) => !keep.includes(name))
      .map(([name, r]) => ({ name, ...r }));
  } catch {
    return [];
  }
}

async function main(): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof BenchUsageError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const names = selected(args);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const cli = ensureTemporalCli();
  const suiteStarted = performance.now();
  log(`starting the Temporal dev server (${cli})`);
  const server = await startTemporalDevServer({ fastSqlite: true, readyTimeoutMs: 90_000, cliPath: cli });
  const codecKeyText = newCodecKeyText();
  const ctx: BenchContext = {
    quick: args.quick,
    temporal: { address: server.address, namespace: server.namespace },
    codecKeyText,
    codecKeys: codecKeysOf(codecKeyText),
    log,
  };
  const results: BenchResult[] = [];
  try {
    for (const name of names) results.push(await runOne(name, ctx, args));
  } finally {
    await server.stop();
  }

  const mode = args.quick ? 'quick' : 'full';
  const all = [...previous(mode, names), ...results].sort(
    (a, b) => names.indexOf(a.name as BenchName) - names.indexOf(b.name as BenchName),
  );
  const report: SuiteReport = {
    generatedAt: new Date().toISOString(),
    mode,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: machine(temporalCliVersion(cli)),
    durationS: round((performance.now() - suiteStarted) / 1000, 1),
    benchmarks: Object.fromEntries(all.map(({ name, ...rest }) => [name, rest])),
  };
  const [json, md] = [resultsFile(mode === 'quick', 'json'), resultsFile(mode === 'quick', 'md')];
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(md, renderMarkdown(report, all));
  process.stdout.write(`\n${renderTable(results)}\n\n`);

  const broken = results.filter((r) => r.error);
  const missed = results.flatMap((r) => r.goals.filter((g) => !g.met).map((g) => `${r.name}.${g.figure}`));
  if (broken.length) log(`✘ ${broken.map((r) => r.name).join(', ')}: invariant broken or did not finish`);
  if (missed.length) log(`goals missed: ${missed.join(', ')}${args.strict ? ' (--strict: failing)' : ''}`);
  log(`results: ${json}, ${md} (${report.durationS} s)`);
  return broken.length || (args.strict && missed.length) ? 1 : 0;
}

// Exit explicitly: a benchmark that leaked a handle must not keep the suite (or CI) waiting.
main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);

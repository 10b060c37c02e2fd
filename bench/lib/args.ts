// Command line of `npm run bench`: which benchmarks, quick or full, and whether a missed goal fails the run.

export const BENCHMARKS = [
  'reaction_latency',
  'overhead',
  'efficiency',
  'concurrency',
  'fleet_rollout',
  'simulator',
  'power_scale',
  'startup',
] as const;
export type BenchName = (typeof BENCHMARKS)[number];

export interface BenchArgs {
  quick: boolean;
  only: BenchName[];
  /** Deployments in flight for `concurrency`; default 1000 (20 with --quick). */
  n?: number;
  /** A missed goal fails the run (exit 1), not only a broken invariant. */
  strict: boolean;
  help: boolean;
}

/** Older or file-style names still accepted by --only. */
const ALIASES: Record<string, BenchName> = { simulator_capacity: 'simulator', fleet: 'fleet_rollout' };

export class BenchUsageError extends Error {
  readonly code = 'BENCH_USAGE';
}

export const USAGE = `usage: npm run bench -- [--quick] [--only ${BENCHMARKS.join(',')}] [--n N] [--strict]
  --quick    smoke run (< 2 min): small samples; checks the benchmarks still run and their invariants hold
  --only     run only these benchmarks (comma-separated, or repeat the flag)
  --n        deployments in flight for concurrency (default 1000, 20 with --quick)
  --strict   exit 1 when a goal is missed too (a broken invariant always exits 1)`;

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { quick: false, only: [], strict: false, help: false };
  const take = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new BenchUsageError(`${flag} needs a value\n${USAGE}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.indexOf('=');
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const inline = eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = () => {
      if (inline !== undefined) return inline;
      const v = take(i, flag);
      i++;
      return v;
    };
    switch (flag) {
      case '--quick':
        args.quick = true;
        break;
      case '--strict':
        args.strict = true;
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      case '--only':
        for (const name of value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)) {
          const normalised = ALIASES[name.replace(/-/g, '_')] ?? name.replace(/-/g, '_');
          if (!(BENCHMARKS as readonly string[]).includes(normalised)) {
            throw new BenchUsageError(`--only: unknown benchmark "${name}"; choose from ${BENCHMARKS.join(', ')}`);
          }
          if (!args.only.includes(normalised as BenchName)) args.only.push(normalised as BenchName);
        }
        break;
      case '--n': {
        const v = value();
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new BenchUsageError(`--n must be a whole number ≥ 1 (got "${v}")`);
        args.n = n;
        break;
      }
      default:
        throw new BenchUsageError(`unknown argument "${raw}"\n${USAGE}`);
    }
  }
  return args;
}

/** The benchmarks to run, in suite order. */
export function selected(args: BenchArgs): BenchName[] {
  return args.only.length ? BENCHMARKS.filter((b) => args.only.includes(b)) : [...BENCHMARKS];
}

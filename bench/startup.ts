// Start-up of the CLI as users run it: the package packed and installed into an empty project (the same procedure
// as test/e2e/package.test.ts), then `cvmflow --help` and a refused spec, each timed (wall clock) and measured (peak
// RSS of the child process) against `phala --help` — the official CLI, the baseline a user
// compares with — and `node -e 0`, the floor, interleaved in the same run so machine load hits all alike.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packAndInstall } from './lib/installed-package';
import { type BenchOutput, invariant } from './lib/report';
import { round } from './lib/stats';

const PHALA = fileURLToPath(new URL('../node_modules/phala/package.json', import.meta.url));

interface Sample {
  ms: number;
  rssMiB: number;
}

// Python's getrusage(RUSAGE_CHILDREN) reports the peak RSS of the one child it ran; Node has no such call.
const RUN_ONE = `
import resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[2:], cwd=sys.argv[1], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(r.returncode, (time.monotonic() - t) * 1000, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
`;

/** One run of a command in its own process: wall time and the process's peak RSS. */
function measure(command: string, args: string[], cwd: string, expectCode: number): Sample {
  const r = spawnSync('python3', ['-c', RUN_ONE, cwd, command, ...args], { encoding: 'utf8' });
  const [code, ms, rssKiB] = r.stdout.trim().split(' ').map(Number);
  invariant(code === expectCode, `${command} ${args.join(' ')} exited ${code}, expected ${expectCode}: ${r.stderr}`);
  return { ms: ms!, rssMiB: rssKiB! / 1024 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

export async function startup(opts: { quick?: boolean } = {}): Promise<BenchOutput> {
  const rounds = opts.quick ? 3 : 11;
  const pkg = packAndInstall();
  try {
    writeFileSync(
      join(pkg.app, 'refused.yaml'),
      'apiVersion: cvmflow/v1\nkind: Deployment\nname: web-app\nreplicas: 0\ncompose:\n  inline: |\n    services:\n      web:\n        image: nginx\n',
    );
    const phalaBin = join(
      PHALA,
      '..',
      (JSON.parse(readFileSync(PHALA, 'utf8')) as { bin: { phala: string } }).bin.phala,
    );
    const cases = {
      help: () => measure(pkg.bin, ['--help'], pkg.app, 0),
      refused: () => measure(pkg.bin, ['deploy', '-f', 'refused.yaml'], pkg.app, 2),
      phala: () => measure(process.execPath, [phalaBin, '--help'], pkg.app, 0),
      node: () => measure(process.execPath, ['-e', '0'], pkg.app, 0),
    };
    const samples: Record<keyof typeof cases, Sample[]> = { help: [], refused: [], phala: [], node: [] };
    for (const run of Object.values(cases)) run(); // warm the file cache once
    for (let i = 0; i < rounds; i++)
      for (const [name, run] of Object.entries(cases)) samples[name as keyof typeof cases].push(run());
    const ms = (k: keyof typeof cases) => round(median(samples[k].map((s) => s.ms)), 0);
    const rss = (k: keyof typeof cases) => round(median(samples[k].map((s) => s.rssMiB)), 1);
    return {
      name: 'startup',
      what: 'cvmflow --help and a refused spec from the installed package, vs phala --help and node -e 0 (medians, interleaved)',
      settings: { rounds, package: 'npm pack + npm install into an empty project' },
      figures: {
        help_ms: ms('help'),
        help_rss_mib: rss('help'),
        refused_spec_ms: ms('refused'),
        refused_spec_rss_mib: rss('refused'),
        phala_help_ms: ms('phala'),
        phala_help_rss_mib: rss('phala'),
        node_floor_ms: ms('node'),
        ratio_vs_phala_help: round(ms('help') / ms('phala'), 2),
      },
      goals: [
        { figure: 'help_ms', op: '<=', target: 300 },
        { figure: 'help_rss_mib', op: '<=', target: 100 },
        { figure: 'refused_spec_ms', op: '<=', target: 300 },
        { figure: 'refused_spec_rss_mib', op: '<=', target: 100 },
      ],
      notes: [
        'Each command is its own process; RSS is its peak resident set (getrusage of the child). node_floor_ms is the cost of starting Node itself.',
      ],
    };
  } finally {
    pkg.remove();
  }
}

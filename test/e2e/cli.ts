// Runs the cvmflow CLI as a user does — its own process, through bin/cvmflow.mjs — and the embedded stack
// (`cvmflow dev`) in the background, with helpers to find every process it started.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/cvmflow.mjs', import.meta.url));
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `cvmflow dev` on free ports only (so tests never collide with each other or a user's stack), at ×0.01 time. */
export const DEV_ARGS = [
  ...['--port', '0', '--ui-port', '0', '--sim-port', '0', '--codec-port', '0', '--dashboard-port', '0'],
  ...['--time-scale', '0.01'],
];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a fresh shell would have: nothing of cvmflow's own variables leaks in from the test runner. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(TEMPORAL_(?!CLI)|CVMFLOW_|PHALA_|ETH_|PRIVATE_KEY)/.test(k)) env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}) {
  return new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: opts.env ?? cleanEnv(),
      cwd: opts.cwd ?? ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cvmflow ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Background {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process is gone. */
  exited: Promise<number | null>;
  /** Resolves once stdout (or stderr, for a process that narrates there) holds text. */
  waitFor(text: string, timeoutMs?: number, stream?: 'stdout' | 'stderr'): Promise<void>;
}

export function runInBackground(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Background {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: opts.env ?? cleanEnv(),
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(text, timeoutMs = 90_000, stream = 'stdout') {
      const giveUp = Date.now() + timeoutMs;
      while (!(stream === 'stdout' ? out : err).includes(text)) {
        if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before "${text}":\n${out}\n${err}`);
        if (Date.now() > giveUp) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Every live descendant of pid (Linux /proc). */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name (field 2) is parenthesised and may hold spaces; the ppid follows the closing one.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // Gone between readdir and read.
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // A zombie has exited; only its parent's wait() is missing.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The KEY=value pairs of the `export …` lines a command printed. */
export function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*export\s+(.*)$/.exec(line);
    if (!m) continue;
    for (const pair of m[1]!.match(/[A-Z_][A-Z0-9_]*=(?:'[^']*'|\S+)/g) ?? []) {
      const eq = pair.indexOf('=');
      env[pair.slice(0, eq)] = pair.slice(eq + 1).replace(/^'(.*)'$/, '$1');
    }
  }
  return env;
}

/** A user error: exit 2, one line on stderr naming what to fix, no stack trace. */
export function expectUserError(r: CliResult, mentions: string | RegExp): string | undefined {
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => l && !l.startsWith('(run with --help'));
  if (r.code !== 2) return `exit ${r.code}, expected 2: ${r.stderr}`;
  if (lines.length !== 1) return `expected one line on stderr, got ${lines.length}: ${r.stderr}`;
  if (/\n\s+at /.test(r.stderr)) return `stack trace on stderr: ${r.stderr}`;
  const ok = typeof mentions === 'string' ? lines[0]!.includes(mentions) : mentions.test(lines[0]!);
  return ok ? undefined : `stderr does not mention ${mentions}: ${r.stderr}`;
}

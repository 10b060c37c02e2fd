// The worker image without Docker: each stage of the Dockerfile carried out in a clean folder — its COPY steps from
// the tracked files (or from an earlier stage's folder), its RUN steps as written (npm ci, the build) — then the final
// stage's ENTRYPOINT started from its folder: `--help`, and `sim` answering a request. A lock file that npm ci
// refuses, a runtime dependency listed only under devDependencies, or a build that needs the TypeScript sources at
// run time fails here as it would fail `docker compose up --build`. npm runs --offline: packages come from the cache
// the project's own `npm ci` filled, so nothing beyond loopback is reached.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './cli';

interface Stage {
  name: string;
  dir: string;
  env: Record<string, string>;
  entrypoint: string[];
  runs: string[];
}

const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
const work = mkdtempSync(join(tmpdir(), 'cvmflow-image-'));
const stages: Stage[] = [];
const final = () => stages.at(-1)!;

/** COPY of tracked files into a folder: a file keeps its name, a folder's files their paths below it. */
function copyTracked(source: string, dest: string): void {
  const files = tracked.filter((f) => f === source || f.startsWith(`${source}/`));
  expect(files.length, `COPY ${source}: no tracked file`).toBeGreaterThan(0);
  for (const f of files) {
    const to = join(dest, relative(source, f) || f.split('/').at(-1)!);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(join(ROOT, f), to);
  }
}

/** One RUN step as the image builder runs it, minus what only tidies the image (npm's cache is ours here). */
function run(stage: Stage, command: string): void {
  const steps = command
    .split('&&')
    .map((s) => s.trim())
    .filter((s) => !s.startsWith('npm cache clean'))
    .map((s) => (/^npm (ci|install)\b/.test(s) ? `${s} --offline` : s));
  stage.runs.push(...steps);
  execFileSync('sh', ['-c', steps.join(' && ')], {
    cwd: stage.dir,
    env: { ...process.env, ...stage.env },
    stdio: 'pipe',
    timeout: 400_000,
  });
}

function buildImage(): void {
  // Continuation lines joined, comments dropped: one instruction per line.
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const [instruction, ...words] = line.split(/\s+/);
    const rest = words.join(' ');
    if (instruction === 'FROM') {
      const name = /\bAS\s+(\S+)/i.exec(rest)?.[1] ?? `stage${stages.length}`;
      const dir = join(work, name);
      mkdirSync(dir);
      stages.push({ name, dir, env: {}, entrypoint: [], runs: [] });
    } else if (instruction === 'COPY') {
      const from = /^--from=(\S+)$/.exec(words[0] ?? '')?.[1];
      const args = from ? words.slice(1) : words;
      const dest = join(final().dir, args.at(-1)!);
      for (const source of args.slice(0, -1)) {
        if (from) {
          const origin = stages.find((s) => s.name === from)!;
          cpSync(join(origin.dir, relative('/app', source)), dest, { recursive: true });
        } else copyTracked(source, dest);
      }
    } else if (instruction === 'RUN') run(final(), rest);
    else if (instruction === 'ENV') for (const m of rest.matchAll(/(\w+)=(\S+)/g)) final().env[m[1]!] = m[2]!;
    else if (instruction === 'ENTRYPOINT') final().entrypoint = JSON.parse(rest) as string[];
  }
}

function start(args: string[]) {
  const [command, ...base] = final().entrypoint;
  const child = spawn(command!, [...base, ...args], {
    cwd: final().dir,
    env: { PATH: process.env.PATH, HOME: final().dir, ...final().env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('close', r));
  return { child, out: () => out, err: () => err, exited };
}

beforeAll(buildImage, 900_000);
// The stages hold several node_modules copies: removing them takes minutes on a loaded machine.
afterAll(() => rm(work, { recursive: true, force: true }), 600_000);

describe('the image (every Dockerfile stage carried out in a clean folder)', () => {
  it('the final stage installs production dependencies only, from the lock file, and carries no sources', () => {
    expect(final().runs.some((r) => /^npm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(existsSync(join(final().dir, 'node_modules/@temporalio/worker'))).toBe(true);
    for (const devOnly of ['vitest', 'tsx', '@biomejs', 'solc'])
      expect(existsSync(join(final().dir, 'node_modules', devOnly)), devOnly).toBe(false);
    expect(existsSync(join(final().dir, 'src'))).toBe(false);
    expect(existsSync(join(final().dir, 'dist/workflow-bundle.js'))).toBe(true);
  });

  it('its entrypoint prints the help and exits 0', async () => {
    const help = start(['--help']);
    expect(await help.exited, help.err()).toBe(0);
    expect(help.out()).toContain('Usage: cvmflow');
    expect(help.out()).toMatch(/worker\s/);
  });

  it('its entrypoint runs the simulator, which answers a request', async () => {
    const sim = start(['sim', '--api-key', 'image-key', '--port', '0', '--time-scale', '0.01']);
    try {
      await expect.poll(() => sim.out().split('\n').length, { timeout: 60_000, interval: 100 }).toBeGreaterThan(1);
      const url = sim.out().split('\n')[0]!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1$/);
      const me = await fetch(`${url}/auth/me`, { headers: { 'X-API-Key': 'image-key' } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { user: { username: string } }).user.username).toMatch(/^sim-user/);
    } finally {
      sim.child.kill('SIGTERM');
      expect(await sim.exited).toBe(0);
    }
  });
});

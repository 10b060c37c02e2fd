// The worker image without Docker: the Dockerfile's own COPY and `RUN npm ci …` steps, read from the Dockerfile and
// carried out in a clean copy of the tracked files, then its ENTRYPOINT started from that tree — `--help`, and `sim`
// answering a request. A lock file that npm ci refuses, or a runtime dependency listed only under devDependencies,
// fails here as it would fail `docker compose up --build`. npm runs --offline: the packages come from the cache the
// project's own `npm ci` filled, so the test reaches nothing beyond loopback.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './cli';

interface ImageSteps {
  copies: string[];
  install: string;
  entrypoint: string[];
  env: Record<string, string>;
}

/** The steps of the Dockerfile that make the image's file tree and start it. */
function readDockerfile(): ImageSteps {
  // Continuation lines joined, comments dropped: one instruction per line.
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'));
  const copies: string[] = [];
  const env: Record<string, string> = {};
  let install = '';
  let entrypoint: string[] = [];
  for (const line of lines) {
    const [instruction, ...rest] = line.trim().split(/\s+/);
    if (instruction === 'COPY') copies.push(...rest.slice(0, -1));
    if (instruction === 'RUN' && rest.join(' ').includes('npm ci')) install = rest.join(' ').split('&&')[0]!.trim();
    if (instruction === 'ENTRYPOINT') entrypoint = JSON.parse(rest.join(' ')) as string[];
    if (instruction === 'ENV') for (const m of rest.join(' ').matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
  }
  return { copies, install, entrypoint, env };
}

const steps = readDockerfile();
let tree: string;

function start(args: string[]) {
  const [command, ...base] = steps.entrypoint;
  const child = spawn(command!, [...base, ...args], {
    cwd: tree,
    env: { PATH: process.env.PATH, HOME: tree, ...steps.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('close', r));
  return { child, out: () => out, err: () => err, exited };
}

beforeAll(() => {
  tree = mkdtempSync(join(tmpdir(), 'cvmflow-image-'));
  const tracked = new Set(execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n'));
  for (const source of steps.copies) {
    const files = [...tracked].filter((f) => f === source || f.startsWith(`${source}/`));
    expect(files.length, `COPY ${source}: no tracked file`).toBeGreaterThan(0);
    for (const f of files) {
      mkdirSync(dirname(join(tree, f)), { recursive: true });
      cpSync(join(ROOT, f), join(tree, f));
    }
  }
  expect(steps.install).toMatch(/^npm ci\b/);
  execFileSync('sh', ['-c', `${steps.install} --offline`], {
    cwd: tree,
    env: { ...process.env, ...steps.env },
    stdio: 'pipe',
    timeout: 240_000,
  });
}, 300_000);

afterAll(() => {
  if (tree) rmSync(tree, { recursive: true, force: true });
});

describe('the image tree (Dockerfile install step in a clean copy)', () => {
  it('installs production dependencies only, from the lock file', () => {
    expect(steps.install).toContain('--omit=dev');
    expect(existsSync(join(tree, 'node_modules/@temporalio/worker'))).toBe(true);
    expect(existsSync(join(tree, 'node_modules/vitest'))).toBe(false);
    expect(existsSync(join(tree, 'node_modules/@biomejs'))).toBe(false);
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

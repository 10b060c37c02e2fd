// The Temporal UI decodes our payloads, in a real browser: `cvmflow dev` (its codec server and the UI pointed at it),
// a deploy through the CLI, then Debian's headless Chromium, driven by playwright-core, opens the deploy's history
// page and must show the workflow input decoded — a marker that exists only inside the encrypted input — while the
// history the server stores, read without the codec, holds ciphertext only; `temporal workflow show --codec-endpoint`
// decodes it too. The browser comes from scripts/ensure-chromium.sh (CI runs it); nothing is downloaded here.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTemporalCli } from '../../src/dev/temporal-cli';
import { type Background, cleanEnv, DEV_ARGS, parseExports, runCli, runInBackground } from './cli';

const TAG = randomBytes(4).toString('hex');
const APP = `codec-ui-${TAG}`;
// A compose service name: it travels only inside the encrypted workflow input, unlike the app's name, which is also
// the workflow id and a search attribute — so seeing it on the page proves the UI decoded the payload.
const MARKER = `web-marker-${TAG}`;

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

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cvmflow-codec-ui-'));
  dev = runInBackground(['dev', '--data-dir', join(work, 'data'), ...DEV_ARGS]);
  await dev.waitFor('Ctrl-C stops everything', 180_000);
  env = cleanEnv(parseExports(dev.stdout()));
});

afterAll(async () => {
  await browser?.close();
  if (dev && dev.child.exitCode === null) {
    dev.child.kill('SIGINT');
    await dev.exited;
  }
  rmSync(work, { recursive: true, force: true });
});

describe('Temporal UI with the codec server', () => {
  it("shows a deploy's decoded input in headless Chromium, while the stored history holds ciphertext only", async () => {
    const out = dev.stdout();
    const uiUrl = /Temporal UI\s+(http:\/\/\S+)/.exec(out)?.[1];
    const codecUrl = /Codec server\s+(http:\/\/\S+)/.exec(out)?.[1];
    expect(uiUrl, out).toBeDefined();
    expect(codecUrl, out).toBeDefined();

    const spec = join(work, 'app.yaml');
    writeFileSync(
      spec,
      `apiVersion: cvmflow/v1
kind: Deployment
name: ${APP}
compose:
  inline: |
    services:
      ${MARKER}:
        image: nginx:1.27-alpine
replicas: 1
`,
    );
    const deployed = await runCli(['deploy', '-f', spec, '--wait', '--json'], { env, timeoutMs: 120_000 });
    expect(deployed.code, deployed.stderr).toBe(0);

    // The history as the server stores it, through a client without the codec.
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS! });
    let runId: string;
    try {
      const raw = new Client({ connection, namespace: 'default' });
      const workflowId = `deploy-${APP}`;
      runId = (await raw.workflow.getHandle(workflowId).describe()).runId;
      const { history } = await raw.workflowService.getWorkflowExecutionHistory({
        namespace: 'default',
        execution: { workflowId, runId },
      });
      const bytes = Buffer.from(proto.temporal.api.history.v1.History.encode(history ?? {}).finish());
      expect(bytes.length).toBeGreaterThan(1000);
      expect(bytes.indexOf(MARKER)).toBe(-1);
      expect(bytes.indexOf('nginx:1.27-alpine')).toBe(-1);
      expect(bytes.indexOf(Buffer.from(MARKER).toString('base64'))).toBe(-1);
      expect(bytes.indexOf('binary/encrypted')).toBeGreaterThan(-1);
    } finally {
      await connection.close();
    }

    browser = await chromium.launch({
      executablePath: chromiumPath(),
      // As root in a container Chromium's sandbox cannot start; the page is our own UI on loopback.
      args: ['--no-sandbox', '--headless=new'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 2000 } });
    const codecCalls: { method: string; status: number }[] = [];
    page.on('response', (res) => {
      if (res.url().startsWith(`${codecUrl}/`))
        codecCalls.push({ method: res.request().method(), status: res.status() });
    });
    const historyUrl = `${uiUrl}/namespaces/default/workflows/deploy-${APP}/${runId}/history`;
    await page.goto(historyUrl, { waitUntil: 'domcontentloaded', timeout: 90_000 });
    // The UI fetches the history, then posts its payloads to the codec server: poll the rendered text (what a person
    // sees, so innerText) until the decoded input shows, with room for a slow, shared machine.
    const shows = (text: string) => text.includes(MARKER) && new RegExp(`"app":\\s*"${APP}"`).test(text);
    let text = '';
    for (const giveUp = Date.now() + 120_000; Date.now() < giveUp; await new Promise((r) => setTimeout(r, 500))) {
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text, what a person sees, is the point.
      text = await page.innerText('body').catch(() => '');
      if (shows(text)) break;
    }
    const shot = join(work, 'history.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(shows(text), `the page never showed the decoded input; it reads:\n${text.slice(0, 3000)}`).toBe(true);
    expect(statSync(shot).size).toBeGreaterThan(10_000);

    // It was our codec server that decoded, over CORS from the UI's origin.
    expect(
      codecCalls.some((c) => c.method === 'POST' && c.status === 200),
      JSON.stringify(codecCalls),
    ).toBe(true);
    expect(
      codecCalls.filter((c) => c.status >= 400),
      JSON.stringify(codecCalls),
    ).toEqual([]);
    // The README's `temporal workflow show --codec-endpoint` against the same server reads the input decoded.
    const shown = execFileSync(
      ensureTemporalCli(),
      [
        'workflow',
        'show',
        '--workflow-id',
        `deploy-${APP}`,
        '--address',
        env.TEMPORAL_ADDRESS!,
        '--codec-endpoint',
        codecUrl!,
        '--output',
        'json',
      ],
      { encoding: 'utf8', env: { ...env, TEMPORAL_VERSION_CHECK_DISABLED: '1' }, timeout: 60_000 },
    );
    const input = (
      JSON.parse(shown) as {
        events: { workflowExecutionStartedEventAttributes?: { input: { payloads: { data: string }[] } } }[];
      }
    ).events[0]!.workflowExecutionStartedEventAttributes!.input.payloads[0]!;
    // JSON output keeps payload data as base64: decoded means plain JSON inside, where the history has ciphertext.
    expect(Buffer.from(input.data, 'base64').toString('utf8')).toContain(MARKER);

    // Neither process's log carries the decoded input.
    expect(dev.stdout() + dev.stderr()).not.toContain(MARKER);
  }, 300_000);
});

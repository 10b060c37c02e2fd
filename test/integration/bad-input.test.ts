// The bad-input corpus (test/fixtures/bad-input/cases.yaml), run through the real CLI as a user runs it and through
// the trigger endpoint: every case is refused with exit code 2 (HTTP 4xx), one line that names the field and what is
// allowed, no stack trace, no secret echoed — and the simulator, behind a live worker, sees no write at all.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseYaml } from '../../src/spec/yaml';
import { bodySignature } from '../../src/trigger/auth';
import { createTriggerHandler, TriggerSpecs } from '../../src/trigger/handler';
import { startTriggerServer, type TriggerServer } from '../../src/trigger/server';
import { cleanEnv, expectUserError, runCli } from '../e2e/cli';
import { startStack, TEST_API_KEY, type TestStack } from '../support/stack';
import { TEST_CODEC_KEY_TEXT, TEST_CODEC_KEYS, temporalTarget } from '../support/temporal';

interface TriggerCase {
  auth: 'token' | 'hmac' | 'bad-token' | 'bad-hmac' | 'none';
  method?: string;
  path?: string;
  body?: string;
  bodyBytes?: number;
  chunked?: boolean;
  tamper?: string;
  delivery?: string | null;
}

interface Case {
  id: string;
  args?: string[];
  text?: string;
  base?: string;
  set?: Record<string, unknown>;
  specName?: string;
  env?: Record<string, string>;
  api?: 'html' | 'wrong-shape' | 'not-json';
  trigger?: TriggerCase;
  status?: number;
  expect: string;
  mustNotContain?: string;
}

const MANIFEST = fileURLToPath(new URL('../fixtures/bad-input/cases.yaml', import.meta.url));
const parsed = parseYaml(readFileSync(MANIFEST, 'utf8'));
if (!parsed.ok) throw new Error(`cases.yaml: ${parsed.problem}`);
const manifest = parsed.value as { bases: Record<string, Record<string, unknown>>; cases: Case[] };
const cliCases = manifest.cases.filter((c) => c.args);
const triggerCases = manifest.cases.filter((c) => c.trigger);

const TOKEN = 'trigger-token-0123456789abcdef';
const HMAC = 'trigger-hmac-key-0123456789abcdef';
const BG_APP = 'bad-input-bg';

let stack: TestStack;
let dir: string;
let fakeApi: Server;
let fakeApiUrl: string;
let trigger: TriggerServer;
let firstSeq: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cvmflow-bad-input-'));
  stack = await startStack();
  // A live worker: a case that slipped through validation would reach the simulator and show up as a write.
  await stack.startWorker();
  firstSeq = stack.sim.requests().at(-1)?.seq ?? 0;
  fakeApi = createServer((req, res) => {
    const kind = req.url?.split('/')[1];
    if (kind === 'html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Welcome to nginx!</body></html>');
    } else if (kind === 'wrong-shape') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ items: 'none', total: 'many' }));
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('not json {');
    }
  });
  await new Promise<void>((r) => fakeApi.listen(0, '127.0.0.1', () => r()));
  fakeApiUrl = `http://127.0.0.1:${(fakeApi.address() as AddressInfo).port}`;
  const specs = new TriggerSpecs();
  specs.add({ ...manifest.bases.BlueGreen!, name: BG_APP }, dir, 'bad-input-bg.yaml');
  trigger = await startTriggerServer({
    port: 0,
    auth: { token: TOKEN, hmacSecret: HMAC },
    apps: specs.apps(),
    handle: createTriggerHandler({
      client: stack.client,
      taskQueue: stack.taskQueue,
      specs,
      codecKeys: TEST_CODEC_KEYS,
    }),
  });
});

afterAll(async () => {
  await trigger?.close();
  await new Promise<void>((r) => (fakeApi ? fakeApi.close(() => r()) : r()));
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function writeSpec(c: Case): string | undefined {
  if (c.text === undefined && c.base === undefined) return undefined;
  const caseDir = join(dir, c.id);
  mkdirSync(caseDir, { recursive: true });
  const path = join(caseDir, c.specName ?? 'spec.yaml');
  if (c.text !== undefined) writeFileSync(path, c.text);
  else {
    const doc: Record<string, unknown> = { ...manifest.bases[c.base!] };
    for (const [k, v] of Object.entries(c.set ?? {})) {
      if (v === null) delete doc[k];
      else doc[k] = v;
    }
    writeFileSync(path, stringify(doc));
  }
  mkdirSync(dirname(path), { recursive: true });
  return path;
}

describe('bad input through the CLI', () => {
  it('has at least 60 cases in the corpus', () => {
    expect(manifest.cases.length).toBeGreaterThanOrEqual(60);
  });

  it.concurrent.each(cliCases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const spec = writeSpec(c);
    const args = c.args!.map((a) => (a === '{spec}' ? spec! : a));
    const env = cleanEnv({
      TEMPORAL_ADDRESS: temporalTarget().address,
      TEMPORAL_NAMESPACE: temporalTarget().namespace,
      TEMPORAL_TASK_QUEUE: stack.taskQueue,
      CVMFLOW_CODEC_KEY: TEST_CODEC_KEY_TEXT,
      PHALA_CLOUD_API_PREFIX: c.api ? `${fakeApiUrl}/${c.api}` : stack.sim.url,
      PHALA_CLOUD_API_KEY: TEST_API_KEY,
      ...c.env,
    });
    const r = await runCli(args, { env, cwd: dir });
    const problem = expectUserError(r, new RegExp(c.expect));
    expect(problem, `${c.id}: stdout ${r.stdout}`).toBeUndefined();
    if (c.mustNotContain) expect(r.stdout + r.stderr).not.toContain(c.mustNotContain);
  });
});

async function send(t: TriggerCase): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = t.bodyBytes !== undefined ? `{"reason": "${'x'.repeat(t.bodyBytes)}"}` : t.body;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (t.delivery !== null)
    headers['x-cvmflow-delivery'] = t.delivery ?? `bad-input-${Math.random().toString(36).slice(2)}`;
  if (t.auth === 'token') headers.authorization = `Bearer ${TOKEN}`;
  if (t.auth === 'bad-token') headers.authorization = 'Bearer not-the-token';
  if (t.auth === 'hmac') headers['x-hub-signature-256'] = bodySignature(HMAC, body ?? '');
  if (t.auth === 'bad-hmac') headers['x-hub-signature-256'] = bodySignature('wrong-key', body ?? '');
  const sent = t.tamper ?? body;
  const init: RequestInit & { duplex?: string } = { method: t.method ?? 'POST', headers };
  if (sent !== undefined && init.method !== 'GET') {
    if (t.chunked) {
      // No Content-Length: the server must stop reading once the limit is passed.
      const bytes = Buffer.from(sent);
      init.body = new ReadableStream({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 16384) controller.enqueue(bytes.subarray(i, i + 16384));
          controller.close();
        },
      });
      init.duplex = 'half';
    } else init.body = sent;
  }
  const res = await fetch(`${trigger.url}${t.path ?? `/v1/bluegreen/${BG_APP}`}`, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('bad input at the trigger endpoint', () => {
  it.each(triggerCases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const { status, body } = await send(c.trigger!);
    expect(status).toBe(c.status);
    const text = typeof body.error === 'string' ? body.error : JSON.stringify(body);
    expect(text).toMatch(new RegExp(c.expect));
    expect(text).not.toContain('\n');
    expect(text).not.toMatch(/\bat .*\.ts:\d+/);
    for (const secret of [TOKEN, HMAC]) expect(JSON.stringify(body)).not.toContain(secret);
  });
});

describe('nothing was written', () => {
  it('the simulator saw no write request from any case', () => {
    const writes = stack.sim.requests({ sinceSeq: firstSeq }).filter((r) => r.method !== 'GET');
    expect(writes.map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });
});

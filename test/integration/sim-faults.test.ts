// Fault injection and inspection through the admin API (its own port and bearer token), observed by raw HTTP/SSE
// clients and by the official SDK: error statuses with Retry-After, latency, SSE drops and stalls, CVMs that never
// boot or crash, the request log, the per-key SSE cap and reset.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commitCvmProvision, createClient, getCvmList, provisionCvm } from '@phala/cloud';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FaultProfileError, type SimulatorHandle, startSimulator } from '../../src/simulator';
import { readSse } from '../../src/simulator/sse-client';

// biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON bodies
type Json = any;
const json = async (res: Response | Promise<Response>): Promise<Json> => (await res).json();

const KEY = 'phak_sim_faults';
const OTHER_KEY = 'phak_sim_faults_other';
const COMPOSE = 'services:\n  a:\n    image: busybox\n';

let sim: SimulatorHandle;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cvmflow-sim-faults-'));
  const profile = join(dir, 'faults.json');
  writeFileSync(profile, JSON.stringify({ routes: [{ id: 'boot-latency', path: '/kms', latencyMs: 1 }] }));
  sim = await startSimulator({ apiKeys: [KEY, OTHER_KEY], timeScale: 0.002, faults: profile });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => sim.reset());

function admin(path: string, init: RequestInit = {}, token = sim.adminToken) {
  return fetch(`${sim.adminUrl}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...init.headers },
  });
}

const api = (path: string, init: RequestInit = {}, key = KEY) =>
  fetch(`${sim.url}${path}`, {
    ...init,
    headers: { 'X-API-Key': key, 'Content-Type': 'application/json', ...init.headers },
  });

async function deploy(name: string): Promise<string> {
  const client = createClient({ baseURL: sim.url, apiKey: KEY });
  const p = await provisionCvm(client, { name, compose_file: { docker_compose_file: COMPOSE } });
  return (await commitCvmProvision(client, { app_id: p.app_id!, compose_hash: p.compose_hash })).vm_uuid!;
}

const status = (vmUuid: string) => sim.cvms().find((c) => c.vmUuid === vmUuid)?.status;

describe('admin API', () => {
  it('rejects a missing or wrong token and serves the right one', async () => {
    expect((await fetch(`${sim.adminUrl}/admin/cvms`)).status).toBe(401);
    const wrong = await admin('/admin/cvms', {}, 'not-the-token');
    expect(wrong.status).toBe(401);
    expect(await json(wrong)).toEqual({ detail: expect.stringContaining('admin token') });
    // An API key is no admin credential either.
    expect((await admin('/admin/cvms', {}, KEY)).status).toBe(401);
    const ok = await admin('/admin/cvms');
    expect(ok.status).toBe(200);
    expect(await json(ok)).toEqual({ cvms: [] });
  });

  it('loads the start-up fault profile and restores it on reset', async () => {
    await admin('/admin/faults', { method: 'DELETE' });
    expect((await json(admin('/admin/faults'))).routes).toEqual([]);
    expect((await admin('/admin/reset', { method: 'POST' })).status).toBe(204);
    const faults = await json(admin('/admin/faults'));
    expect(faults.routes.map((f: { id: string }) => f.id)).toEqual(['boot-latency']);
  });

  it('reports an invalid profile with the offending field', async () => {
    const res = await admin('/admin/faults', {
      method: 'POST',
      body: JSON.stringify({ routes: [{ path: '/x', status: 99 }] }),
    });
    expect(res.status).toBe(400);
    expect((await json(res)).detail).toMatch(/routes\.0\.status/);
    await expect(
      startSimulator({ apiKeys: [KEY], faults: { routes: [{ path: '/x', probability: 2 }] } }),
    ).rejects.toThrow(FaultProfileError);
  });

  it('injects a 503 with Retry-After on a route a given number of times; the SDK sees ServerError', async () => {
    const add = await admin('/admin/faults', {
      method: 'POST',
      body: JSON.stringify({
        routes: [{ id: 'list-503', method: 'GET', path: '/cvms/paginated', status: 503, retryAfter: 7, count: 3 }],
      }),
    });
    expect(add.status).toBe(201);
    const raw = await api('/cvms/paginated');
    expect(raw.status).toBe(503);
    expect(raw.headers.get('retry-after')).toBe('7');
    expect(raw.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await json(raw)).toEqual({ detail: 'Service temporarily unavailable' });
    // The SDK retries a GET once, immediately (reference §0.7): both attempts hit the fault.
    const client = createClient({ baseURL: sim.url, apiKey: KEY });
    await expect(getCvmList(client)).rejects.toMatchObject({ status: 503 });
    expect(sim.requests({ route: '/cvms/paginated' }).map((r) => [r.status, r.faults])).toEqual([
      [503, ['list-503']],
      [503, ['list-503']],
      [503, ['list-503']],
    ]);
    await expect(getCvmList(client)).resolves.toMatchObject({ total: 0 });
    expect((await json(admin('/admin/faults'))).routes.map((f: { id: string }) => f.id)).not.toContain('list-503');
  });

  it('targets one CVM with a structured error body, and adds latency', async () => {
    const a = await deploy('fault-target');
    const b = await deploy('fault-bystander');
    await expect.poll(() => [status(a), status(b)], { interval: 10, timeout: 5000 }).toEqual(['running', 'running']);
    sim.addFaults({
      routes: [
        {
          method: 'POST',
          path: '/cvms/:id/restart',
          cvm: 'fault-target',
          status: 409,
          body: { error_code: 'ERR-04-001', message: 'Insufficient balance', details: [], suggestions: [], links: [] },
        },
        { path: '/auth/me', latencyMs: 120 },
      ],
    });
    const hit = await api(`/cvms/${a}/restart`, { method: 'POST', body: '{}' });
    expect(hit.status).toBe(409);
    expect(await json(hit)).toMatchObject({ error_code: 'ERR-04-001', request_id: hit.headers.get('x-request-id') });
    expect((await api(`/cvms/${b}/restart`, { method: 'POST', body: '{}' })).status).toBe(200);
    const t0 = performance.now();
    expect((await api('/auth/me')).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(115);
  });

  it('drops an SSE stream after N events, as a raw client observes', async () => {
    const vm = await deploy('sse-drop');
    sim.addFaults({ routes: [{ path: '/cvms/:id/state', sse: { dropAfterEvents: 2 }, count: 1 }] });
    const dropped = await readSse(`${sim.url}/cvms/${vm}/state?target=stopped&timeout=600`, { apiKey: KEY });
    expect(dropped.status).toBe(200);
    expect(dropped.frames.map((f) => f.event)).toEqual(['state', 'state']);
    expect(dropped.end).toBe('dropped');
    // The fault was used up: the next stream runs to completion.
    const full = await readSse(`${sim.url}/cvms/${vm}/state?target=running`, { apiKey: KEY });
    expect(full.end).toBe('closed');
    expect(full.frames.at(-1)?.event).toBe('complete');
  });

  it('stalls an SSE stream: no events after N, even when the target is reached', async () => {
    const vm = await deploy('sse-stall');
    sim.addFaults({ routes: [{ path: '/cvms/:id/state', sse: { stallAfterEvents: 1 } }] });
    const abort = new AbortController();
    const result = readSse(`${sim.url}/cvms/${vm}/state?target=running`, { apiKey: KEY, signal: abort.signal });
    await expect.poll(() => status(vm), { interval: 10, timeout: 5000 }).toBe('running');
    await new Promise((r) => setTimeout(r, 50));
    abort.abort();
    const stalled = await result;
    expect(stalled.frames.map((f) => f.event)).toEqual(['state']);
    expect(stalled.end).toBe('aborted');
  });

  it('keeps a CVM from its target, or crashes it to exited, on CVM faults', async () => {
    const add = await admin('/admin/faults', {
      method: 'POST',
      body: JSON.stringify({
        cvms: [
          { cvm: 'never-boots', neverReachTarget: true },
          { cvm: 'crashes', crashAfterMs: 10_000 },
        ],
      }),
    });
    expect(add.status).toBe(201);
    const stuck = await deploy('never-boots');
    const crash = await deploy('crashes');
    await expect.poll(() => status(crash), { interval: 10, timeout: 5000 }).toBe('exited');
    expect(status(stuck)).toBe('starting');
    const history = (await json(admin(`/admin/cvms/${crash}`))).history.map((h: { status: string }) => h.status);
    expect(history).toEqual(['creating', 'starting', 'running', 'exited']);
    const state = await json(api(`/cvms/${crash}/state`));
    expect(state).toMatchObject({ status: 'exited', boot_error: expect.stringContaining('crash') });
  });

  it('logs every request with the key id (never the key), and proves nothing was created', async () => {
    const since = sim.requests().at(-1)?.seq ?? 0;
    const client = createClient({ baseURL: sim.url, apiKey: OTHER_KEY });
    await provisionCvm(client, { name: 'only-provisioned', compose_file: { docker_compose_file: COMPOSE } });
    await api('/cvms', {}, OTHER_KEY);
    const body = await json(admin(`/admin/requests?since=${since}&api_key_id=${sim.apiKeyId(OTHER_KEY)}`));
    expect(
      body.requests.map((r: { method: string; route: string; status: number }) => [r.method, r.route, r.status]),
    ).toEqual([
      ['POST', '/cvms/provision', 200],
      ['GET', '/cvms', 200],
    ]);
    expect(JSON.stringify(body)).not.toContain(OTHER_KEY);
    expect(
      body.requests.filter((r: { route: string; method: string }) => r.method === 'POST' && r.route === '/cvms'),
    ).toEqual([]);
    expect((await json(admin('/admin/cvms'))).cvms).toEqual([]);
    expect((await admin('/admin/requests', { method: 'DELETE' })).status).toBe(204);
    expect((await json(admin('/admin/requests'))).requests).toEqual([]);
  });

  it('caps concurrent SSE streams per API key at 5 (429), per key', async () => {
    const vm = await deploy('sse-cap');
    const abort = new AbortController();
    const open: Promise<unknown>[] = [];
    for (let i = 0; i < 5; i++) {
      open.push(
        readSse(`${sim.url}/cvms/${vm}/state?target=deleted&timeout=600`, { apiKey: KEY, signal: abort.signal }),
      );
    }
    await expect
      .poll(async () => (await json(admin('/admin/sse'))).streams[sim.apiKeyId(KEY)], { interval: 10 })
      .toBe(5);
    const sixth = await readSse(`${sim.url}/cvms/${vm}/state?target=deleted`, { apiKey: KEY });
    expect(sixth.status).toBe(429);
    expect(sixth.body).toEqual({ detail: expect.stringContaining('limit 5') });
    const otherKey = await api(`/cvms/${vm}/state`, {}, OTHER_KEY);
    expect(otherKey.status).toBe(404);
    abort.abort();
    await Promise.all(open);
    await expect.poll(async () => (await json(admin('/admin/sse'))).streams, { interval: 10 }).toEqual({});
    const again = readSse(`${sim.url}/cvms/${vm}/state?target=running`, { apiKey: KEY });
    expect((await again).status).toBe(200);
  });
});

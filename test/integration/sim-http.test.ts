// Transport and SSE conformance over real HTTP: the /api/v1 prefix, `//`, X-API-Key, X-Request-ID, JSON
// content types, version selection, and the SSE watch contract (reference §1, §6, §14.1–3 and §14.14).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatorHandle, startSimulator } from '../../src/simulator';
import { readSse, type SseFrame } from '../../src/simulator/sse-client';

// biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON bodies
type Json = any;
const json = async (res: Response | Promise<Response>): Promise<Json> => (await res).json();

const KEY = 'phak_sim_http';
const COMPOSE = 'services:\n  a:\n    image: busybox\n';

let fast: SimulatorHandle;
let slow: SimulatorHandle;

beforeAll(async () => {
  fast = await startSimulator({ apiKeys: [KEY], timeScale: 0.002 });
  // 0.02: create 400 ms, boot 600 ms, a 30 s SSE interval 600 ms — far enough apart to tell pushes from ticks.
  slow = await startSimulator({ apiKeys: [KEY], timeScale: 0.02 });
});
afterAll(async () => {
  await fast.close();
  await slow.close();
});

function api(
  sim: SimulatorHandle,
  path: string,
  init: RequestInit = {},
  headers: Record<string, string> = { 'X-API-Key': KEY },
) {
  return fetch(`${sim.url}${path}`, {
    ...init,
    headers: { 'Content-Type': 'application/json', ...headers, ...init.headers },
  });
}

async function deploy(sim: SimulatorHandle, name: string): Promise<string> {
  const compose_file = { docker_compose_file: COMPOSE };
  const p = await json(api(sim, '/cvms/provision', { method: 'POST', body: JSON.stringify({ name, compose_file }) }));
  const body = JSON.stringify({ app_id: p.app_id, compose_hash: p.compose_hash });
  return (await json(api(sim, '/cvms', { method: 'POST', body }))).vm_uuid;
}

const historyOf = (sim: SimulatorHandle, vm: string) =>
  sim.cvms({ includeDeleted: true }).find((c) => c.vmUuid === vm)!.history;
const events = (frames: SseFrame[]) =>
  frames.map((f) => (f.event === 'state' ? (f.data as { status: string }).status : f.event));

describe('transport', () => {
  it('serves /health at the host root without a key', async () => {
    const res = await fetch(fast.url.replace('/api/v1', '/health'));
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ status: 'ok' });
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it('answers FastAPI 404/405 outside the routes, 401 without or with a wrong key, each with X-Request-ID', async () => {
    const cases: [Promise<Response>, number, unknown][] = [
      [fetch(fast.url.replace('/api/v1', '/cvms')), 404, { detail: 'Not Found' }],
      [api(fast, '/no-such-route'), 404, { detail: 'Not Found' }],
      [api(fast, '/teepods/available', { method: 'DELETE' }), 405, { detail: 'Method Not Allowed' }],
      [api(fast, '/cvms', {}, {}), 401, { detail: expect.stringContaining('X-API-Key') }],
      [api(fast, '/cvms', {}, { 'X-API-Key': 'wrong' }), 401, { detail: 'Invalid API key' }],
    ];
    const ids = new Set<string>();
    for (const [pending, status, body] of cases) {
      const res = await pending;
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await json(res)).toEqual(body);
      ids.add(res.headers.get('x-request-id')!);
    }
    expect(ids.size).toBe(cases.length);
  });

  it('tolerates duplicate slashes and empty-bodied JSON POSTs', async () => {
    const vm = await deploy(fast, 'slashes-app');
    const res = await fetch(`${fast.url}//cvms//${vm}`, { headers: { 'X-API-Key': KEY } });
    expect(res.status).toBe(200);
    const stop = await fetch(`${fast.url}/cvms/${vm}/stop`, {
      method: 'POST',
      headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' },
    });
    expect(stop.status).toBe(200);
  });

  it('selects shapes by X-Phala-Version (missing = 2026-01-21) and rejects unknown versions', async () => {
    expect(await json(api(fast, '/auth/me'))).toHaveProperty('user.username', 'sim-user-1');
    const legacy = await api(fast, '/auth/me', {}, { 'X-API-Key': KEY, 'X-Phala-Version': '2025-10-28' });
    expect(await json(legacy)).toMatchObject({ username: 'sim-user-1', team_tier: 'PRO' });
    const bad = await api(fast, '/auth/me', {}, { 'X-API-Key': KEY, 'X-Phala-Version': '2024-01-01' });
    expect(bad.status).toBe(400);
  });
});

describe('SSE watch', () => {
  it('validates interval 5–30 and timeout 10–600 with FastAPI 422 bodies', async () => {
    const vm = await deploy(fast, 'sse-validate');
    const check = async (query: string, loc: string, type: string) => {
      const res = await api(fast, `/cvms/${vm}/state?target=running&${query}`);
      expect(res.status).toBe(422);
      const body = await json(res);
      expect(body.detail[0]).toMatchObject({ loc: ['query', loc], type });
    };
    await check('interval=4', 'interval', 'greater_than_equal');
    await check('interval=31', 'interval', 'less_than_equal');
    await check('interval=abc', 'interval', 'int_parsing');
    await check('timeout=9', 'timeout', 'greater_than_equal');
    await check('timeout=601', 'timeout', 'less_than_equal');
    expect((await readSse(`${fast.url}/cvms/nope-nope/state?target=running`, { apiKey: KEY })).status).toBe(404);
  });

  it('pushes a state event at once, on every change and every interval, then state + complete at the target', async () => {
    const vm = await deploy(slow, 'sse-push');
    const result = await readSse(`${slow.url}/cvms/${vm}/state?target=RUNNING&interval=30`, { apiKey: KEY });
    expect(result.end).toBe('closed');
    const seq = events(result.frames);
    expect(seq[0]).toBe('creating');
    expect(seq.slice(-2)).toEqual(['running', 'complete']);
    // Ticks repeat the current status (here during the 600 ms boot); changes arrive as they happen, not at a tick.
    expect(seq.filter((s) => s === 'starting').length).toBeGreaterThanOrEqual(2);
    const history = historyOf(slow, vm);
    for (const status of ['starting', 'running']) {
      const changedAt = history.find((h) => h.status === status)!.ts;
      const arrived = result.frames.find(
        (f) => f.event === 'state' && (f.data as { status: string }).status === status,
      )!.at;
      expect(arrived - changedAt).toBeLessThan(150);
    }
    expect(result.frames.at(-1)!.data).toMatchObject({
      status: 'running',
      target: 'RUNNING',
      elapsed: expect.any(Number),
    });
    expect((result.frames.at(-1)!.data as { elapsed: number }).elapsed).toBeGreaterThanOrEqual(45);
  });

  it('completes at once when the CVM is already at the target, with the SDK-style double slash', async () => {
    const vm = await deploy(fast, 'sse-already');
    await expect.poll(() => historyOf(fast, vm).at(-1)?.status, { interval: 10 }).toBe('running');
    const result = await readSse(`${fast.url}//cvms/${vm}/state?target=running`, { apiKey: KEY });
    expect(events(result.frames)).toEqual(['running', 'complete']);
  });

  it('sends timeout at the (scaled) deadline', async () => {
    const vm = await deploy(fast, 'sse-timeout');
    const result = await readSse(`${fast.url}/cvms/${vm}/state?target=stopped&timeout=10`, { apiKey: KEY });
    expect(result.end).toBe('closed');
    expect(result.frames.at(-1)).toMatchObject({ event: 'timeout', data: { error: 'Timeout', target: 'stopped' } });
    expect((result.frames.at(-1)!.data as { elapsed: number }).elapsed).toBeGreaterThanOrEqual(9.5);
  });

  it('sends error when the CVM is deleted', async () => {
    const vm = await deploy(fast, 'sse-deleted');
    const pending = readSse(`${fast.url}/cvms/${vm}/state?target=stopped&timeout=600`, { apiKey: KEY });
    await expect.poll(() => fast.cvms().find((c) => c.vmUuid === vm)?.status, { interval: 5 }).toBe('running');
    expect((await api(fast, `/cvms/${vm}`, { method: 'DELETE' })).status).toBe(204);
    const result = await pending;
    expect(events(result.frames).slice(-2)).toEqual(['deleting', 'error']);
    expect(result.frames.at(-1)!.data).toMatchObject({ error: expect.stringContaining('deleted') });
    expect(result.end).toBe('closed');
  });
});

// The simulator's app endpoints over real HTTP: every running CVM answers on loopback with its name and compose hash,
// its URLs are the ones the API reports, and the admin API sets what /health answers and how slowly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatorHandle, startSimulator } from '../../src/simulator';

const KEY = 'phak_app_endpoints';
const COMPOSE = 'services:\n  a:\n    image: busybox\n';
let sim: SimulatorHandle;

beforeAll(async () => {
  sim = await startSimulator({ apiKeys: [KEY], timeScale: 0.002 });
});
afterAll(() => sim.close());

async function api(method: string, path: string, body?: unknown, version?: string) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: {
      'X-API-Key': KEY,
      'Content-Type': 'application/json',
      ...(version ? { 'X-Phala-Version': version } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${sim.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${sim.adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function running(name: string) {
  const p = (await api('POST', '/cvms/provision', { name, compose_file: { docker_compose_file: COMPOSE } })).body;
  const vm = (await api('POST', '/cvms', { app_id: p.app_id, compose_hash: p.compose_hash })).body.vm_uuid as string;
  for (let i = 0; i < 200 && sim.cvms().find((c) => c.vmUuid === vm)?.status !== 'running'; i++)
    await new Promise((r) => setTimeout(r, 10));
  return { vm, appId: p.app_id as string, hash: p.compose_hash as string };
}

const get = async (url: string) => {
  const started = Date.now();
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, ms: Date.now() - started };
};

describe('simulator app endpoints', () => {
  it('reports loopback endpoints in both API versions, and each answers with its CVM’s name and compose hash', async () => {
    const cvm = await running('endpoint-one');
    const v2026 = (await api('GET', `/cvms/${cvm.vm}`)).body.endpoints[0];
    const v2025 = (await api('GET', `/cvms/${cvm.vm}`, undefined, '2025-10-28')).body.public_urls[0];
    expect(v2025).toEqual(v2026);
    expect(v2026.app).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/app\//);
    const answer = await get(`${v2026.app}/`);
    expect(answer.body).toMatchObject({ app: 'endpoint-one', version: cvm.hash, cvmId: cvm.vm });
    expect((await get(`${v2026.instance}/health`)).status).toBe(200);
  });

  it('answers /health as the admin API says, with the latency it sets; a stopped CVM answers 503', async () => {
    const cvm = await running('endpoint-two');
    const { instance } = (await api('GET', `/cvms/${cvm.vm}`)).body.endpoints[0];
    const rule = await admin('POST', '/admin/apps/rules', {
      match: { name: 'endpoint-t*' },
      health: 500,
      latencyMs: 120,
    });
    expect(rule.status).toBe(201);
    const sick = await get(`${instance}/health`);
    expect(sick.status).toBe(500);
    expect(sick.ms).toBeGreaterThanOrEqual(100);
    expect((await admin('GET', '/admin/apps')).body.rules).toHaveLength(1);
    expect((await admin('DELETE', `/admin/apps/rules/${rule.body.id}`)).status).toBe(204);
    expect((await get(`${instance}/health`)).status).toBe(200);
    expect((await admin('POST', '/admin/apps/rules', { match: {}, health: 500 })).status).toBe(400);

    await api('POST', `/cvms/${cvm.vm}/stop`);
    for (let i = 0; i < 200 && sim.cvms().find((c) => c.vmUuid === cvm.vm)?.status !== 'stopped'; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect((await get(`${instance}/health`)).status).toBe(503);
  });

  it('serves Prometheus metrics per CVM whose error share and latency follow the admin rules, and lists them for http_sd', async () => {
    const cvm = await running('endpoint-metrics');
    const { instance, app } = (await api('GET', `/cvms/${cvm.vm}`)).body.endpoints[0];
    const sd = (await get(`${new URL(instance).origin}/sd/prometheus`)).body as unknown as {
      targets: string[];
      labels: Record<string, string>;
    }[];
    expect(sd).toContainEqual({
      targets: [new URL(instance).host],
      labels: { __metrics_path__: `${new URL(instance).pathname}/metrics` },
    });
    expect((await admin('POST', '/admin/apps/rules', { match: { cvm: cvm.vm }, errorRate: 2 })).status).toBe(400);
    const rule = await admin('POST', '/admin/apps/rules', {
      match: { cvm: cvm.vm },
      errorRate: 0.25,
      requestLatencyMs: 300,
    });
    expect(rule.status).toBe(201);
    const scrape = async () => {
      const res = await fetch(`${instance}/metrics`);
      expect(res.headers.get('content-type')).toContain('text/plain');
      return res.text();
    };
    await scrape();
    await new Promise((r) => setTimeout(r, 1000));
    const text = await scrape();
    const labels = `app="endpoint-metrics",cvm="${cvm.vm}",version="${cvm.hash}"`;
    const value = (line: string) =>
      Number(new RegExp(`^${line.replace(/[{}()[\]+.]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    const ok = value(`http_requests_total{${labels},code="200"}`);
    const errors = value(`http_requests_total{${labels},code="500"}`);
    // About 20 synthetic requests a second, a quarter of them errors, each taking 300 ms.
    expect(ok + errors).toBeGreaterThanOrEqual(18);
    expect(errors / (ok + errors)).toBeCloseTo(0.25, 1);
    expect(value(`http_request_duration_seconds_bucket{${labels},le="0.25"}`)).toBe(0);
    expect(value(`http_request_duration_seconds_bucket{${labels},le="0.5"}`)).toBe(ok + errors);
    // The app's endpoint exposes every running CVM of the app.
    expect(await (await fetch(`${app}/metrics`)).text()).toContain(`cvm="${cvm.vm}"`);
    await admin('DELETE', `/admin/apps/rules/${rule.body.id}`);
  });
});

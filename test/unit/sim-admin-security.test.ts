// Security review of the simulator's admin API: its own port and bearer token, loopback by default, the Phala API
// key is no admin credential and the admin token is no API key, and a wrong token is never echoed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatorHandle, startSimulator } from '../../src/simulator';

const KEY = 'phak_security_review_key';
let sim: SimulatorHandle;

beforeAll(async () => {
  sim = await startSimulator({ apiKeys: [KEY], timeScale: 0.01 });
});
afterAll(() => sim?.close());

const admin = (token: string) =>
  fetch(`${sim.adminUrl}/admin/state`, { headers: { authorization: `Bearer ${token}` } });
const api = (key: string) => fetch(`${sim.url}/cvms`, { headers: { 'x-api-key': key } });

describe('simulator admin API security', () => {
  it('listens on loopback, on a port of its own', () => {
    expect(sim.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1$/);
    expect(sim.adminPort).not.toBe(sim.port);
  });

  it('requires the admin token and refuses the Phala API key', async () => {
    expect((await fetch(`${sim.adminUrl}/admin/state`)).status).toBe(401);
    expect((await admin(KEY)).status).toBe(401);
    expect((await admin(`${sim.adminToken}x`)).status).toBe(401);
    expect((await admin(sim.adminToken.slice(0, -1))).status).toBe(401);
    expect((await admin(sim.adminToken)).status).toBe(200);
  });

  it('the public API refuses the admin token as an API key, and serves no admin route', async () => {
    expect((await api(sim.adminToken)).status).toBe(401);
    expect((await api(KEY)).status).toBe(200);
    const viaApi = await fetch(`${sim.url.replace('/api/v1', '')}/admin/state`, {
      headers: { authorization: `Bearer ${sim.adminToken}`, 'x-api-key': KEY },
    });
    expect(viaApi.status).toBe(404);
  });

  it('echoes neither the token tried nor the real one', async () => {
    const tried = 'simadm_guess_0123456789';
    const res = await admin(tried);
    const text = await res.text();
    expect(text).not.toContain(tried);
    expect(text).not.toContain(sim.adminToken);
    const state = await (await admin(sim.adminToken)).text();
    expect(state).not.toContain(KEY);
    expect(state).not.toContain(sim.adminToken);
  });
});

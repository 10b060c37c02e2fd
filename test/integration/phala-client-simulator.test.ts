// Our Phala client through a CVM's whole life against the simulator, over real HTTP and SSE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhalaClient } from '../../src/phala/client';
import { encryptEnvVars } from '../../src/phala/env-encryption';
import { PhalaApiError } from '../../src/phala/errors';
import { waitForCvmState } from '../../src/phala/watch';
import { FAST_DELAYS, type SimulatorHandle, startSimulator } from '../../src/simulator';

const API_KEY = 'phak_sim_client_0123456789';
const SUMMARY = new Set(['id', 'name', 'status', 'vm_uuid', 'instance_id', 'progress']);

let sim: SimulatorHandle;
let phala: PhalaClient;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, apiKeys: [API_KEY], timeScale: 0.002, delays: FAST_DELAYS });
  phala = new PhalaClient({ baseURL: sim.url, apiKey: API_KEY });
});

afterAll(async () => {
  await phala?.close();
  await sim?.close();
});

/** The watch options of a test: the simulator scales the 5 s interval down with its time scale. */
const watch = (target: string) => ({ target, interval: 5, timeout: 60, retryDelay: 20, maxRetries: 3 });

async function until<T>(fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('PhalaClient against the simulator', () => {
  it('runs a CVM through its lifecycle', async () => {
    const me = await phala.getCurrentUser();
    expect(me.user.username).toBeTruthy();

    const nodes = await phala.getAvailableNodes();
    const node = nodes.nodes[0];
    expect(node).toBeDefined();

    const provision = await phala.provisionCvm({
      name: 'client-lifecycle',
      compose_file: { docker_compose_file: 'services:\n  app:\n    image: nginx:latest\n', allowed_envs: ['GREETING'] },
      node_id: node?.teepod_id,
      kms: 'PHALA',
    });
    expect(provision.app_id).toMatch(/^[0-9a-f]{40}$/);
    expect(provision.app_env_encrypt_pubkey).toMatch(/^[0-9a-f]{64}$/);
    const appId = provision.app_id as string;

    const encryptedEnv = encryptEnvVars(
      [{ key: 'GREETING', value: 'hello' }],
      provision.app_env_encrypt_pubkey as string,
    );
    const commit = {
      app_id: appId,
      compose_hash: provision.compose_hash,
      encrypted_env: encryptedEnv,
      env_keys: ['GREETING'],
    };
    const created = await phala.commitCvmProvision(commit);
    expect(created.app_id).toBe(appId);
    const cvmId = created.vm_uuid as string;
    expect(cvmId).toBeTruthy();
    // Commit is idempotent on (app_id, compose_hash): a retry gets the same CVM.
    expect((await phala.commitCvmProvision(commit)).vm_uuid).toBe(cvmId);

    expect((await waitForCvmState(phala, cvmId, watch('running'))).status).toBe('running');
    const detail = await phala.getCvm(cvmId);
    expect(detail).toMatchObject({ status: 'running', app_id: appId, compose_hash: provision.compose_hash });
    expect((await phala.getCvmState(cvmId)).status).toBe('running');

    expect((await phala.stopCvm(cvmId)).status).toBe('stopping');
    expect((await waitForCvmState(phala, cvmId, watch('stopped'))).status).toBe('stopped');

    expect((await phala.startCvm(cvmId)).status).toBe('starting');
    expect((await waitForCvmState(phala, cvmId, watch('running'))).status).toBe('running');

    expect((await phala.restartCvm(cvmId)).status).toBe('restarting');
    expect((await waitForCvmState(phala, cvmId, watch('running'))).status).toBe('running');

    const replica = await phala.replicateCvm(cvmId);
    expect(replica.app_id).toBe(appId);
    const replicaId = replica.vm_uuid as string;
    expect(replicaId).not.toBe(cvmId);
    expect((await waitForCvmState(phala, replicaId, watch('running'))).status).toBe('running');
    const appCvms = await phala.getAppCvms(appId);
    expect(appCvms.map((c) => c.vm_uuid).sort()).toEqual([cvmId, replicaId].sort());
    const batch = await phala.getStatusBatch([cvmId, replicaId]);
    expect(Object.values(batch).map((s) => s.status)).toEqual(['running', 'running']);

    for (const id of [replicaId, cvmId]) await phala.deleteCvm(id);
    for (const id of [replicaId, cvmId]) {
      const gone = await until(async () => {
        try {
          await phala.getCvm(id);
          return undefined;
        } catch (err) {
          return err;
        }
      });
      expect(gone).toBeInstanceOf(PhalaApiError);
      expect(gone).toMatchObject({ status: 404, code: 'PHALA_NOT_FOUND', retryable: false });
    }
  });

  it('lists the whole fleet in one request as summaries (identity and power state only)', async () => {
    const fleet = new PhalaClient({ baseURL: sim.url, apiKey: API_KEY });
    try {
      const ids = sim.seedCvms(API_KEY, [
        { name: 'fleet-a', status: 'running' },
        { name: 'fleet-b', status: 'stopped' },
      ]);
      const before = sim.requests().length;
      const listed = await fleet.listCvmSummaries();
      expect(
        sim
          .requests()
          .slice(before)
          .map((r) => `${r.method} ${r.route}`),
      ).toEqual(['GET /cvms']);
      const mine = listed.filter((c) => ids.includes(c.vm_uuid!));
      expect(mine.map((c) => [c.name, c.status])).toEqual(
        expect.arrayContaining([
          ['fleet-a', 'running'],
          ['fleet-b', 'stopped'],
        ]),
      );
      // Only the summary's fields survive validation.
      for (const c of mine)
        expect(Object.keys(c).sort()).toEqual(
          Object.keys(c)
            .filter((k) => SUMMARY.has(k))
            .sort(),
        );
      expect(Object.keys(mine[0]!)).toEqual(expect.arrayContaining(['id', 'name', 'status', 'vm_uuid']));
    } finally {
      await fleet.close();
    }
    const legacy = new PhalaClient({ baseURL: sim.url, apiKey: API_KEY, version: '2025-10-28' });
    await expect(legacy.listCvmSummaries()).rejects.toThrow(/2026-01-21/);
    await legacy.close();
  });

  it('reports the API’s errors classified', async () => {
    const conflict = await phala
      .commitCvmProvision({ app_id: 'f'.repeat(40), compose_hash: 'no-such-hash' })
      .catch((err: unknown) => err);
    expect(conflict).toBeInstanceOf(PhalaApiError);
    expect((conflict as PhalaApiError).retryable).toBe(false);

    const missing = await phala.getCvm('no-such-cvm').catch((err: unknown) => err);
    expect(missing).toMatchObject({ status: 404, retryable: false, endpoint: 'GET /cvms/{id}' });
    await expect(waitForCvmState(phala, 'no-such-cvm', watch('running'))).rejects.toMatchObject({ status: 404 });

    const stranger = new PhalaClient({ baseURL: sim.url, apiKey: 'phak_wrong_key' });
    try {
      const denied = await stranger.getAvailableNodes().catch((err: unknown) => err);
      expect(denied).toMatchObject({ status: 401, code: 'PHALA_UNAUTHORIZED', retryable: false });
      expect((denied as Error).message).not.toContain('phak_wrong_key');
    } finally {
      await stranger.close();
    }
  });
});

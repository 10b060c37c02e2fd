// The simulator's API versions side by side over real HTTP: which id each version puts in commit, action, replica
// and detail responses, the list filters 2026-05-22 adds and the ones it refuses, 2026-06-23's contract-centric KMS
// routes, the default for a request with no version header, and the 400 for an unknown one (docs/phala-api-versions.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatorHandle, startSimulator } from '../../src/simulator';

// biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON bodies
type Json = any;

const KEY = 'phak_sim_versions';
const COMPOSE = 'services:\n  a:\n    image: busybox\n';
const HASHID = /^cvm_[0-9A-Za-z]+$/;

let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator({ apiKeys: [KEY], timeScale: 0.002 });
});
afterAll(() => sim.close());

async function call(
  version: string | null,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${sim.url}${path}`, {
    ...init,
    headers: {
      'X-API-Key': KEY,
      'Content-Type': 'application/json',
      ...(version ? { 'X-Phala-Version': version } : {}),
    },
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

async function deploy(version: string, name: string, instanceType = 'tdx.small') {
  const compose_file = { docker_compose_file: COMPOSE };
  const p = await call(version, '/cvms/provision', {
    method: 'POST',
    body: JSON.stringify({ name, compose_file, instance_type: instanceType }),
  });
  expect(p.status).toBe(200);
  const commit = await call(version, '/cvms', {
    method: 'POST',
    body: JSON.stringify({ app_id: p.body.app_id, compose_hash: p.body.compose_hash }),
  });
  expect(commit.status).toBe(200);
  return { provision: p.body, commit: commit.body };
}

async function untilRunning(vmUuid: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await call(null, `/cvms/${vmUuid}`)).body.status === 'running') return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${vmUuid} never reached running`);
}

describe.each(['2026-05-22', '2026-06-23'])('X-Phala-Version %s', (version) => {
  it('names the CVM by its hashid in commit, actions, replicas and detail', async () => {
    const { provision, commit } = await deploy(version, `hash-${version.slice(5, 7)}`);
    expect(commit.id).toMatch(HASHID);
    expect(provision.node_id).toBe(provision.teepod_id);
    const detail = (await call(version, `/cvms/${commit.vm_uuid}`)).body;
    expect(detail.id).toBe(commit.id);
    expect(detail).toMatchObject({
      in_progress: expect.any(Boolean),
      manifest_version: '2',
      base_image: expect.any(String),
      logs: expect.any(Object),
      kms_info: { k256_pubkey: expect.stringMatching(/^0x0[23][0-9a-f]{64}$/) },
    });
    await untilRunning(commit.vm_uuid);
    const stop = await call(version, `/cvms/${commit.id}/stop`, { method: 'POST' });
    expect(stop).toMatchObject({ status: 200, body: { id: commit.id, status: 'stopping' } });
    const replica = await call(version, `/cvms/${commit.vm_uuid}/replicas`, {
      method: 'POST',
      body: JSON.stringify({ node_id: null }),
    });
    expect(replica.status).toBe(200);
    expect(replica.body.id).toMatch(HASHID);
    expect(replica.body.id).not.toBe(commit.id);
    const again = await call(version, '/cvms', {
      method: 'POST',
      body: JSON.stringify({ app_id: provision.app_id, compose_hash: provision.compose_hash }),
    });
    expect(again.body.id).toBe(commit.id);
  });

  it('filters the list by family and instance_types and refuses the removed filters, naming them', async () => {
    await deploy(version, `medium-${version.slice(5, 7)}`, 'tdx.medium');
    const medium = (await call(version, '/cvms/paginated?instance_types=tdx.medium')).body;
    expect(medium.items.length).toBeGreaterThan(0);
    expect(medium.items.every((c: Json) => c.resource.instance_type === 'tdx.medium')).toBe(true);
    const both = (await call(version, '/cvms/paginated?instance_types=tdx.medium&instance_types=tdx.small')).body;
    expect(both.total).toBeGreaterThan(medium.total);
    expect((await call(version, '/cvms/paginated?family=gpu')).body.total).toBe(0);
    expect((await call(version, '/cvms/paginated?family=cpu')).body.total).toBe(both.total);
    for (const removed of ['node_id', 'teepod_id', 'user_id']) {
      const res = await call(version, `/cvms/paginated?${removed}=1`);
      expect(res.status).toBe(422);
      expect(res.body.detail[0].loc).toEqual(['query', removed]);
    }
    const badFamily = await call(version, '/cvms/paginated?family=tpu');
    expect(badFamily.status).toBe(422);
    expect(badFamily.body.detail[0].loc).toEqual(['query', 'family']);
  });
});

describe('versions before 2026-05-22', () => {
  it('keep integer ids in commit and actions, and the node_id list filter', async () => {
    const { commit } = await deploy('2026-01-21', 'int-ids');
    expect(typeof commit.id).toBe('number');
    const detail = (await call('2026-01-21', `/cvms/${commit.vm_uuid}`)).body;
    expect(detail.id).toMatch(HASHID);
    expect(detail).not.toHaveProperty('in_progress');
    const stop = await call('2026-01-21', `/cvms/${commit.vm_uuid}/stop`, { method: 'POST' });
    expect(stop.body.id).toBe(commit.id);
    expect((await call('2026-01-21', '/cvms/paginated?node_id=999')).body.total).toBe(0);
  });

  it('a request without the header gets 2026-01-21; an unknown version gets a 400 naming the supported ones', async () => {
    const { commit } = await deploy('2026-01-21', 'no-header');
    const stop = await call(null, `/cvms/${commit.vm_uuid}/stop`, { method: 'POST' });
    expect(typeof stop.body.id).toBe('number');
    const bad = await call('2026-07-01', '/cvms');
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toBe(
      "Unsupported API version '2026-07-01'; supported: 2025-10-28, 2026-01-21, 2026-05-22, 2026-06-23",
    );
  });
});

describe('KMS', () => {
  it('lists KMS nodes up to 2026-05-22 and KMS contracts from 2026-06-23, addressed by id, slug or address', async () => {
    const nodes = (await call('2026-05-22', '/kms')).body;
    expect(nodes.items[0]).toMatchObject({ id: expect.stringMatching(/^kms_/), url: expect.any(String) });
    const contracts = (await call('2026-06-23', '/kms')).body;
    expect(contracts).toMatchObject({ total: 1, page: 1, pages: 1 });
    const phala = contracts.items[0];
    expect(phala).toEqual({
      id: expect.stringMatching(/^kc_/),
      slug: 'phala',
      label: 'Phala KMS',
      contract_address: 'phala',
      chain_id: 0,
      k256_pubkey: expect.stringMatching(/^0x0[23]/),
      ca_pubkey: null,
      node_count: 1,
    });
    for (const ident of [phala.id, 'phala', 'PHALA']) {
      expect((await call('2026-06-23', `/kms/${ident}`)).body).toEqual(phala);
    }
    expect((await call('2026-06-23', '/kms/kc_nope')).status).toBe(404);
    expect((await call('2026-06-23', '/kms?is_onchain=true')).body.total).toBe(0);
    expect((await call('2026-05-22', `/kms/${nodes.items[0].id}`)).body).toEqual(nodes.items[0]);
  });
});

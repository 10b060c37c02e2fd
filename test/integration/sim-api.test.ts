// API behaviour over real HTTP: provision validation with the structured ERR codes, commit idempotency and
// conflicts, env checks against allowed_envs, busy 409s, stop cancelling, delete visibility, identifier forms,
// replicas, compose / env updates, and isolation between API keys.
import {
  commitCvmComposeFileUpdate,
  createClient,
  encryptEnvVars,
  getCvmComposeFile,
  patchCvm,
  provisionCvmComposeFileUpdate,
  updateCvmEnvs,
} from '@phala/cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatorHandle, startSimulator } from '../../src/simulator';

const KEY = 'phak_sim_api';
const OTHER_KEY = 'phak_sim_api_other';
const COMPOSE = 'services:\n  a:\n    image: busybox\n';

let sim: SimulatorHandle;

beforeAll(async () => {
  // Deletion lingers 200 ms so the `deleting` window is observable without racing the clock.
  sim = await startSimulator({ apiKeys: [KEY, OTHER_KEY], timeScale: 0.002, delays: { delete: 100_000 } });
});
afterAll(() => sim.close());

async function call(method: string, path: string, body?: unknown, opts: { key?: string; version?: string } = {}) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: {
      'X-API-Key': opts.key ?? KEY,
      'Content-Type': 'application/json',
      ...(opts.version ? { 'X-Phala-Version': opts.version } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, requestId: res.headers.get('x-request-id') };
}

async function provision(name: string, compose: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return call('POST', '/cvms/provision', {
    name,
    compose_file: { docker_compose_file: COMPOSE, ...compose },
    ...extra,
  });
}

async function deploy(name: string, compose: Record<string, unknown> = {}) {
  const p = (await provision(name, compose)).body;
  const c = await call('POST', '/cvms', { app_id: p.app_id, compose_hash: p.compose_hash });
  expect(c.status).toBe(200);
  return {
    vm: c.body.vm_uuid as string,
    appId: p.app_id as string,
    hash: p.compose_hash as string,
    pubkey: p.app_env_encrypt_pubkey as string,
  };
}

const view = (vm: string) => sim.cvms({ includeDeleted: true }).find((c) => c.vmUuid === vm)!;
const until = (vm: string, status: string) =>
  expect.poll(() => view(vm).status, { interval: 5, timeout: 5000 }).toBe(status);

describe('provision', () => {
  it('answers the structured ERR codes and FastAPI 422s', async () => {
    const expectCode = async (pending: ReturnType<typeof call>, status: number, code: string) => {
      const res = await pending;
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ error_code: code, message: expect.any(String), request_id: res.requestId });
      return res.body;
    };
    await expectCode(call('POST', '/cvms/provision', { name: 'no-compose' }), 400, 'ERR-01-002');
    await expectCode(provision('bad-yaml', { docker_compose_file: 'services: [unclosed' }), 400, 'ERR-01-003');
    await expectCode(provision('node-gone', {}, { teepod_id: 99 }), 400, 'ERR-01-001');
    await expectCode(provision('bad-size', {}, { instance_type: 'tdx.huge' }), 400, 'ERR-02-001');
    await expectCode(provision('bad-image', {}, { image: 'dstack-9.9.9' }), 400, 'ERR-02-010');
    const onchain = await expectCode(provision('chain-app', {}, { kms: 'BASE' }), 400, 'ERR-02-009');
    expect(onchain.message).toContain('not supported in this simulator configuration');
    const badName = await call('POST', '/cvms/provision', {
      name: '1bad',
      compose_file: { docker_compose_file: COMPOSE },
    });
    expect(badName.status).toBe(422);
    expect(badName.body.detail[0].loc).toEqual(['body', 'name']);
    const missing = await call('POST', '/cvms/provision', { compose_file: { docker_compose_file: COMPOSE } });
    expect(missing.body.detail[0]).toMatchObject({ loc: ['body', 'name'], type: 'missing' });
    await deploy('taken-name');
    await expectCode(provision('taken-name'), 409, 'ERR-01-004');
  });

  it('accepts kms case-insensitively and returns the same app for the same compose (7-day cache)', async () => {
    const a = await provision('cache-app', {}, { kms: 'phala' });
    const b = await provision('cache-app', { allowed_envs: [] }, { kms: 'PHALA' });
    expect(a.status).toBe(200);
    expect(b.body).toEqual(a.body);
    expect(a.body.kms_info).toMatchObject({ chain_id: null, kms_contract_address: null, gateway_app_id: null });
  });
});

describe('commit', () => {
  it('is idempotent on (app_id, compose_hash), 409 ERR-03-007 on another hash, 400 on an unknown hash', async () => {
    const { appId, hash, vm } = await deploy('idem-app');
    const again = await call('POST', '/cvms', { app_id: `0x${appId.toUpperCase()}`, compose_hash: hash });
    expect(again.body.vm_uuid).toBe(vm);
    const other = (await provision('idem-other')).body;
    const conflict = await call('POST', '/cvms', { app_id: appId, compose_hash: other.compose_hash });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error_code).toBe('ERR-03-007');
    const unknown = await call('POST', '/cvms', { app_id: other.app_id, compose_hash: 'f'.repeat(64) });
    expect(unknown.status).toBe(400);
    expect(unknown.body.detail).toMatch(/Provision data not found or expired/);
    expect(sim.cvms().filter((c) => c.appId === appId)).toHaveLength(1);
  });

  it('decrypts encrypted_env with the app key and rejects keys outside allowed_envs', async () => {
    const p = (await provision('env-app', { allowed_envs: ['FOO'] })).body;
    const bad = await encryptEnvVars(
      [
        { key: 'FOO', value: '1' },
        { key: 'SECRET', value: '2' },
      ],
      p.app_env_encrypt_pubkey,
    );
    const rejected = await call('POST', '/cvms', {
      app_id: p.app_id,
      compose_hash: p.compose_hash,
      encrypted_env: bad,
    });
    expect(rejected.status).toBe(400);
    expect(rejected.body).toMatchObject({ error_code: 'ERR-02-008', message: expect.stringContaining('SECRET') });
    expect(rejected.body.details[0]).toMatchObject({ field: 'encrypted_env', value: ['SECRET'] });
    const garbage = await call('POST', '/cvms', {
      app_id: p.app_id,
      compose_hash: p.compose_hash,
      encrypted_env: 'ab'.repeat(80),
    });
    expect(garbage.status).toBe(400);
    expect(garbage.body.message).toMatch(/cannot be decrypted/);
    const good = await encryptEnvVars([{ key: 'FOO', value: '1' }], p.app_env_encrypt_pubkey);
    const ok = await call('POST', '/cvms', { app_id: p.app_id, compose_hash: p.compose_hash, encrypted_env: good });
    expect(ok.status).toBe(200);
    expect(view(ok.body.vm_uuid).envKeys).toEqual(['FOO']);
  });
});

describe('lifecycle', () => {
  it('answers 409 while busy, lets stop cancel, and reports progress consistently in both versions', async () => {
    // Held in `starting` until stopped, so the busy window cannot close under a slow test machine.
    sim.addFaults({ cvms: [{ cvm: 'busy-app', neverReachTarget: true, count: 1 }] });
    const { vm } = await deploy('busy-app');
    expect(await call('POST', `/cvms/${vm}/start`)).toMatchObject({
      status: 409,
      body: { detail: 'Another operation is in progress' },
    });
    expect((await call('POST', `/cvms/${vm}/restart`, { force: false })).status).toBe(409);
    const v2 = (await call('GET', `/cvms/${vm}`)).body;
    const v1 = (await call('GET', `/cvms/${vm}`, undefined, { version: '2025-10-28' })).body;
    const batch = (await call('POST', '/status/batch', { vm_uuids: [vm] })).body[vm];
    expect(v2.progress).toMatchObject({ target: 'running', correlation_id: view(vm).operation!.correlationId });
    expect(v2).not.toHaveProperty('in_progress');
    expect(v1.in_progress).toBe(true);
    expect(batch).toMatchObject({
      in_progress: true,
      operation_type: 'create',
      correlation_id: v2.progress.correlation_id,
    });

    const stop = await call('POST', `/cvms/${vm}/stop`);
    expect(stop.body).toMatchObject({ status: 'stopping', id: expect.any(Number), teepod_id: view(vm).nodeId });
    await until(vm, 'stopped');
    expect(view(vm).history.map((h) => h.status)).not.toContain('running');
    const after = (await call('GET', `/cvms/${vm}`)).body;
    expect(after.progress).toBeNull();
    expect((await call('POST', `/cvms/${vm}/stop`)).body.status).toBe('stopped');
  });

  it('deletes with 204, shows the CVM as deleting, then 404', async () => {
    const { vm } = await deploy('delete-app');
    const del = await call('DELETE', `/cvms/${vm}`);
    expect(del.status).toBe(204);
    expect(del.body).toBeUndefined();
    expect((await call('GET', `/cvms/${vm}`)).body.status).toBe('deleting');
    expect((await call('POST', `/cvms/${vm}/start`)).status).toBe(409);
    await expect.poll(async () => (await call('GET', `/cvms/${vm}`)).status, { interval: 5, timeout: 5000 }).toBe(404);
    expect((await call('GET', `/cvms/${vm}`)).body).toEqual({ detail: 'CVM not found' });
  });

  it('resolves every identifier form, and reports ambiguity once replicated', async () => {
    const { vm, appId } = await deploy('ident-app');
    const detail = (await call('GET', `/cvms/${vm}`, undefined, { version: '2025-10-28' })).body;
    const hashid = (await call('GET', `/cvms/${vm}`)).body.id;
    const forms = [
      vm.replace(/-/g, ''),
      `app_${appId}`,
      appId,
      `0x${appId}`,
      hashid,
      String(detail.id),
      `instance_${detail.instance_id}`,
      'ident-app',
    ];
    for (const form of forms) expect((await call('GET', `/cvms/${form}`)).body.vm_uuid).toBe(vm);
    await until(vm, 'running');
    const replica = await call('POST', `/cvms/app_${appId}/replicas`, {});
    expect(replica.body).toMatchObject({ app_id: appId, name: 'ident-app', teepod_id: view(vm).nodeId });
    const ambiguous = await call('GET', `/cvms/app_${appId}`);
    expect(ambiguous).toMatchObject({ status: 400, body: { error_code: 'ERR-03-010' } });
    expect((await call('GET', '/cvms/ident-app')).body.error_code).toBe('ERR-03-002');
    expect((await call('GET', `/cvms/${replica.body.vm_uuid}`)).status).toBe(200);
  });
});

describe('replicas', () => {
  it('needs the image on the target node (ERR-03-006) and checks app ownership on the app-scoped route', async () => {
    const { vm, appId } = await deploy('replica-app');
    const noImage = await call('POST', `/cvms/${vm}/replicas`, { node_id: 3 });
    expect(noImage).toMatchObject({ status: 400, body: { error_code: 'ERR-03-006' } });
    expect((await call('POST', `/cvms/${vm}/replicas`, { node_id: 42 })).body.error_code).toBe('ERR-01-001');
    const scoped = await call('POST', `/apps/${appId}/cvms/${vm}/replicas`, { teepod_id: 2 });
    expect(scoped.status).toBe(200);
    expect(scoped.body).toMatchObject({ app_id: appId, teepod_id: 2 });
    expect(view(scoped.body.vm_uuid).composeHash).toBe(view(vm).composeHash);
    const other = await deploy('replica-other');
    expect((await call('POST', `/apps/${other.appId}/cvms/${vm}/replicas`, {})).status).toBe(400);
    const apps = (await call('GET', `/apps/${appId}`)).body;
    expect(apps.cvm_count).toBe(2);
    expect((await call('GET', `/apps/${appId}/cvms`)).body).toHaveLength(2);
  });
});

describe('updates', () => {
  it('updates the compose (provision + PATCH 202): the CVM restarts on the new compose hash', async () => {
    const { vm, hash } = await deploy('compose-app', { allowed_envs: ['FOO'] });
    await until(vm, 'running');
    const client = createClient({ baseURL: sim.url, apiKey: KEY });
    const current = await getCvmComposeFile(client, { id: vm });
    const next = {
      ...current,
      docker_compose_file: `${COMPOSE}  b:\n    image: redis\n`,
      allowed_envs: ['FOO', 'BAR'],
    };
    const prov = await provisionCvmComposeFileUpdate(client, { id: vm, app_compose: next });
    expect(prov.compose_hash).not.toBe(hash);
    const pubkey = (await call('GET', `/cvms/${vm}`)).body.kms_info.encrypted_env_pubkey;
    const env = await encryptEnvVars([{ key: 'BAR', value: 'x' }], pubkey);
    await commitCvmComposeFileUpdate(client, {
      id: vm,
      compose_hash: prov.compose_hash,
      encrypted_env: env,
      env_keys: ['BAR'],
    });
    expect(view(vm).history.map((h) => h.status)).toContain('updating');
    expect((await call('POST', `/cvms/${vm}/restart`, {})).status).toBe(409);
    await until(vm, 'running');
    expect(
      view(vm)
        .history.slice(-3)
        .map((h) => h.status),
    ).toEqual(['updating', 'restarting', 'running']);
    expect(view(vm).composeHash).toBe(prov.compose_hash);
    expect((await getCvmComposeFile(client, { id: vm })).allowed_envs).toEqual(['FOO', 'BAR']);
    const stale = await call('PATCH', `/cvms/${vm}/compose_file`, { compose_hash: 'e'.repeat(64) });
    expect(stale.status).toBe(400);
  });

  it('updates envs (PATCH /envs 202) and reports allowed_envs changes', async () => {
    const { vm, pubkey, hash } = await deploy('envs-app', { allowed_envs: ['FOO'] });
    await until(vm, 'running');
    const client = createClient({ baseURL: sim.url, apiKey: KEY });
    const same = await updateCvmEnvs(client, {
      id: vm,
      encrypted_env: await encryptEnvVars([{ key: 'FOO', value: '2' }], pubkey),
    });
    expect(same).toMatchObject({
      status: 'in_progress',
      allowed_envs_changed: false,
      correlation_id: view(vm).operation!.correlationId,
    });
    expect(
      (
        await call('PATCH', `/cvms/${vm}/envs`, {
          encrypted_env: await encryptEnvVars([{ key: 'FOO', value: '3' }], pubkey),
        })
      ).status,
    ).toBe(409);
    await until(vm, 'running');
    expect(view(vm).composeHash).toBe(hash);
    const wider = await updateCvmEnvs(client, {
      id: vm,
      encrypted_env: await encryptEnvVars([{ key: 'NEW', value: '1' }], pubkey),
      env_keys: ['FOO', 'NEW'],
    });
    expect(wider).toMatchObject({ status: 'in_progress', allowed_envs_changed: true });
    expect(view(vm).composeHash).not.toBe(hash);
    expect(view(vm).envKeys).toEqual(['FOO', 'NEW']);
  });
});

describe('unified PATCH /cvms/{id}', () => {
  it('applies compose, env and size changes in one request (202 {correlation_id}), restarting the CVM', async () => {
    const { vm, hash, pubkey } = await deploy('patch-app', { allowed_envs: ['FOO'] });
    await until(vm, 'running');
    const client = createClient({ baseURL: sim.url, apiKey: KEY });
    const result = await patchCvm(client, {
      id: vm,
      docker_compose_file: `${COMPOSE}  b:\n    image: redis\n`,
      allowed_envs: ['FOO', 'BAR'],
      encrypted_env: await encryptEnvVars([{ key: 'BAR', value: '1' }], pubkey),
      vcpu: 2,
    });
    expect(result).toEqual({ requiresOnChainHash: false, correlationId: view(vm).operation!.correlationId });
    expect(view(vm).composeHash).not.toBe(hash);
    expect(view(vm).envKeys).toEqual(['BAR']);
    await until(vm, 'running');
    expect((await call('GET', `/cvms/${vm}`)).body.resource).toMatchObject({ vcpu: 2, instance_type: null });
    expect((await call('PATCH', `/cvms/${vm}`, {})).status).toBe(400);
  });
});

describe('workspaces', () => {
  it('keeps each API key’s CVMs invisible to the others', async () => {
    const { vm, appId } = await deploy('private-app');
    expect((await call('GET', `/cvms/${vm}`, undefined, { key: OTHER_KEY })).status).toBe(404);
    expect((await call('GET', `/apps/${appId}`, undefined, { key: OTHER_KEY })).status).toBe(404);
    expect((await call('GET', '/cvms/paginated', undefined, { key: OTHER_KEY })).body).toMatchObject({
      items: [],
      total: 0,
    });
    expect((await call('POST', '/status/batch', { vm_uuids: [vm] }, { key: OTHER_KEY })).body).toEqual({});
    expect((await call('GET', '/auth/me', undefined, { key: OTHER_KEY })).body.user.username).toBe('sim-user-2');
  });
});

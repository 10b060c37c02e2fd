// Conformance: the official SDK @phala/cloud 0.2.9, unchanged, drives the whole CVM lifecycle against the
// simulator over real HTTP and SSE, under both API versions. After each step the simulator's own view is checked.
import {
  commitCvmProvision,
  createClient,
  deleteCvm,
  encryptEnvVars,
  getAppCvms,
  getAppEnvEncryptPubKey,
  getAppInfo,
  getAppList,
  getAvailableNodes,
  getCurrentUser,
  getCvmComposeFile,
  getCvmInfo,
  getCvmList,
  getCvmState,
  getCvmStatusBatch,
  getKmsList,
  listAllInstanceTypeFamilies,
  listFamilyInstanceTypes,
  provisionCvm,
  replicateCvm,
  restartCvm,
  startCvm,
  stopCvm,
  verifyEnvEncryptPublicKey,
  watchCvmState,
} from '@phala/cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatorHandle, startSimulator } from '../../src/simulator';

const KEY = 'phak_sim_sdk_conformance';
const COMPOSE = 'services:\n  web:\n    image: nginx:1.27\n    environment:\n      - FOO\n';

let sim: SimulatorHandle;

beforeAll(async () => {
  // 0.002: a 30 s boot takes 60 ms, a 5 s SSE interval 10 ms.
  // Creation and deletion are stretched so the transient `creating` / `deleting` states are observable.
  sim = await startSimulator({ apiKeys: [KEY], timeScale: 0.002, delays: { create: 50_000, delete: 100_000 } });
});
afterAll(() => sim.close());

const view = (vmUuid: string) => sim.cvms({ includeDeleted: true }).find((c) => c.vmUuid === vmUuid)!;
const statuses = (vmUuid: string) => view(vmUuid).history.map((h) => h.status);

async function waitFor(vmUuid: string, client: ReturnType<typeof createClient>, target: string) {
  return watchCvmState(client, { id: vmUuid, target, interval: 5, timeout: 60, maxRetries: 3, retryDelay: 10 });
}

describe.each(['2026-01-21', '2025-10-28'] as const)('@phala/cloud 0.2.9 with X-Phala-Version %s', (version) => {
  it('provisions, commits with an SDK-encrypted env, watches, stops, starts, restarts, replicates and deletes', async () => {
    const client = createClient({ baseURL: sim.url, apiKey: KEY, version });
    const name = `sdk-${version.replace(/-/g, '')}`;

    const nodes = await getAvailableNodes(client);
    expect(nodes.nodes.map((n) => n.teepod_id)).toEqual([1, 2, 3]);
    expect(nodes.kms_list[0]?.chain_id).toBeNull();

    const before = sim.cvms().length;
    const provision = await provisionCvm(client, {
      name,
      compose_file: { docker_compose_file: COMPOSE, allowed_envs: ['FOO'] },
      node_id: 1,
    });
    expect(provision.app_id).toMatch(/^[0-9a-f]{40}$/);
    expect(provision.app_env_encrypt_pubkey).toMatch(/^[0-9a-f]{64}$/);
    expect(provision.compose_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(provision.node_id).toBe(1);
    expect(sim.cvms()).toHaveLength(before);

    const encrypted_env = await encryptEnvVars([{ key: 'FOO', value: 'bar' }], provision.app_env_encrypt_pubkey!);
    const committed = await commitCvmProvision(client, {
      app_id: provision.app_id!,
      compose_hash: provision.compose_hash,
      encrypted_env,
      env_keys: ['FOO'],
    });
    expect(committed.status).toBe('creating');
    const vmUuid = committed.vm_uuid!;
    expect(view(vmUuid)).toMatchObject({ status: 'creating', composeHash: provision.compose_hash, envKeys: ['FOO'] });
    expect(view(vmUuid).operation?.kind).toBe('create');

    // Committing the same (app_id, compose_hash) again is idempotent: the same CVM, no second one.
    const again = await commitCvmProvision(client, { app_id: provision.app_id!, compose_hash: provision.compose_hash });
    expect(again.vm_uuid).toBe(vmUuid);

    const running = await waitFor(vmUuid, client, 'running');
    expect(running).toMatchObject({ status: 'running', name });
    expect(view(vmUuid).status).toBe('running');
    expect(statuses(vmUuid)).toEqual(['creating', 'starting', 'running']);

    const info = await getCvmInfo(client, { id: vmUuid });
    expect(info.status).toBe('running');
    expect(info.name).toBe(name);
    if (version === '2026-01-21') {
      expect(info.id).toMatch(/^cvm_/);
      expect(info).toHaveProperty('progress', null);
    } else {
      expect(typeof info.id).toBe('number');
      expect(info).toHaveProperty('in_progress', false);
    }
    const state = await getCvmState(client, { id: vmUuid });
    expect(state).toMatchObject({ status: 'running', name });

    const stopped = await stopCvm(client, { id: vmUuid });
    expect(stopped.status).toBe('stopping');
    // Either still stopping (its operation targets `stopped`) or, on a loaded machine, already there.
    const afterStop = view(vmUuid);
    expect(afterStop.operation ? afterStop.operation.target : afterStop.status).toBe('stopped');
    await waitFor(vmUuid, client, 'stopped');
    expect(view(vmUuid)).toMatchObject({ status: 'stopped', operation: null });

    const started = await startCvm(client, { id: vmUuid });
    expect(started.status).toBe('starting');
    await waitFor(vmUuid, client, 'running');
    expect(view(vmUuid).status).toBe('running');

    const restarted = await restartCvm(client, { id: vmUuid, force: true });
    expect(restarted.status).toBe('restarting');
    await waitFor(vmUuid, client, 'running');
    expect(statuses(vmUuid).slice(-2)).toEqual(['restarting', 'running']);

    const replica = await replicateCvm(client, { id: vmUuid, node_id: 2 });
    expect(replica.app_id).toBe(provision.app_id);
    expect(replica.vm_uuid).not.toBe(vmUuid);
    expect(replica.teepod_id).toBe(2);
    await waitFor(replica.vm_uuid!, client, 'running');
    expect(view(replica.vm_uuid!)).toMatchObject({ status: 'running', composeHash: provision.compose_hash, nodeId: 2 });

    const batch = await getCvmStatusBatch(client, { vmUuids: [vmUuid, replica.vm_uuid!] });
    expect(Object.values(batch).map((s) => [s.status, s.in_progress])).toEqual([
      ['running', false],
      ['running', false],
    ]);
    const appCvms = await getAppCvms(client, { appId: provision.app_id! });
    expect(appCvms).toHaveLength(2);
    const app = await getAppInfo(client, { appId: provision.app_id! });
    expect(app.cvm_count).toBe(2);

    await deleteCvm(client, { id: replica.vm_uuid! });
    expect(view(replica.vm_uuid!).status).toBe('deleting');
    await expect.poll(() => view(replica.vm_uuid!).deleted, { interval: 10, timeout: 5000 }).toBe(true);
    await expect(getCvmInfo(client, { id: replica.vm_uuid! })).rejects.toMatchObject({ status: 404 });
    expect(statuses(replica.vm_uuid!).slice(-2)).toEqual(['deleting', 'deleted']);

    await deleteCvm(client, { id: vmUuid });
    await expect.poll(() => view(vmUuid).deleted, { interval: 10, timeout: 5000 }).toBe(true);
  });

  it('parses every read endpoint the SDK validates (lists, apps, KMS, instance types, current user)', async () => {
    const client = createClient({ baseURL: sim.url, apiKey: KEY, version });
    const name = `reads-${version.replace(/-/g, '')}`;
    const provision = await provisionCvm(client, { name, compose_file: { docker_compose_file: COMPOSE } });
    const cvm = await commitCvmProvision(client, { app_id: provision.app_id!, compose_hash: provision.compose_hash });

    const list = await getCvmList(client, { page: 1, page_size: 10 });
    expect(list.items.length).toBeGreaterThan(0);
    const apps = await getAppList(client, { page_size: 100 });
    expect(apps.dstack_apps.some((a) => a.app_id === provision.app_id)).toBe(true);
    const compose = await getCvmComposeFile(client, { id: cvm.vm_uuid! });
    expect(compose.getHash).toBeTypeOf('function');
    expect(compose.docker_compose_file).toBe(COMPOSE);

    const user = await getCurrentUser(client);
    expect(JSON.stringify(user)).toContain('sim-user-1');
    const kms = await getKmsList(client);
    expect(kms.items).toHaveLength(1);
    const families = await listAllInstanceTypeFamilies(client);
    expect(families.result[0]?.items.some((t) => t.id === 'tdx.small')).toBe(true);
    const cpu = await listFamilyInstanceTypes(client, { family: 'cpu' });
    expect(cpu.family).toBe('cpu');

    const pub = await getAppEnvEncryptPubKey(client, { kms: kms.items[0]!.slug!, app_id: provision.app_id! });
    expect(pub.public_key).toBe(provision.app_env_encrypt_pubkey);
    const signer = verifyEnvEncryptPublicKey(
      Buffer.from(pub.public_key, 'hex'),
      Buffer.from(pub.signature, 'hex'),
      provision.app_id!,
    );
    expect(signer).toMatch(/^0x0[23][0-9a-f]{64}$/);
    await deleteCvm(client, { id: cvm.vm_uuid! });
  });
});

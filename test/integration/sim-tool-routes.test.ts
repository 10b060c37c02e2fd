// The state changes behind the tool routes: a revision redeployed onto other CVMs of the app by vm_uuid keeps each
// CVM's identity; resizes and OS upgrades reboot the CVM (409 while it is busy) and move the attestation registers
// they feed; the pre-launch script of an on-chain-KMS CVM needs its new compose hash approved on chain (465 first);
// bad input answers in the API's error formats, naming the field.
import * as sdk from '@phala/cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_DELAYS, type OnChainVerifier, type SimulatorHandle, startSimulator } from '../../src/simulator';

const KEY = 'phak_sim_tool_routes';
const COMPOSE = 'services:\n  web:\n    image: nginx:1.27\n';

class MemoryChain implements OnChainVerifier {
  readonly chainId = 31337;
  readonly kmsContractAddress = `0x${'5f'.repeat(20)}`;
  readonly hashes = new Set<string>();
  async isAppRegistered() {
    return true;
  }
  async isComposeHashAllowed(appId: string, hash: string) {
    return this.hashes.has(`${appId}/${hash}`);
  }
  async isDeviceAllowed() {
    return true;
  }
}

const chain = new MemoryChain();
let sim: SimulatorHandle;
let client: ReturnType<typeof sdk.createClient>;

beforeAll(async () => {
  // Updates take 300 ms so a request sent right after one reliably finds the CVM busy, even on a loaded machine.
  sim = await startSimulator({ apiKeys: [KEY], delays: { ...FAST_DELAYS, update: 300 }, onChainVerifier: chain });
  client = sdk.createClient({ baseURL: sim.url, apiKey: KEY });
});
afterAll(() => sim.close());

const view = (vmUuid: string) => sim.cvms().find((c) => c.vmUuid === vmUuid)!;
const idle = (vmUuid: string) =>
  expect
    .poll(() => [view(vmUuid).status, view(vmUuid).operation], { interval: 5, timeout: 10_000 })
    .toEqual(['running', null]);

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function deploy(name: string): Promise<{ vmUuid: string; appId: string }> {
  const p = await sdk.provisionCvm(client, { name, compose_file: { docker_compose_file: COMPOSE } });
  const c = await sdk.commitCvmProvision(client, { app_id: p.app_id!, compose_hash: p.compose_hash });
  await idle(c.vm_uuid!);
  return { vmUuid: c.vm_uuid!, appId: p.app_id! };
}

describe('tool routes change state as the real API does', () => {
  it('redeploys a revision onto other CVMs of the app, keeping their identity', async () => {
    const a = await deploy('rev-app');
    const replica = await sdk.replicateCvm(client, { id: a.vmUuid });
    const b = replica.vm_uuid!;
    await idle(b);
    const before = view(b);

    await sdk.updateDockerCompose(client, {
      id: a.vmUuid,
      docker_compose_file: `${COMPOSE}  cache:\n    image: redis:7\n`,
    });
    await idle(a.vmUuid);
    const newHash = view(a.vmUuid).composeHash;
    expect(newHash).not.toBe(before.composeHash);

    const revs = await sdk.getAppRevisions(client, { appId: a.appId });
    const rev = revs.revisions.find((r) => r.compose_hash === newHash && r.vm_uuid === a.vmUuid)!;
    expect(rev).toMatchObject({ operation_type: 'update', cvm: { vm_uuid: a.vmUuid } });

    const foreign = await deploy('other-app');
    const wrong = await api('POST', `/apps/${a.appId}/revisions/${rev.revision_id}/redeploy`, {
      vm_uuids: [foreign.vmUuid],
    });
    expect(wrong).toMatchObject({ status: 400, body: { details: [{ field: 'vm_uuids', value: foreign.vmUuid }] } });

    const ok = await api('POST', `/apps/${a.appId}/revisions/${rev.revision_id}/redeploy`, { vm_uuids: [b] });
    expect(ok).toMatchObject({ status: 202, body: { status: 'in_progress', items: [{ vm_uuid: b }] } });
    const busy = await api('POST', `/apps/${a.appId}/revisions/${rev.revision_id}/redeploy`, { vm_uuids: [b] });
    expect(busy.status).toBe(409);
    await idle(b);
    const after = view(b);
    expect(after).toMatchObject({
      vmUuid: b,
      name: before.name,
      instanceId: before.instanceId,
      hashid: before.hashid,
      composeHash: newHash,
    });
    expect(after.history.slice(-3).map((h) => h.status)).toEqual(['updating', 'restarting', 'running']);
    expect(sim.cvms().filter((c) => c.appId === a.appId)).toHaveLength(2);
  });

  it('reboots on a resize or OS upgrade, 409 while busy, and the attestation follows', async () => {
    const a = await deploy('resize-app');
    const att0 = await sdk.getCvmAttestation(client, { id: a.vmUuid });
    await sdk.updateCvmResources(client, { id: a.vmUuid, vcpu: 2, memory: 4096, allow_restart: true });
    expect(view(a.vmUuid).status).toBe('updating');
    await expect(sdk.updateOsImage(client, { id: a.vmUuid, os_image_name: 'dstack-dev-0.5.3' })).rejects.toMatchObject({
      status: 409,
    });
    await idle(a.vmUuid);
    expect(
      view(a.vmUuid)
        .history.slice(-3)
        .map((h) => h.status),
    ).toEqual(['updating', 'restarting', 'running']);
    const info = await sdk.getCvmInfo(client, { id: a.vmUuid });
    expect(info).toMatchObject({ resource: { vcpu: 2, memory_in_gb: 4 } });
    const att1 = await sdk.getCvmAttestation(client, { id: a.vmUuid });
    expect(att1.tcb_info!.rtmr0).not.toBe(att0.tcb_info!.rtmr0);
    expect(att1.tcb_info!.rtmr3).toBe(att0.tcb_info!.rtmr3);

    await sdk.updateOsImage(client, { id: a.vmUuid, os_image_name: 'dstack-dev-0.5.3' });
    await idle(a.vmUuid);
    const att2 = await sdk.getCvmAttestation(client, { id: a.vmUuid });
    expect(att2.tcb_info!.mrtd).not.toBe(att1.tcb_info!.mrtd);
    const images = await sdk.getAvailableOsImages(client, { id: a.vmUuid });
    expect(images.find((i) => i.dev?.is_current)?.dev?.name).toBe('dstack-dev-0.5.3');
  });

  it('gates the pre-launch script of an on-chain CVM on the chain (465, then 466 / 468, then applied)', async () => {
    const p = await sdk.provisionCvm(client, {
      name: 'chain-script',
      compose_file: { docker_compose_file: COMPOSE },
      kms: 'BASE',
    });
    const appId = 'cd'.repeat(20);
    chain.hashes.add(`${appId}/${p.compose_hash}`);
    const c = await sdk.commitCvmProvision(client, { app_id: `0x${appId}`, compose_hash: p.compose_hash });
    await idle(c.vm_uuid!);
    const script = '#!/bin/sh\necho hello\n';
    const pre = await sdk.updatePreLaunchScript(client, { id: c.vm_uuid!, pre_launch_script: script });
    expect(pre).toMatchObject({ status: 'precondition_required', app_id: appId });
    const hash = (pre as { compose_hash: string }).compose_hash;
    const confirm = (compose_hash: string) =>
      sdk.updatePreLaunchScript(client, {
        id: c.vm_uuid!,
        pre_launch_script: script,
        compose_hash,
        transaction_hash: '0xabc',
      });
    await expect(confirm('ff'.repeat(32))).rejects.toMatchObject({ status: 466 });
    await expect(confirm(hash)).rejects.toMatchObject({ status: 468 });
    chain.hashes.add(`${appId}/${hash}`);
    await expect(confirm(hash)).resolves.toMatchObject({ status: 'in_progress' });
    await idle(c.vm_uuid!);
    expect(view(c.vm_uuid!).composeHash).toBe(hash);
    expect(await sdk.getCvmPreLaunchScript(client, { id: c.vm_uuid! })).toBe(script);
  });

  it('answers bad input in the API error formats, naming the field', async () => {
    const a = await deploy('bad-input-app');
    const shrink = await api('PATCH', `/cvms/${a.vmUuid}/resources`, { disk_size: 1 });
    expect(shrink).toMatchObject({ status: 400, body: { details: [{ field: 'disk_size' }] } });
    const vis = await api('PATCH', `/cvms/${a.vmUuid}/visibility`, { public_sysinfo: true });
    expect(vis).toMatchObject({ status: 422, body: { detail: [{ loc: ['body', 'public_logs'], type: 'missing' }] } });
    const key = await api('POST', '/user/ssh-keys', { name: 'x', public_key: 'not a key' });
    expect(key).toMatchObject({ status: 422, body: { detail: [{ loc: ['body', 'public_key'] }] } });
    const image = await api('PATCH', `/cvms/${a.vmUuid}/os-image`, { os_image_name: 'dstack-9.9.9' });
    expect(image).toMatchObject({ status: 400, body: { details: [{ field: 'os_image_name' }] } });
    const compose = await api('PATCH', `/cvms/${a.vmUuid}/docker-compose`, { docker_compose_file: 'services: [' });
    expect(compose).toMatchObject({ status: 400, body: { error_code: 'ERR-01-003' } });
    const next = await api('GET', '/kms/phala/next_app_id?counts=21');
    expect(next).toMatchObject({ status: 422, body: { detail: [{ loc: ['query', 'counts'] }] } });
    expect(view(a.vmUuid).history.some((h) => h.op === 'update')).toBe(false);
  });

  it('lists the nodes of a KMS contract and the KMS contracts of a chain', async () => {
    const nodes = await api('GET', '/kms/onchain-sim/nodes');
    expect(nodes).toMatchObject({
      status: 200,
      body: { total: 1, items: [{ slug: 'onchain-sim', kms_type: 'ethereum' }] },
    });
    expect((await api('GET', '/kms/nope/nodes')).status).toBe(404);
    const detail = await sdk.getKmsOnChainDetail(client, { chain: '31337' });
    expect(detail).toMatchObject({ chain_name: 'anvil', contracts: [{ contract_address: chain.kmsContractAddress }] });
    expect(await sdk.getKmsOnChainDetail(client, { chain: 'base' })).toMatchObject({ chain_id: 8453, contracts: [] });
  });

  it('prepares an on-chain update without applying it, and commits it once with its token', async () => {
    const p = await sdk.provisionCvm(client, {
      name: 'multisig-app',
      compose_file: { docker_compose_file: COMPOSE },
      kms: 'BASE',
    });
    const appId = 'ef'.repeat(20);
    chain.hashes.add(`${appId}/${p.compose_hash}`);
    const c = await sdk.commitCvmProvision(client, { app_id: `0x${appId}`, compose_hash: p.compose_hash });
    await idle(c.vm_uuid!);
    const id = c.vm_uuid!;
    const prep = await sdk.patchCvm(client, { id, public_sysinfo: false, prepareOnly: true });
    expect(prep).toMatchObject({ requiresOnChainHash: true, commitToken: expect.any(String) });
    const { composeHash: hash, commitToken } = prep as { composeHash: string; commitToken: string };
    expect(view(id).composeHash).toBe(p.compose_hash);
    const commit = (token: string, composeHash = hash) =>
      sdk.commitCvmUpdate(client, { id, token, composeHash, transactionHash: '0xabc' });
    await expect(commit('forged')).rejects.toMatchObject({ status: 400 });
    await expect(commit(commitToken, 'aa'.repeat(32))).rejects.toMatchObject({ status: 466 });
    await expect(commit(commitToken)).rejects.toMatchObject({ status: 468 });
    chain.hashes.add(`${appId}/${hash}`);
    await expect(commit(commitToken)).resolves.toMatchObject({ status: 'in_progress' });
    await idle(id);
    expect(view(id).composeHash).toBe(hash);
    await expect(commit(commitToken)).rejects.toMatchObject({ status: 400 });
  });

  it('sets the listing flag and renames without touching the running CVM', async () => {
    const a = await deploy('meta-app');
    await deploy('taken-name');
    const before = view(a.vmUuid).history.length;
    const listed = await api('PATCH', `/cvms/${a.vmUuid}/listed`, { listed: false });
    expect(listed).toMatchObject({ status: 200, body: { vm_uuid: a.vmUuid, status: 'running' } });
    expect((await sdk.getCvmInfo(client, { id: a.vmUuid })) as { listed: boolean }).toMatchObject({ listed: false });
    const hashid = view(a.vmUuid).hashid;
    expect((await api('PATCH', `/cvms/${hashid}/name`, { name: 'taken-name' })).body).toEqual({
      detail: 'CVM name "taken-name" is already in use in this workspace',
    });
    expect((await api('PATCH', `/cvms/${hashid}/name`, { name: '9bad' })).status).toBe(422);
    const res = await fetch(`${sim.url}/cvms/${hashid}/name`, {
      method: 'PATCH',
      headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'meta-app-renamed' }),
    });
    expect(res.status).toBe(204);
    expect(view(a.vmUuid)).toMatchObject({ name: 'meta-app-renamed', status: 'running' });
    expect(view(a.vmUuid).history.length).toBe(before);
  });
});

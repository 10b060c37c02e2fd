// The on-chain KMS hook: with an OnChainVerifier configured (here an in-memory stand-in for the DstackKms /
// DstackApp contracts), provision with kms BASE follows the real flow (app_id null, chain id + KMS contract), the
// KMS pubkey endpoint signs like the real KMS, and commit / env updates / replicas are gated on the verifier.
import {
  commitCvmProvision,
  confirmCvmPatch,
  createClient,
  encryptEnvVars,
  getAppEnvEncryptPubKey,
  getAvailableNodes,
  getCvmInfo,
  patchCvm,
  provisionCvm,
  replicateCvm,
  updateCvmEnvs,
  verifyEnvEncryptPublicKey,
} from '@phala/cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OnChainVerifier, type SimulatorHandle, startSimulator } from '../../src/simulator';

const KEY = 'phak_sim_onchain';
const COMPOSE = 'services:\n  a:\n    image: busybox\n';

class MemoryChain implements OnChainVerifier {
  readonly chainId = 31337;
  readonly kmsContractAddress = `0x${'5f'.repeat(20)}`;
  readonly rpcEndpoint = 'http://127.0.0.1:8545';
  readonly apps = new Set<string>();
  readonly hashes = new Set<string>();
  readonly devices = new Set<string>();
  async isAppRegistered(appId: string) {
    return this.apps.has(appId);
  }
  async isComposeHashAllowed(appId: string, hash: string) {
    return this.hashes.has(`${appId}/${hash}`);
  }
  async isDeviceAllowed(appId: string, deviceId: string) {
    return this.devices.has(`${appId}/${deviceId}`);
  }
}

const chain = new MemoryChain();
let sim: SimulatorHandle;

beforeAll(async () => {
  sim = await startSimulator({ apiKeys: [KEY], timeScale: 0.002, onChainVerifier: chain });
});
afterAll(() => sim.close());

describe('on-chain KMS through an OnChainVerifier', () => {
  it('provisions, signs the env key, and gates commit, env updates and replicas on the chain', async () => {
    const client = createClient({ baseURL: sim.url, apiKey: KEY });
    const prov = await provisionCvm(client, {
      name: 'chain-app',
      compose_file: { docker_compose_file: COMPOSE, allowed_envs: ['FOO'] },
      kms: 'BASE',
      node_id: 1,
    });
    expect(prov.app_id).toBeNull();
    expect(prov.kms_info).toMatchObject({ chain_id: 31337, kms_contract_address: chain.kmsContractAddress });
    expect((prov.kms_info as { chain?: { id: number } }).chain?.id).toBe(31337);
    expect(prov.device_id).toMatch(/^[0-9a-f]{64}$/);

    // The CLI deploys the app contract, then fetches the env key for the new address (checksummed here).
    const appHex = 'ab'.repeat(20);
    const address = `0x${'Ab'.repeat(20)}`;
    const pub = await getAppEnvEncryptPubKey(client, { kms: prov.kms_info!.slug!, app_id: address });
    expect(
      verifyEnvEncryptPublicKey(Buffer.from(pub.public_key, 'hex'), Buffer.from(pub.signature, 'hex'), address),
    ).toMatch(/^0x0[23]/);
    const encrypted_env = await encryptEnvVars([{ key: 'FOO', value: '1' }], pub.public_key);
    const commit = () =>
      commitCvmProvision(client, {
        app_id: address,
        compose_hash: prov.compose_hash,
        encrypted_env,
        contract_address: address,
      });

    await expect(commit()).rejects.toMatchObject({ status: 400, errorCode: 'ERR-01-005' });
    chain.apps.add(appHex);
    await expect(commit()).rejects.toMatchObject({
      status: 400,
      errorCode: 'ERR-01-008',
      message: expect.stringContaining('Compose hash'),
    });
    chain.hashes.add(`${appHex}/${prov.compose_hash}`);
    await expect(commit()).rejects.toMatchObject({
      status: 400,
      errorCode: 'ERR-01-008',
      message: expect.stringContaining('Device'),
    });
    chain.devices.add(`${appHex}/${prov.device_id}`);
    const cvm = await commit();
    expect(cvm.app_id).toBe(appHex);
    await expect.poll(() => sim.cvms()[0]?.status, { interval: 5, timeout: 5000 }).toBe('running');
    const info = await getCvmInfo(client, { id: cvm.vm_uuid! });
    expect(info).toMatchObject({ kms_type: 'base', kms_info: { chain_id: 31337, dstack_app_address: `0x${appHex}` } });

    // Changing the env key set changes the compose hash: 465 first, then the approved hash is required.
    const newEnv = await encryptEnvVars([{ key: 'BAR', value: '2' }], pub.public_key);
    const pre = await updateCvmEnvs(client, { id: cvm.vm_uuid!, encrypted_env: newEnv, env_keys: ['FOO', 'BAR'] });
    expect(pre).toMatchObject({ status: 'precondition_required', app_id: appHex, device_id: prov.device_id });
    const newHash = (pre as { compose_hash: string }).compose_hash;
    const confirm = () =>
      updateCvmEnvs(client, {
        id: cvm.vm_uuid!,
        encrypted_env: newEnv,
        env_keys: ['FOO', 'BAR'],
        compose_hash: newHash,
        transaction_hash: 'already-registered',
      });
    await expect(confirm()).rejects.toMatchObject({ status: 468 });
    chain.hashes.add(`${appHex}/${newHash}`);
    await expect(confirm()).resolves.toMatchObject({ status: 'in_progress', allowed_envs_changed: true });
    await expect.poll(() => sim.cvms()[0]?.status, { interval: 5, timeout: 5000 }).toBe('running');

    // The unified PATCH: 465 with the hash to approve, then confirmation by header once the chain allows it.
    const patched = await patchCvm(client, {
      id: cvm.vm_uuid!,
      docker_compose_file: `${COMPOSE}  b:\n    image: redis\n`,
    });
    expect(patched).toMatchObject({
      requiresOnChainHash: true,
      appId: appHex,
      onchainStatus: { compose_hash_allowed: false },
    });
    const patchHash = (patched as { composeHash: string }).composeHash;
    const confirmPatch = () =>
      confirmCvmPatch(client, { id: cvm.vm_uuid!, composeHash: patchHash, transactionHash: `0x${'12'.repeat(32)}` });
    await expect(confirmPatch()).rejects.toMatchObject({ status: 468 });
    chain.hashes.add(`${appHex}/${patchHash}`);
    await expect(confirmPatch()).resolves.toMatchObject({ correlationId: expect.any(String) });
    expect(sim.cvms()[0]?.composeHash).toBe(patchHash);
    await expect.poll(() => sim.cvms()[0]?.status, { interval: 5, timeout: 5000 }).toBe('running');

    // A replica on another node needs that node's device on the app's allowlist (465 until then).
    await expect(replicateCvm(client, { id: cvm.vm_uuid!, node_id: 2 })).rejects.toMatchObject({ status: 465 });
    const node2 = (await getAvailableNodes(client)).nodes.find((n) => n.teepod_id === 2)!;
    chain.devices.add(`${appHex}/${node2.device_id}`);
    await expect(replicateCvm(client, { id: cvm.vm_uuid!, node_id: 2 })).resolves.toMatchObject({
      app_id: appHex,
      teepod_id: 2,
    });
  });

  it('accepts kms ETHEREUM too, reported as kms_type ethereum', async () => {
    const client = createClient({ baseURL: sim.url, apiKey: KEY });
    const prov = await provisionCvm(client, {
      name: 'eth-app',
      compose_file: { docker_compose_file: COMPOSE },
      kms: 'ETHEREUM',
    });
    expect(prov.app_id).toBeNull();
    const hex = 'cd'.repeat(20);
    chain.apps.add(hex);
    chain.hashes.add(`${hex}/${prov.compose_hash}`);
    chain.devices.add(`${hex}/${prov.device_id}`);
    const cvm = await commitCvmProvision(client, { app_id: `0x${hex}`, compose_hash: prov.compose_hash });
    expect((await getCvmInfo(client, { id: cvm.vm_uuid! })).kms_type).toBe('ethereum');
  });
});

// Conformance: every API action @phala/cloud 0.2.9 exports is called against the simulator, with the parameters a
// user would pass, under each API version the SDK supports, and each answer must pass the SDK's own zod schema
// (the safe* variants report a schema failure as `success: false`). Actions are found by enumerating the SDK's
// exports (an action is an export with a `safe…` twin, plus watchCvmState), so an action added by an SDK upgrade
// fails the coverage test until it is called here or excluded with a reason. State changes are checked through the
// simulator's own view, not only the answers.
import * as sdk from '@phala/cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_DELAYS, type OnChainVerifier, type SimulatorHandle, startSimulator } from '../../src/simulator';

const KEY = 'phak_sim_sdk_actions';
const COMPOSE = 'services:\n  web:\n    image: nginx:1.27\n    environment:\n      - FOO\n';
const SSH_KEY = `ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.alloc(32, 9)]).toString('base64')} user@host`;

/** Actions that cannot run against the simulator, and why. */
const EXCLUDED: Record<string, string> = {
  addComposeHash: 'sends a transaction to the DstackApp contract: needs a chain, not the API',
  addDevice: 'sends a transaction to the DstackApp contract: needs a chain, not the API',
  removeDevice: 'sends a transaction to the DstackApp contract: needs a chain, not the API',
  setAllowAnyDevice: 'sends a transaction to the DstackApp contract: needs a chain, not the API',
  deployAppAuth: 'deploys a DstackApp contract: needs a chain, not the API',
  checkComposeHashAllowed: 'reads the DstackApp contract over RPC: needs a chain, not the API',
  checkDeviceAllowed: 'reads the DstackApp contract over RPC: needs a chain, not the API',
  checkOnChainPrerequisites: 'multicall on the DstackApp contract over RPC: needs a chain, not the API',
  getAllowedDevices: 'reads the DstackApp contract over RPC: needs a chain, not the API',
  importGithubProfileSshKeys: "fetches the user's keys from GitHub: an outside service",
  syncGithubSshKeys: 'syncs keys from GitHub: an outside service',
  validateActionParameters: 'a local helper that checks an options object; it makes no request',
};

/** Every exported action: a function with a `safe…` twin, plus the SSE watch (which has none). */
function exportedActions(): string[] {
  const names = Object.keys(sdk).filter((k) => typeof (sdk as Record<string, unknown>)[k] === 'function');
  const actions = names.filter(
    (n) => !n.startsWith('safe') && names.includes(`safe${n[0]!.toUpperCase()}${n.slice(1)}`),
  );
  return [...actions, 'watchCvmState'].sort();
}

type SafeResult = { success: boolean; data?: unknown; error?: unknown };

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
  sim = await startSimulator({ apiKeys: [KEY], delays: FAST_DELAYS, onChainVerifier: chain });
});
afterAll(() => sim.close());

const view = (vmUuid: string) => sim.cvms().find((c) => c.vmUuid === vmUuid)!;
const idle = (vmUuid: string, status = 'running') =>
  expect
    .poll(() => [view(vmUuid).status, view(vmUuid).operation], { interval: 5, timeout: 5000 })
    .toEqual([status, null]);

describe('every @phala/cloud 0.2.9 API action', () => {
  it('is called below or excluded with a reason', () => {
    const called = new Set(Object.keys(callTable({} as Ctx)));
    const actions = exportedActions();
    const missing = actions.filter((a) => !called.has(a) && !(a in EXCLUDED));
    expect(missing, 'actions neither called nor excluded').toEqual([]);
    const stale = [...called, ...Object.keys(EXCLUDED)].filter((a) => !actions.includes(a));
    expect(stale, 'listed but not exported by the SDK').toEqual([]);
    expect(actions.length).toBeGreaterThan(70);
  });

  for (const version of sdk.SUPPORTED_API_VERSIONS) {
    it(`is accepted by the SDK's schema on API version ${version}`, async () => {
      sim.reset();
      const client = sdk.createClient({ baseURL: sim.url, apiKey: KEY, version });
      const ctx = await setUp(client, version);
      const results: Record<string, SafeResult> = {};
      for (const [name, call] of Object.entries(callTable(ctx))) {
        const result = await call();
        results[name] = result;
        expect(result, `${name}: ${JSON.stringify(result.error)}`).toMatchObject({ success: true });
      }
      checkState(ctx, results);
    });
  }
});

interface Ctx {
  client: ReturnType<typeof sdk.createClient>;
  version: string;
  slug: string;
  web: { vmUuid: string; appId: string };
  onchain: { vmUuid: string; appId: string; pubkey: string };
  kmsSlug: string;
  revisionId?: string;
  onchainPatchHash?: string;
  provision?: { app_id?: string | null; compose_hash: string; app_env_encrypt_pubkey?: string | null };
  composeUpdateHash?: string;
}

/** A phala-KMS CVM deployed as a user would, and an on-chain-KMS one registered on the in-memory chain. */
async function setUp(client: Ctx['client'], version: string): Promise<Ctx> {
  const me = await sdk.getCurrentUser(client);
  const slug = 'workspace' in me ? me.workspace.slug! : 'sim-ws-1';
  const prov = await sdk.provisionCvm(client, {
    name: 'sdk-chain-app',
    compose_file: { docker_compose_file: COMPOSE, allowed_envs: ['FOO'] },
    kms: 'BASE',
    node_id: 1,
  });
  const appHex = (version === '2025-10-28' ? 'a1' : 'b2').repeat(20);
  const pub = await sdk.getAppEnvEncryptPubKey(client, { kms: prov.kms_info!.slug!, app_id: `0x${appHex}` });
  chain.apps.add(appHex);
  chain.hashes.add(`${appHex}/${prov.compose_hash}`);
  chain.devices.add(`${appHex}/${prov.device_id}`);
  const onchain = await sdk.commitCvmProvision(client, {
    app_id: `0x${appHex}`,
    compose_hash: prov.compose_hash,
    encrypted_env: await sdk.encryptEnvVars([{ key: 'FOO', value: '1' }], pub.public_key),
    contract_address: `0x${appHex}`,
  });
  await idle(onchain.vm_uuid!);
  const kmsList = await sdk.getKmsList(client);
  return {
    client,
    version,
    slug,
    web: { vmUuid: '', appId: '' },
    onchain: { vmUuid: onchain.vm_uuid!, appId: appHex, pubkey: pub.public_key },
    kmsSlug: kmsList.items[0]!.slug!,
  };
}

/** Every action with a user's parameters, in the order a user's session would call them. */
function callTable(ctx: Ctx): Record<string, () => Promise<SafeResult>> {
  const c = ctx.client;
  const web = () => ({ id: ctx.web.vmUuid });
  const waitWeb = async <T>(p: Promise<T>): Promise<T> => {
    const r = await p;
    // The operation may already be over on a fast run: then the status it rests in is the target.
    const now = view(ctx.web.vmUuid);
    await idle(ctx.web.vmUuid, (now.operation?.target ?? now.status) === 'stopped' ? 'stopped' : 'running');
    return r;
  };
  return {
    getCurrentUser: () => sdk.safeGetCurrentUser(c),
    listWorkspaces: () => sdk.safeListWorkspaces(c),
    getWorkspace: () => sdk.safeGetWorkspace(c, ctx.slug),
    getWorkspaceNodes: () => sdk.safeGetWorkspaceNodes(c, { teamSlug: ctx.slug, page: 1, pageSize: 10 }),
    getWorkspaceQuotas: () => sdk.safeGetWorkspaceQuotas(c, { teamSlug: ctx.slug }),
    getAvailableNodes: () => sdk.safeGetAvailableNodes(c),
    listAllInstanceTypeFamilies: () => sdk.safeListAllInstanceTypeFamilies(c),
    listFamilyInstanceTypes: () => sdk.safeListFamilyInstanceTypes(c, { family: 'cpu' }),
    getKmsList: () => sdk.safeGetKmsList(c),
    getKmsInfo: () => sdk.safeGetKmsInfo(c, { kms_id: ctx.kmsSlug }),
    getKmsOnChainDetail: () => sdk.safeGetKmsOnChainDetail(c, { chain: 'anvil' }),
    nextAppIds: () => sdk.safeNextAppIds(c, { counts: 2 }),
    getOsImages: () => sdk.safeGetOsImages(c, { page: 1, page_size: 10 }),
    createSshKey: () => sdk.safeCreateSshKey(c, { name: 'laptop', public_key: SSH_KEY }),
    provisionCvm: async () => {
      const r = await sdk.safeProvisionCvm(c, {
        name: 'sdk-web-app',
        instance_type: 'tdx.small',
        compose_file: { docker_compose_file: COMPOSE, allowed_envs: ['FOO'] },
      });
      if (r.success) ctx.web.appId = r.data.app_id!;
      ctx.provision = r.success ? r.data : undefined;
      return r;
    },
    commitCvmProvision: async () => {
      const p = ctx.provision!;
      const r = await sdk.safeCommitCvmProvision(c, {
        app_id: p.app_id!,
        compose_hash: p.compose_hash,
        encrypted_env: await sdk.encryptEnvVars([{ key: 'FOO', value: 'bar' }], p.app_env_encrypt_pubkey!),
        env_keys: ['FOO'],
      });
      if (r.success) ctx.web.vmUuid = r.data.vm_uuid!;
      await idle(ctx.web.vmUuid);
      return r;
    },
    getAppEnvEncryptPubKey: () => sdk.safeGetAppEnvEncryptPubKey(c, { kms: ctx.kmsSlug, app_id: ctx.web.appId }),
    getCvmInfo: () => sdk.safeGetCvmInfo(c, web()),
    getCvmList: () => sdk.safeGetCvmList(c, { page: 1, page_size: 10 }),
    getCvmState: () => sdk.safeGetCvmState(c, web()),
    getCvmStatusBatch: () => sdk.safeGetCvmStatusBatch(c, { vmUuids: [ctx.web.vmUuid, ctx.onchain.vmUuid] }),
    getCvmStats: () => sdk.safeGetCvmStats(c, web()),
    getCvmNetwork: () => sdk.safeGetCvmNetwork(c, web()),
    getCvmContainersStats: () => sdk.safeGetCvmContainersStats(c, web()),
    getCvmAttestation: () => sdk.safeGetCvmAttestation(c, web()),
    getCvmComposeFile: () => sdk.safeGetCvmComposeFile(c, web()),
    getCvmDockerCompose: () => sdk.safeGetCvmDockerCompose(c, web()),
    getCvmPreLaunchScript: () => sdk.safeGetCvmPreLaunchScript(c, web()),
    getCvmUserConfig: () => sdk.safeGetCvmUserConfig(c, web()),
    getAvailableOsImages: () => sdk.safeGetAvailableOsImages(c, web()),
    getAppList: () => sdk.safeGetAppList(c, { page: 1, page_size: 10 }),
    getAppInfo: () => sdk.safeGetAppInfo(c, { appId: ctx.web.appId }),
    getAppCvms: () => sdk.safeGetAppCvms(c, { appId: ctx.web.appId }),
    getAppFilterOptions: () => sdk.safeGetAppFilterOptions(c),
    getAppAttestation: () => sdk.safeGetAppAttestation(c, { appId: ctx.web.appId }),
    getAppDeviceAllowlist: () => sdk.safeGetAppDeviceAllowlist(c, { appId: ctx.onchain.appId }),
    provisionCvmComposeFileUpdate: async () => {
      const r = await sdk.safeProvisionCvmComposeFileUpdate(c, {
        uuid: ctx.web.vmUuid,
        app_compose: {
          name: 'sdk-web-app',
          docker_compose_file: `${COMPOSE}  cache:\n    image: redis:7\n`,
          allowed_envs: ['FOO'],
        },
      });
      ctx.composeUpdateHash = r.success ? r.data.compose_hash : undefined;
      return r;
    },
    commitCvmComposeFileUpdate: () =>
      waitWeb(
        sdk.safeCommitCvmComposeFileUpdate(c, {
          uuid: ctx.web.vmUuid,
          compose_hash: ctx.composeUpdateHash!,
          encrypted_env: undefined,
          env_keys: undefined,
        }),
      ),
    updateCvmEnvs: async () =>
      waitWeb(
        sdk.safeUpdateCvmEnvs(c, {
          id: ctx.web.vmUuid,
          encrypted_env: await sdk.encryptEnvVars(
            [{ key: 'FOO', value: 'baz' }],
            ctx.provision!.app_env_encrypt_pubkey!,
          ),
        }),
      ),
    updateDockerCompose: () =>
      waitWeb(
        sdk.safeUpdateDockerCompose(c, {
          id: ctx.web.vmUuid,
          docker_compose_file: `${COMPOSE}  worker:\n    image: busybox\n`,
        }),
      ),
    updatePreLaunchScript: () =>
      waitWeb(sdk.safeUpdatePreLaunchScript(c, { id: ctx.web.vmUuid, pre_launch_script: '#!/bin/sh\necho ready\n' })),
    updateCvmVisibility: () =>
      waitWeb(sdk.safeUpdateCvmVisibility(c, { id: ctx.web.vmUuid, public_sysinfo: false, public_logs: true })),
    updateCvmResources: () =>
      waitWeb(sdk.safeUpdateCvmResources(c, { id: ctx.web.vmUuid, instance_type: 'tdx.medium', allow_restart: true })),
    updateOsImage: () => waitWeb(sdk.safeUpdateOsImage(c, { id: ctx.web.vmUuid, os_image_name: 'dstack-dev-0.5.3' })),
    patchCvm: () => waitWeb(sdk.safePatchCvm(c, { id: ctx.web.vmUuid, public_logs: false })),
    getAppRevisions: async () => {
      const r = await sdk.safeGetAppRevisions(c, { appId: ctx.web.appId, page: 1, page_size: 50 });
      ctx.revisionId = r.success ? r.data.revisions.at(-1)?.revision_id : undefined;
      return r;
    },
    getAppRevisionDetail: () =>
      sdk.safeGetAppRevisionDetail(c, { appId: ctx.web.appId, revisionId: ctx.revisionId!, rawComposeFile: true }),
    refreshCvmInstanceId: () => sdk.safeRefreshCvmInstanceId(c, { id: ctx.web.vmUuid, dry_run: true }),
    refreshCvmInstanceIds: () => sdk.safeRefreshCvmInstanceIds(c, { running_only: true, dry_run: true }),
    checkCvmIsAllowed: () => sdk.safeCheckCvmIsAllowed(c, { cvmId: ctx.onchain.vmUuid }),
    checkAppIsAllowed: () =>
      sdk.safeCheckAppIsAllowed(c, {
        appId: ctx.onchain.appId,
        compose_hash: view(ctx.onchain.vmUuid).composeHash,
        node_id: 2,
      }),
    checkAppCvmsIsAllowed: () => sdk.safeCheckAppCvmsIsAllowed(c, { appId: ctx.onchain.appId }),
    confirmCvmPatch: async () => {
      const pre = await sdk.safePatchCvm(c, { id: ctx.onchain.vmUuid, pre_launch_script: '#!/bin/sh\necho chain\n' });
      if (!pre.success || !pre.data.requiresOnChainHash) return { success: false, error: pre };
      chain.hashes.add(`${ctx.onchain.appId}/${pre.data.composeHash}`);
      ctx.onchainPatchHash = pre.data.composeHash;
      const r = await sdk.safeConfirmCvmPatch(c, {
        id: ctx.onchain.vmUuid,
        composeHash: pre.data.composeHash,
        transactionHash: `0x${'12'.repeat(32)}`,
      });
      await idle(ctx.onchain.vmUuid);
      return r;
    },
    commitCvmUpdate: async () => {
      const pre = await sdk.safePatchCvm(c, { id: ctx.onchain.vmUuid, public_logs: false, prepareOnly: true });
      if (!pre.success || !pre.data.requiresOnChainHash || !pre.data.commitToken) return { success: false, error: pre };
      chain.hashes.add(`${ctx.onchain.appId}/${pre.data.composeHash}`);
      ctx.onchainPatchHash = pre.data.composeHash;
      const r = await sdk.safeCommitCvmUpdate(c, {
        id: ctx.onchain.vmUuid,
        token: pre.data.commitToken,
        composeHash: pre.data.composeHash,
        transactionHash: `0x${'34'.repeat(32)}`,
      });
      await idle(ctx.onchain.vmUuid);
      return r;
    },
    restartCvm: () => waitWeb(sdk.safeRestartCvm(c, { id: ctx.web.vmUuid, force: true })),
    stopCvm: () => waitWeb(sdk.safeStopCvm(c, web())),
    startCvm: () => waitWeb(sdk.safeStartCvm(c, web())),
    shutdownCvm: async () => {
      const r = await sdk.safeShutdownCvm(c, web());
      await idle(ctx.web.vmUuid, 'stopped');
      await sdk.startCvm(c, web());
      await idle(ctx.web.vmUuid);
      return r;
    },
    watchCvmState: async () => {
      await sdk.restartCvm(c, web());
      try {
        const data = await sdk.watchCvmState(c, { id: ctx.web.vmUuid, target: 'running', interval: 5, timeout: 60 });
        return { success: true, data };
      } catch (error) {
        return { success: false, error };
      }
    },
    replicateCvm: () => sdk.safeReplicateCvm(c, { id: ctx.web.vmUuid, node_id: 2 }),
    createAppInstance: () => sdk.safeCreateAppInstance(c, { appId: ctx.web.appId, node_id: 1 }),
    listSshKeys: () => sdk.safeListSshKeys(c),
    deleteSshKey: async () => {
      const keys = await sdk.listSshKeys(c);
      return sdk.safeDeleteSshKey(c, { keyId: keys[0]!.id });
    },
    deleteCvm: () => sdk.safeDeleteCvm(c, { id: ctx.onchain.vmUuid }),
  };
}

/** The answers describe what the simulator now holds, and the updates really happened. */
function checkState(ctx: Ctx, results: Record<string, SafeResult>): void {
  const data = (name: string) => results[name]!.data as Record<string, unknown>;
  const web = view(ctx.web.vmUuid);
  const ops = web.history.map((h) => h.op);
  // compose, env, docker compose, script, visibility, resources, OS image, patch: eight update operations.
  expect(ops.filter((o) => o === 'update').length / 2).toBeGreaterThanOrEqual(8);
  expect(web.history.some((h) => h.status === 'updating')).toBe(true);
  const revisions = data('getAppRevisions') as { revisions: { operation_type: string; vm_uuid: string }[] };
  expect(revisions.revisions.filter((r) => r.vm_uuid === ctx.web.vmUuid).length).toBeGreaterThanOrEqual(7);
  const detail = data('getAppRevisionDetail') as { operation_type: string; compose_file: string };
  expect(detail.operation_type).toBe('create');
  expect(typeof detail.compose_file).toBe('string');
  expect(data('getCvmContainersStats')).toMatchObject({ is_online: true, containers: [{ image: 'nginx:1.27' }] });
  expect(data('getCvmUserConfig')).toMatchObject({ hostname: 'sdk-web-app', ssh_authorized_keys: [SSH_KEY] });
  expect(data('checkCvmIsAllowed')).toMatchObject({ is_allowed: true, compose_hash_allowed: true });
  expect(data('checkAppIsAllowed')).toMatchObject({
    compose_hash_allowed: true,
    device_id_allowed: false,
    is_allowed: false,
  });
  expect(view(ctx.onchain.vmUuid).composeHash).toBe(ctx.onchainPatchHash);
  expect(results.getCvmDockerCompose!.data).toBe(COMPOSE);
  expect(web.composeHash).not.toBe(ctx.provision!.compose_hash);
  expect(sim.cvms().filter((c) => c.appId === ctx.web.appId).length).toBe(3);
}

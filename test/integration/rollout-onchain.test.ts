// Rollouts across on-chain KMS apps on a real local chain (anvil), through the compose-update path deploy updates use:
// the worker's key puts each app's new compose hash on its allow-list with exactly one transaction — however many of
// the app's CVMs are updated side by side, and when the worker is SIGKILLed while that transaction waits in the
// mempool — and an app owned by another account is refused before anything changes, naming its owner.
import { WorkflowFailedError } from '@temporalio/client';
import { createPublicClient, createTestClient, createWalletClient, type Hex, http, type PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Anvil, chainVerifier, createChainClient, dstackAppAbi, startAnvil } from '../../src/chain';
import type { ChainClient } from '../../src/chain/client';
import { accountFromPrivateKey } from '../../src/chain/config';
import { startDeploy } from '../../src/client/deploy';
import { startRollout } from '../../src/client/rollout';
import { validateSpec } from '../../src/spec';
import type { RolloutSpec } from '../../src/spec/rollout';
import type { ExternalApprovalNeeded } from '../../src/workflows/compose-update-types';
import type { RolloutTuning } from '../../src/workflows/rollout-types';
import { recordHistory } from '../support/replay';
import { COMPOSE, testSpec } from '../support/specs';
import { startStack, TEST_API_KEY, type TestStack } from '../support/stack';
import { TEST_CODEC_KEYS, uniqueId } from '../support/temporal';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';

const version = (n: number) => `${COMPOSE}    environment:\n      - VERSION=${n}\n`;

let anvil: Anvil;
let reader: PublicClient;
let kmsAddress: string;
let ops: ChainClient;

const chainFor = (i: number) =>
  createChainClient({
    rpcUrl: anvil.rpcUrl,
    chainId: anvil.chainId,
    account: accountFromPrivateKey(anvil.accounts[i]!.privateKey, 'test'),
    confirmations: 1,
    timeoutMs: 30_000,
    pollingIntervalMs: 50,
  });
const nonceOf = (i: number, blockTag: 'latest' | 'pending' = 'latest') =>
  reader.getTransactionCount({ address: anvil.accounts[i]!.address, blockTag });
/** Every ComposeHashAdded the app's contract ever logged for this hash. */
const additions = async (appId: string, composeHash: string) =>
  (
    await reader.getContractEvents({
      address: appId as Hex,
      abi: dstackAppAbi,
      eventName: 'ComposeHashAdded',
      fromBlock: 0n,
    })
  ).filter((e) => e.args.composeHash?.toLowerCase() === `0x${composeHash.replace(/^0x/, '')}`.toLowerCase());

/** The compose hash the rollout gave the app's CVMs (each app's compose carries its name, so hashes differ). */
function newHashOf(cvms: { appId: string; to?: string }[], appId: string): string {
  const bare = appId.replace(/^0x/i, '').toLowerCase();
  const hashes = new Set(cvms.filter((c) => c.appId.replace(/^0x/i, '').toLowerCase() === bare).map((c) => c.to));
  expect(hashes.size, appId).toBe(1);
  return [...hashes][0]!;
}

beforeAll(async () => {
  anvil = await startAnvil();
  reader = createPublicClient({ transport: http(anvil.rpcUrl), pollingInterval: 50 });
  ops = chainFor(0);
  ({ kmsAddress } = await ops.deployKms());
});
afterAll(async () => {
  await anvil?.stop();
});

function rolloutSpec(prefix: string, n: number, strategy: Record<string, unknown>): RolloutSpec {
  return validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'Rollout',
      name: uniqueId('ro'),
      targets: { selector: { name: `${prefix}-*` } },
      version: { compose: { inline: version(n) } },
      strategy,
      health: { minHealthy: '0s' },
    },
    { source: 'test', baseDir: '.', kinds: ['Rollout'] },
  );
}

/** On-chain apps `<prefix>-0`…, deployed (and so owned) by the stack's worker key; the first has `firstReplicas` CVMs. */
async function deployApps(stack: TestStack, prefix: string, count: number, firstReplicas = 1): Promise<string[]> {
  const appIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const spec = testSpec({
      name: `${prefix}-${i}`,
      kms: 'ethereum',
      compose: { inline: version(1) },
      replicas: i === 0 ? firstReplicas : 1,
      placement: { nodes: [1] },
    });
    const r = await startDeploy(spec, { client: stack.client, taskQueue: stack.taskQueue, codecKeys: TEST_CODEC_KEYS });
    appIds.push((await r.result()).appId);
  }
  return appIds;
}

const TUNING: RolloutTuning = { lockPollMs: 100, healthPollMs: 50, heartbeatTimeoutMs: 5000 };

describe('a rollout across on-chain apps', () => {
  let stack: TestStack;
  const signer = 1;

  beforeAll(async () => {
    const verifier = chainVerifier({ chain: ops, chainId: anvil.chainId, kmsContractAddress: kmsAddress });
    stack = await startStack({ sim: { onChainVerifier: verifier }, activities: { chain: chainFor(signer) } });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const start = (spec: RolloutSpec) =>
    startRollout(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
      tuning: TUNING,
    });
  const fleet = (prefix: string) => stack.sim.cvms().filter((c) => c.name.startsWith(`${prefix}-`));

  it('approves each app’s new hash with one transaction, then updates every CVM', async () => {
    const prefix = uniqueId('oc');
    const appIds = await deployApps(stack, prefix, 3, 2);
    const before = await nonceOf(signer);

    // maxParallel 4: both CVMs of the first app are updated side by side and share its one approval.
    const handle = await start(rolloutSpec(prefix, 2, { waveSize: 4, maxParallel: 4 }));
    const result = await handle.result();
    await recordHistory(handle, 'rollout-onchain');
    expect(result.outcome).toBe('succeeded');
    expect(result.counts).toEqual({ healthy: 4 });
    for (const appId of appIds) expect(await additions(appId, newHashOf(result.cvms, appId)), appId).toHaveLength(1);
    expect(await nonceOf(signer)).toBe(before + 3);
    const recorded = new Map(result.cvms.map((c) => [c.cvmId, c.to]));
    for (const c of fleet(prefix))
      expect(c, c.name).toMatchObject({ composeHash: recorded.get(c.vmUuid), status: 'running' });

    // The two-CVM app's workflow asked the chain once.
    const history = await stack.client.workflow.getHandle(`deploy-${prefix}-0`).fetchHistory();
    await recordHistory(stack.client.workflow.getHandle(`deploy-${prefix}-0`), 'rollout-app-onchain');
    const approvals = history.events?.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'addComposeHashOnChain',
    );
    expect(approvals).toHaveLength(1);
  });

  it('refuses at the start an app the worker does not own, naming its owner; goes through once the owner approved', async () => {
    const prefix = uniqueId('ox');
    const appIds = await deployApps(stack, prefix, 2);
    const owner = 2;
    const handover = await createWalletClient({
      account: privateKeyToAccount(anvil.accounts[signer]!.privateKey),
      chain: { ...foundry, id: anvil.chainId },
      transport: http(anvil.rpcUrl),
    }).writeContract({
      address: appIds[1] as Hex,
      abi: dstackAppAbi,
      functionName: 'transferOwnership',
      args: [anvil.accounts[owner]!.address],
    });
    await reader.waitForTransactionReceipt({ hash: handover });
    const composeBefore = new Map(fleet(prefix).map((c) => [c.name, c.composeHash]));
    const before = await nonceOf(signer);

    const refused = await start(rolloutSpec(prefix, 2, { maxParallel: 2 }));
    const err = await refused.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as Error & { details?: unknown[] };
    expect(cause.message).toMatch(
      new RegExp(
        `may not approve the new compose hash of 1 on-chain app\\(s\\) it does not own; app ${prefix}-1 \\(contract ${appIds[1]} on chain ${anvil.chainId}\\) is owned by ${anvil.accounts[owner]!.address}: it must send addComposeHash\\(0x[0-9a-f]{64}\\)`,
        'i',
      ),
    );
    expect(cause.message).toMatch(/nothing was changed$/);
    // Nothing changed: no transaction, no CVM touched.
    expect(await nonceOf(signer)).toBe(before);
    for (const c of fleet(prefix)) expect(c.composeHash, c.name).toBe(composeBefore.get(c.name));

    // The owner sends exactly what the refusal asked for; the next rollout needs the worker's key for app 0 only.
    const [needed] = (cause.details?.[0] ?? []) as ExternalApprovalNeeded[];
    const sent = await createWalletClient({
      account: privateKeyToAccount(anvil.accounts[owner]!.privateKey),
      chain: { ...foundry, id: anvil.chainId },
      transport: http(anvil.rpcUrl),
    }).sendTransaction({ to: needed!.appId as Hex, data: needed!.calldata as Hex });
    await reader.waitForTransactionReceipt({ hash: sent });
    const result = await start(rolloutSpec(prefix, 2, { maxParallel: 2 })).then((h) => h.result());
    expect(result.outcome).toBe('succeeded');
    expect(result.counts).toEqual({ healthy: 2 });
    expect(`0x${newHashOf(result.cvms, appIds[1]!)}`).toBe(needed!.composeHash.toLowerCase());
    for (const appId of appIds) expect(await additions(appId, newHashOf(result.cvms, appId)), appId).toHaveLength(1);
    expect(await nonceOf(signer)).toBe(before + 1);
  });
});

describe('a worker SIGKILLed while an approval waits in the mempool', () => {
  let stack: TestStack;
  const workers: WorkerProcess[] = [];
  const signer = 3;
  const miner = () => createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) });

  beforeAll(async () => {
    const verifier = chainVerifier({ chain: ops, chainId: anvil.chainId, kmsContractAddress: kmsAddress });
    stack = await startStack({ sim: { onChainVerifier: verifier }, activities: { chain: chainFor(signer) } });
  });
  afterAll(async () => {
    for (const w of workers) await w.kill();
    await stack?.close();
    await miner()
      .setAutomine(true)
      .catch(() => undefined);
  });

  const startWorker = async () => {
    const w = await spawnWorker({
      taskQueue: stack.taskQueue,
      phalaUrl: stack.sim.url,
      apiKey: TEST_API_KEY,
      env: {
        ETH_RPC_URL: anvil.rpcUrl,
        ETH_CHAIN_ID: String(anvil.chainId),
        PRIVATE_KEY: anvil.accounts[signer]!.privateKey,
      },
    });
    workers.push(w);
    return w;
  };

  interface PendingActivity {
    activityType?: { name?: string | null } | null;
    attempt?: number | null;
    heartbeatDetails?: { payloads?: unknown[] | null } | null;
  }
  async function approvalIn(workflowId: string): Promise<PendingActivity | undefined> {
    const d = await stack.client.workflow.getHandle(workflowId).describe();
    return (d.raw.pendingActivities as PendingActivity[] | null | undefined)?.find(
      (a) => a.activityType?.name === 'addComposeHashOnChain',
    );
  }
  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('the new worker waits for the sent transaction: one approval per app, no transaction twice', async () => {
    const prefix = uniqueId('ok');
    // The apps come from an in-process worker with the same key, stopped before the rollout's workers start.
    const setup = await stack.startWorker();
    const appIds = await deployApps(stack, prefix, 2);
    await setup.kill();
    const before = await nonceOf(signer);
    const first = await startWorker();
    await miner().setAutomine(false);

    // One CVM at a time, so the kill finds exactly one approval in flight, in the middle of the wave.
    const handle = await startRollout(rolloutSpec(prefix, 2, { waveSize: 2, maxParallel: 1 }), {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
      tuning: { ...TUNING, heartbeatTimeoutMs: 2000, apiAttemptTimeoutMs: 3000 },
    });
    await until('the approval transaction in the mempool', async () =>
      (await nonceOf(signer, 'pending')) === before + 1 ? true : undefined,
    );
    const appWorkflows = appIds.map((_, i) => `deploy-${prefix}-${i}`);
    const inFlight = await until('the transaction hash in the heartbeat', async () => {
      for (const id of appWorkflows) if ((await approvalIn(id))?.heartbeatDetails?.payloads?.length) return id;
      return undefined;
    });
    expect(await nonceOf(signer)).toBe(before);
    await first.kill();

    await startWorker();
    await until(
      'the retry on the new worker',
      async () => ((await approvalIn(inFlight))?.attempt ?? 0) >= 2 || undefined,
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(await nonceOf(signer, 'pending')).toBe(before + 1);
    await miner().mine({ blocks: 1 });
    await miner().setAutomine(true);

    const result = await handle.result();
    expect(result.outcome).toBe('succeeded');
    expect(result.counts).toEqual({ healthy: 2 });
    for (const appId of appIds) expect(await additions(appId, newHashOf(result.cvms, appId)), appId).toHaveLength(1);
    expect(await nonceOf(signer)).toBe(before + 2);
    const recorded = new Map(result.cvms.map((c) => [c.cvmId, c.to]));
    for (const c of stack.sim.cvms().filter((x) => x.name.startsWith(`${prefix}-`)))
      expect(c, c.name).toMatchObject({ composeHash: recorded.get(c.vmUuid), status: 'running' });
  });
});

// Exactly-once on-chain registration under failure, with real processes and a real chain: the worker is SIGKILLed
// while its registration transaction waits in anvil's mempool, and the RPC endpoint disappears for a while.

import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { createPublicClient, createTestClient, type Hex, http, type PublicClient } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Anvil, chainVerifier, createChainClient, dstackKmsAbi, startAnvil } from '../../src/chain';
import type { ChainClient } from '../../src/chain/client';
import { accountFromPrivateKey } from '../../src/chain/config';
import { type StartedDeploy, startDeploy } from '../../src/client/deploy';
import { freePort } from '../../src/dev/free-port';
import { testSpec } from '../support/specs';
import { startStack, TEST_API_KEY, type TestStack } from '../support/stack';
import { TEST_CODEC_KEYS } from '../support/temporal';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';

let anvil: Anvil;
let chain: ChainClient;
let kmsAddress: Hex;
let reader: PublicClient;

beforeAll(async () => {
  anvil = await startAnvil();
  reader = createPublicClient({ transport: http(anvil.rpcUrl), pollingInterval: 50 });
  chain = createChainClient({
    rpcUrl: anvil.rpcUrl,
    chainId: anvil.chainId,
    account: accountFromPrivateKey(anvil.accounts[0]!.privateKey, 'test'),
    confirmations: 1,
    timeoutMs: 30_000,
    pollingIntervalMs: 50,
  });
  ({ kmsAddress } = await chain.deployKms());
});
afterAll(async () => {
  await anvil?.stop();
});

/** Every registration the KMS ever logged for apps deployed by `deployer`. */
const registrationsBy = (deployer: Hex) =>
  reader.getContractEvents({
    address: kmsAddress,
    abi: dstackKmsAbi,
    eventName: 'AppDeployedViaFactory',
    args: { deployer },
    fromBlock: 0n,
    toBlock: 'latest',
  });

interface PendingActivity {
  activityType?: { name?: string | null } | null;
  attempt?: number | null;
  heartbeatDetails?: { payloads?: unknown[] | null } | null;
  lastFailure?: Parameters<typeof decodeOptionalFailureToOptionalError>[1];
}

async function registration(handle: StartedDeploy): Promise<PendingActivity | undefined> {
  const { raw } = await handle.describe();
  return (raw.pendingActivities as PendingActivity[] | null | undefined)?.find(
    (a) => a.activityType?.name === 'registerAppOnChain',
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

describe('worker killed between sending the registration and its confirmation', () => {
  let stack: TestStack;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    const verifier = chainVerifier({ chain, chainId: anvil.chainId, kmsContractAddress: kmsAddress });
    stack = await startStack({ sim: { onChainVerifier: verifier } });
  });
  afterAll(async () => {
    for (const w of workers) await w.kill();
    await stack?.close();
    await createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) })
      .setAutomine(true)
      .catch(() => undefined);
  });

  it('finds its transaction on restart: exactly one registration on chain', async () => {
    // The worker signs with its own account, so its nonce counts exactly the transactions it sent.
    const signer = anvil.accounts[1]!;
    const startWorker = async () => {
      const w = await spawnWorker({
        taskQueue: stack.taskQueue,
        phalaUrl: stack.sim.url,
        apiKey: TEST_API_KEY,
        env: { ETH_RPC_URL: anvil.rpcUrl, ETH_CHAIN_ID: String(anvil.chainId), PRIVATE_KEY: signer.privateKey },
      });
      workers.push(w);
      return w;
    };
    const miner = createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) });
    const first = await startWorker();
    // Blocks only when the test says so: the transaction stays pending while the worker dies.
    await miner.setAutomine(false);

    const spec = testSpec({ kms: 'ethereum', timeouts: { commit: '15s' } });
    const handle = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
      tuning: { apiAttemptTimeoutMs: 5000 },
    });
    // Sent (in the mempool, not in a block) and its hash recorded in the activity's heartbeat.
    await until('the registration transaction in the mempool', async () =>
      (await reader.getTransactionCount({ address: signer.address, blockTag: 'pending' })) === 1 ? true : undefined,
    );
    await until('the transaction hash in the heartbeat', async () =>
      (await registration(handle))?.heartbeatDetails?.payloads?.length ? true : undefined,
    );
    expect(await reader.getTransactionCount({ address: signer.address })).toBe(0);
    await first.kill();

    await startWorker();
    // The retry runs on the new worker while the first transaction is still pending: it must wait for that one.
    await until(
      'the retry on the new worker',
      async () => ((await registration(handle))?.attempt ?? 0) >= 2 || undefined,
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(await reader.getTransactionCount({ address: signer.address, blockTag: 'pending' })).toBe(1);
    await miner.mine({ blocks: 1 });
    await miner.setAutomine(true);

    const result = await handle.result();
    const events = await registrationsBy(signer.address);
    expect(events).toHaveLength(1);
    expect(events[0]!.args.appId?.toLowerCase()).toBe(result.appId.toLowerCase());
    expect(await reader.getTransactionCount({ address: signer.address })).toBe(1);
    const live = stack.sim.cvms().filter((c) => c.name === spec.name);
    expect(live).toHaveLength(1);
    expect(live[0]!.status).toBe('running');
  });
});

/** A TCP relay in front of anvil that can drop every connection and refuse new ones, then come back on its port. */
async function relay(target: URL) {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const up = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = tcpConnect(Number(target.port), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => undefined);
          s.on('close', () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const down = async () => {
    const closing = server ? new Promise<void>((r) => server!.close(() => r())) : Promise.resolve();
    for (const s of sockets) s.destroy();
    await closing;
    server = undefined;
  };
  await up();
  return { url: `http://127.0.0.1:${port}`, up, down };
}

describe('RPC endpoint unreachable for a while', () => {
  let stack: TestStack;
  let proxy: Awaited<ReturnType<typeof relay>>;
  const signer = () => anvil.accounts[2]!;

  beforeAll(async () => {
    proxy = await relay(new URL(anvil.rpcUrl));
    const workerChain = createChainClient({
      rpcUrl: proxy.url,
      chainId: anvil.chainId,
      account: accountFromPrivateKey(signer().privateKey, 'test'),
      confirmations: 1,
      timeoutMs: 30_000,
      pollingIntervalMs: 50,
    });
    const verifier = chainVerifier({ chain, chainId: anvil.chainId, kmsContractAddress: kmsAddress });
    stack = await startStack({ sim: { onChainVerifier: verifier }, activities: { chain: workerChain } });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack?.close();
    await proxy?.down();
  });

  it('retries the registration until the node is back, then registers once', async () => {
    await proxy.down();
    const spec = testSpec({
      kms: 'base',
      retry: { maximumAttempts: 100, initialInterval: '200ms', maximumInterval: '1s' },
    });
    const handle = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
    });
    const failing = await until('three failed attempts', async () => {
      const a = await registration(handle);
      return (a?.attempt ?? 0) >= 3 ? a : undefined;
    });
    // Failures travel encrypted by the codec: decode as any client of the project does.
    const failure = await decodeOptionalFailureToOptionalError(
      stack.client.options.loadedDataConverter,
      failing.lastFailure,
    );
    expect(failure?.message).toMatch(
      /^register app on chain: eth_chainId on 127\.0\.0\.1:\d+: RPC request failed \(unreachable\)/,
    );
    expect(failure?.message).not.toContain(signer().privateKey.slice(2));
    expect(await reader.getTransactionCount({ address: signer().address })).toBe(0);

    await proxy.up();
    const result = await handle.result();
    const events = await registrationsBy(signer().address);
    expect(events.map((e) => e.args.appId?.toLowerCase())).toEqual([result.appId.toLowerCase()]);
    expect(await reader.getTransactionCount({ address: signer().address })).toBe(1);
    expect(stack.sim.cvms().find((c) => c.name === spec.name)?.status).toBe('running');
  });
});

// The on-chain path of the deploy pipeline on a real local chain: the simulator verifies registration and
// allow-lists by reading our DstackKms/DstackApp contracts on anvil, as the real KMS does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Anvil, chainVerifier, createChainClient, startAnvil } from '../../src/chain';
import type { ChainClient } from '../../src/chain/client';
import { accountFromPrivateKey } from '../../src/chain/config';
import { startDeploy } from '../../src/client/deploy';
import { recordHistory } from '../support/replay';
import { testSpec } from '../support/specs';
import { startStack, type TestStack } from '../support/stack';
import { TEST_CODEC_KEYS } from '../support/temporal';

describe('on-chain KMS deploy on anvil', () => {
  let anvil: Anvil;
  let chain: ChainClient;
  let kmsAddress: string;
  let stack: TestStack;

  beforeAll(async () => {
    anvil = await startAnvil();
    chain = createChainClient({
      rpcUrl: anvil.rpcUrl,
      chainId: anvil.chainId,
      account: accountFromPrivateKey(anvil.accounts[0]!.privateKey, 'test'),
      confirmations: 1,
      timeoutMs: 30_000,
      pollingIntervalMs: 50,
    });
    ({ kmsAddress } = await chain.deployKms());
    const verifier = chainVerifier({
      chain,
      chainId: anvil.chainId,
      kmsContractAddress: kmsAddress,
      rpcEndpoint: anvil.rpcUrl,
    });
    stack = await startStack({ sim: { onChainVerifier: verifier }, activities: { chain } });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack?.close();
    await anvil?.stop();
  });

  it('registers the app, commits against the on-chain allow-list, and allows a new node for a replica', async () => {
    const spec = testSpec({
      kms: 'ethereum',
      replicas: 2,
      placement: { nodes: [1, 2] },
      env: { TOKEN: { fromEnv: 'TOKEN' } },
    });
    const handle = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
      env: { TOKEN: 't0ken-value' },
    });
    const result = await handle.result();
    await recordHistory(handle, 'deploy-onchain-create');
    expect(result.appId).toMatch(/^0x[0-9a-fA-F]{40}$/);
    const appId = result.appId;
    expect(await chain.isAppRegistered({ kmsAddress, appId })).toBe(true);
    expect(await chain.isComposeHashAllowed({ appId, composeHash: `0x${result.composeHash}` })).toBe(true);
    const live = stack.sim.cvms().filter((c) => c.name === spec.name);
    expect(live).toHaveLength(2);
    expect(live.every((c) => c.appId === appId.slice(2).toLowerCase() && c.status === 'running')).toBe(true);
    expect(live.map((c) => c.nodeId).sort()).toEqual([1, 2]);
    // The replica's node had to be allowed on chain before its CVM could boot there.
    const nodes = await stack.phala.getAvailableNodes();
    const node2 = nodes.nodes.find((n) => n.teepod_id === 2)!;
    expect(await chain.isDeviceAllowed({ appId, deviceId: `0x${node2.device_id}` })).toBe(true);
    const registration = await chain.findAppRegistration({ kmsAddress, appId });
    expect(registration?.deployer.toLowerCase()).toBe(anvil.accounts[0]!.address.toLowerCase());
  });

  it('fails clearly, before any transaction, when the worker has no chain configured', async () => {
    const bare = await startStack({
      sim: { onChainVerifier: chainVerifier({ chain, chainId: anvil.chainId, kmsContractAddress: kmsAddress }) },
    });
    await bare.startWorker();
    try {
      const spec = testSpec({ kms: 'base' });
      const err = await startDeploy(spec, {
        client: bare.client,
        taskQueue: bare.taskQueue,
        codecKeys: TEST_CODEC_KEYS,
      })
        .then((h) => h.result())
        .catch((e: Error) => e);
      expect((err as { cause?: Error }).cause?.message).toMatch(
        /failed in phase register: .*ETH_RPC_URL and PRIVATE_KEY/,
      );
      expect(bare.sim.cvms().filter((c) => c.name === spec.name)).toHaveLength(0);
    } finally {
      await bare.close();
    }
  });
});

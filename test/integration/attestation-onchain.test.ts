// The attestation gate of an on-chain app (kms: ethereum) on anvil and the real stack: besides the compose we
// deployed, the compose hash the CVM measured must be on the DstackApp contract's allow-list, read from the chain.
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Anvil, chainVerifier, createChainClient, startAnvil } from '../../src/chain';
import type { ChainClient } from '../../src/chain/client';
import { accountFromPrivateKey } from '../../src/chain/config';
import { startDeploy } from '../../src/client/deploy';
import { decodedHistoryText } from '../support/history';
import { testSpec } from '../support/specs';
import { startStack, type TestStack } from '../support/stack';
import { TEST_CODEC_KEYS } from '../support/temporal';

describe('attestation of an on-chain app on anvil', () => {
  let anvil: Anvil;
  let chain: ChainClient;
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
    const { kmsAddress } = await chain.deployKms();
    const verifier = chainVerifier({ chain, chainId: anvil.chainId, kmsContractAddress: kmsAddress });
    stack = await startStack({ sim: { onChainVerifier: verifier }, activities: { chain, attestationPollMs: 100 } });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack?.close();
    await anvil?.stop();
  });

  const deploy = (spec: ReturnType<typeof testSpec>) =>
    startDeploy(spec, { client: stack.client, taskQueue: stack.taskQueue, codecKeys: TEST_CODEC_KEYS, env: {} });

  it('accepts a CVM whose measured compose hash the contract allows, and refuses one it does not', async () => {
    const spec = testSpec({ kms: 'ethereum', attestation: { require: true } });
    const handle = await deploy(spec);
    const result = await handle.result();
    expect(await chain.isComposeHashAllowed({ appId: result.appId, composeHash: `0x${result.composeHash}` })).toBe(
      true,
    );
    expect(await decodedHistoryText(handle.workflowId)).toContain(
      '"name":"compose-hash-on-chain","ok":true,"expected":"allowed by the app contract","actual":"allowed"',
    );

    // The CVM measures a compose nobody approved: the contract does not allow its hash either.
    const other = testSpec({ kms: 'ethereum', attestation: { require: true } });
    stack.sim.addFaults({ cvms: [{ cvm: other.name, attestation: 'wrong-compose-hash' }] });
    const refused = await deploy(other);
    const err = await refused.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause?.message).toMatch(/failed attestation: compose-hash: expected/);
    expect(await decodedHistoryText(refused.workflowId)).toMatch(
      /"name":"compose-hash-on-chain","ok":false,"expected":"allowed by the app contract","actual":"not allowed: [0-9a-f]{64}"/,
    );
  });
});

// The exactly-once discipline of src/chain against a real anvil: every rerun, resume and refusal is checked by
// counting the sender's transactions (pending included), not by trusting the library's own report.
import { inspect } from 'node:util';
import {
  type Address,
  createPublicClient,
  createTestClient,
  createWalletClient,
  encodeAbiParameters,
  getContractAddress,
  type Hex,
  http,
  keccak256,
} from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { anvil } from 'viem/chains';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dstackAppAbi, dstackAppBytecode, dstackKmsAbi } from '../../src/chain/abi';
import { type Anvil, startAnvil } from '../../src/chain/anvil';
import { type ChainClient, createChainClient } from '../../src/chain/client';
import { accountFromPrivateKey, type ChainConfig } from '../../src/chain/config';
import { ChainError, toChainError } from '../../src/chain/errors';
import { idempotencySalt } from '../../src/chain/ids';
import { freePort } from '../../src/dev/free-port';

let node: Anvil;
let kms: Address;
let owner: ChainClient;
const publicClient = () => createPublicClient({ transport: http(node.rpcUrl) });
const testClient = () => createTestClient({ mode: 'anvil', transport: http(node.rpcUrl) });
const dev = (i: number) => node.accounts[i]!;
/** A plain viem wallet: what another process, or a user with the SDK, would send with. */
const wallet = (i: number) =>
  createWalletClient({ account: privateKeyToAccount(dev(i).privateKey), chain: anvil, transport: http(node.rpcUrl) });
const mined = (hash: Hex) => publicClient().waitForTransactionReceipt({ hash, pollingInterval: 50 });

function client(i: number, overrides: Partial<ChainConfig> = {}): ChainClient {
  return createChainClient({
    rpcUrl: node.rpcUrl,
    chainId: node.chainId,
    account: accountFromPrivateKey(dev(i).privateKey, 'test key'),
    confirmations: 1,
    timeoutMs: 10_000,
    pollingIntervalMs: 50,
    ...overrides,
  });
}

/** Transactions the account ever sent, including ones still waiting in the pool. */
const sentBy = (address: Address) => publicClient().getTransactionCount({ address, blockTag: 'pending' });
const bytes32 = (byte: string) => `0x${byte.repeat(32)}` as Hex;

async function rejection(promise: Promise<unknown>): Promise<ChainError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ChainError);
  return err as ChainError;
}

async function registered(key: string): Promise<Address> {
  const { appId } = await owner.registerApp({
    kmsAddress: kms,
    salt: idempotencySalt(key, 'register-app'),
    composeHash: bytes32('10'),
  });
  return appId;
}

/** Runs `fn` with anvil mining only on request, so a transaction can be kept pending. */
async function withManualMining<T>(fn: () => Promise<T>): Promise<T> {
  await testClient().setAutomine(false);
  try {
    return await fn();
  } finally {
    await testClient().setAutomine(true);
  }
}

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached within 5 s');
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  node = await startAnvil();
  owner = client(0);
  ({ kmsAddress: kms } = await owner.deployKms());
});

afterAll(async () => {
  await node?.stop();
});

describe('registerApp (CREATE2, salted)', () => {
  it('deploys and registers one app per salt; a rerun finds it and sends nothing', async () => {
    const salt = idempotencySalt('wf-register', 'register-app');
    const predicted = await owner.appIdFor({ kmsAddress: kms, salt });
    // The app id is a pure function of factory, sender and salt, computable without the chain.
    const senderSalt = keccak256(
      encodeAbiParameters([{ type: 'address' }, { type: 'bytes32' }], [dev(0).address, salt]),
    );
    expect(getContractAddress({ opcode: 'CREATE2', from: kms, salt: senderSalt, bytecode: dstackAppBytecode })).toBe(
      predicted,
    );

    const params = {
      kmsAddress: kms,
      salt,
      composeHash: 'aa'.repeat(32),
      deviceId: 'bb'.repeat(32),
    };
    const before = await sentBy(dev(0).address);
    const first = await owner.registerApp(params);
    expect(first).toMatchObject({ appId: predicted, alreadyDone: false });
    expect(await sentBy(dev(0).address)).toBe(before + 1);

    const appId = first.appId;
    expect(await owner.isAppRegistered({ kmsAddress: kms, appId })).toBe(true);
    expect(await owner.isComposeHashAllowed({ appId, composeHash: bytes32('aa') })).toBe(true);
    expect(await owner.isDeviceAllowed({ appId, deviceId: bytes32('bb') })).toBe(true);
    expect(await owner.allowsAnyDevice({ appId })).toBe(false);
    expect(await owner.getAppOwner({ appId })).toBe(dev(0).address);

    const again = await owner.registerApp(params);
    expect(again).toEqual({ appId, alreadyDone: true, txHash: first.txHash, blockNumber: first.blockNumber });
    expect(await sentBy(dev(0).address)).toBe(before + 1);

    const deployed = await publicClient().getContractEvents({
      address: kms,
      abi: dstackKmsAbi,
      eventName: 'AppDeployedViaFactory',
      args: { appId },
      fromBlock: 0n,
    });
    const registrations = (
      await publicClient().getContractEvents({
        address: kms,
        abi: dstackKmsAbi,
        eventName: 'AppRegistered',
        fromBlock: 0n,
      })
    ).filter((e) => e.args.appId === appId);
    expect([deployed.length, registrations.length]).toEqual([1, 1]);
    expect(await owner.findAppRegistration({ kmsAddress: kms, appId })).toEqual({
      appId,
      deployer: dev(0).address,
      txHash: first.txHash,
      blockNumber: first.blockNumber,
    });
  });

  it('answers a registration raced by an identical send from elsewhere with a retryable CONFLICT, then alreadyDone', async () => {
    const salt = idempotencySalt('wf-race', 'register-app');
    const params = { kmsAddress: kms, salt, composeHash: bytes32('10') };
    const args = [dev(0).address, false, false, bytes32('00'), bytes32('10'), salt] as const;
    await withManualMining(async () => {
      // Another process with the same key and salt got its transaction in first; it is still pending.
      const elsewhere = await wallet(0).writeContract({
        address: kms,
        abi: dstackKmsAbi,
        functionName: 'deployAndRegisterAppWithSalt',
        args,
      });
      const before = await sentBy(dev(0).address);
      const err = await rejection(owner.registerApp(params));
      expect(err).toMatchObject({ code: 'CONFLICT', retryable: true });
      expect(await sentBy(dev(0).address)).toBe(before);

      await testClient().mine({ blocks: 1 });
      expect(await owner.registerApp(params)).toMatchObject({ alreadyDone: true, txHash: elsewhere });
      expect(await sentBy(dev(0).address)).toBe(before);
    });
  });

  it('gives another salt another app, owned by the owner asked for', async () => {
    const a = await registered('wf-a');
    const { appId: b } = await owner.registerApp({
      kmsAddress: kms,
      salt: idempotencySalt('wf-b', 'register-app'),
      composeHash: bytes32('10'),
      owner: dev(2).address,
      allowAnyDevice: true,
    });
    expect(b).not.toBe(a);
    expect(await owner.getAppOwner({ appId: b })).toBe(dev(2).address);
    expect(await owner.allowsAnyDevice({ appId: b })).toBe(true);
  });

  it('refuses an address without the factory, sending nothing', async () => {
    const before = await sentBy(dev(0).address);
    const err = await rejection(
      owner.registerApp({ kmsAddress: dev(5).address, salt: bytes32('01'), composeHash: bytes32('10') }),
    );
    expect(err).toMatchObject({ code: 'NO_CONTRACT', retryable: false });
    expect(await sentBy(dev(0).address)).toBe(before);
  });
});

describe('addComposeHash / addDevice', () => {
  it('adds once; a rerun reads the chain and sends nothing', async () => {
    const appId = await registered('wf-add');
    const before = await sentBy(dev(0).address);

    const hash = await owner.addComposeHash({ appId, composeHash: 'c1'.repeat(32) });
    expect(hash).toMatchObject({ alreadyDone: false, txHash: expect.stringMatching(/^0x[0-9a-f]{64}$/) });
    expect(await owner.isComposeHashAllowed({ appId, composeHash: bytes32('c1') })).toBe(true);
    expect(await owner.addComposeHash({ appId, composeHash: `0x${'C1'.repeat(32)}` })).toEqual({ alreadyDone: true });

    const device = await owner.addDevice({ appId, deviceId: bytes32('d1') });
    expect(device.alreadyDone).toBe(false);
    expect(await owner.isDeviceAllowed({ appId, deviceId: bytes32('d1') })).toBe(true);
    expect(await owner.addDevice({ appId, deviceId: bytes32('d1') })).toEqual({ alreadyDone: true });

    expect(await sentBy(dev(0).address)).toBe(before + 2);
  });

  it('resumes a write whose confirmation timed out with knownTxHash instead of sending again', async () => {
    const appId = await registered('wf-resume');
    await withManualMining(async () => {
      const submitted: Hex[] = [];
      const impatient = client(0, { timeoutMs: 300 });
      const timedOut = await rejection(
        impatient.addComposeHash({ appId, composeHash: bytes32('c2'), onSubmitted: (h) => void submitted.push(h) }),
      );
      expect(timedOut).toMatchObject({ code: 'CONFIRMATION_TIMEOUT', retryable: true });
      expect(timedOut.txHash).toBeDefined();
      expect(submitted).toEqual([timedOut.txHash]);
      const before = await sentBy(dev(0).address);

      // The retry: the hash is still pending, so a state read alone would send a duplicate.
      const retry = owner.addComposeHash({ appId, composeHash: bytes32('c2'), knownTxHash: timedOut.txHash });
      await new Promise((r) => setTimeout(r, 300));
      expect(await sentBy(dev(0).address)).toBe(before);
      await testClient().mine({ blocks: 1 });
      expect(await retry).toMatchObject({ alreadyDone: false, txHash: timedOut.txHash });
      expect(await sentBy(dev(0).address)).toBe(before);
    });
    expect(await owner.isComposeHashAllowed({ appId, composeHash: bytes32('c2') })).toBe(true);
  });

  it('sends one transaction for two overlapping identical writes', async () => {
    const appId = await registered('wf-overlap');
    const before = await sentBy(dev(0).address);
    const [a, b] = await withManualMining(async () => {
      const both = Promise.all([
        owner.addDevice({ appId, deviceId: bytes32('d2') }),
        client(0).addDevice({ appId, deviceId: bytes32('d2') }),
      ]);
      await until(async () => (await sentBy(dev(0).address)) > before);
      await testClient().mine({ blocks: 1 });
      return both;
    });
    expect(a).toEqual(b);
    expect(await sentBy(dev(0).address)).toBe(before + 1);
  });

  it('serialises different writes of one sender so their nonces do not collide', async () => {
    const appId = await registered('wf-parallel');
    const before = await sentBy(dev(0).address);
    const results = await Promise.all(
      ['e1', 'e2', 'e3', 'e4'].map((b) => client(0).addComposeHash({ appId, composeHash: bytes32(b) })),
    );
    expect(results.every((r) => !r.alreadyDone)).toBe(true);
    expect(await sentBy(dev(0).address)).toBe(before + 4);
  });

  it('refuses a knownTxHash of another call; sends anew when the node never saw the hash', async () => {
    const appId = await registered('wf-known');
    const other = await owner.addDevice({ appId, deviceId: bytes32('d3') });
    if (other.alreadyDone) throw new Error('expected a fresh transaction');
    const before = await sentBy(dev(0).address);
    const wrong = await rejection(
      owner.addComposeHash({ appId, composeHash: bytes32('c3'), knownTxHash: other.txHash }),
    );
    expect(wrong).toMatchObject({ code: 'INVALID_ARGUMENT', retryable: false });
    expect(wrong.message).toContain(`knownTxHash ${other.txHash} is not addComposeHash`);
    expect(await sentBy(dev(0).address)).toBe(before);

    const lost = await owner.addComposeHash({ appId, composeHash: bytes32('c3'), knownTxHash: bytes32('99') });
    expect(lost.alreadyDone).toBe(false);
    expect(await sentBy(dev(0).address)).toBe(before + 1);
  });
});

describe('the contracts beyond what the library sends', () => {
  it('removes hashes and devices, switches allowAnyDevice and transfers ownership, for the owner only', async () => {
    const appId = await registered('wf-surface');
    const app = { address: appId, abi: dstackAppAbi } as const;
    await owner.addDevice({ appId, deviceId: bytes32('d5') });
    await mined(await wallet(0).writeContract({ ...app, functionName: 'removeComposeHash', args: [bytes32('10')] }));
    await mined(await wallet(0).writeContract({ ...app, functionName: 'removeDevice', args: [bytes32('d5')] }));
    await mined(await wallet(0).writeContract({ ...app, functionName: 'setAllowAnyDevice', args: [true] }));
    expect(await owner.isComposeHashAllowed({ appId, composeHash: bytes32('10') })).toBe(false);
    expect(await owner.isDeviceAllowed({ appId, deviceId: bytes32('d5') })).toBe(false);
    expect(await owner.allowsAnyDevice({ appId })).toBe(true);

    // Nobody may set an app up again, not even its owner: only the factory, once, in the creating transaction.
    const reinit = await publicClient()
      .simulateContract({
        ...app,
        account: dev(0).address,
        functionName: 'initialize',
        args: [dev(0).address, false, bytes32('00'), bytes32('11')],
      })
      .catch((e: unknown) => toChainError(e, 'initialize'));
    expect(reinit).toMatchObject({ code: 'REVERTED', message: 'initialize: reverted: NotDeployer' });

    await mined(await wallet(0).writeContract({ ...app, functionName: 'transferOwnership', args: [dev(3).address] }));
    expect(await owner.getAppOwner({ appId })).toBe(dev(3).address);
    expect(await rejection(owner.addComposeHash({ appId, composeHash: bytes32('12') }))).toMatchObject({
      code: 'NOT_OWNER',
    });
  });

  it('the SDK-compatible 5-argument factory call deploys a new app every time (hence the salted variant)', async () => {
    const deploy = async () => {
      const receipt = await mined(
        await wallet(0).writeContract({
          address: kms,
          abi: dstackKmsAbi,
          functionName: 'deployAndRegisterApp',
          args: [dev(0).address, false, false, bytes32('00'), bytes32('10')],
        }),
      );
      return (await owner.findAppRegistration({ kmsAddress: kms, fromBlock: Number(receipt.blockNumber) }))?.appId;
    };
    const first = await deploy();
    const second = await deploy();
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
  });
});

describe('refusals', () => {
  it('tells a non-owner who owns the app, before any transaction', async () => {
    const appId = await registered('wf-owner');
    const stranger = client(1);
    const before = await sentBy(dev(1).address);
    // Thunks, not promises: a second call started early would reject unobserved while the first is awaited.
    for (const attempt of [
      () => stranger.addComposeHash({ appId, composeHash: bytes32('c4') }),
      () => stranger.addDevice({ appId, deviceId: bytes32('d4') }),
    ]) {
      const err = await rejection(attempt());
      expect(err).toMatchObject({ code: 'NOT_OWNER', retryable: false });
      expect(err.message).toBe(`sender ${dev(1).address} is not the owner ${dev(0).address} of app ${appId}`);
    }
    expect(await sentBy(dev(1).address)).toBe(before);
    // Already allowed is already done, whoever asks.
    expect(await stranger.addComposeHash({ appId, composeHash: bytes32('10') })).toEqual({ alreadyDone: true });

    // The contract enforces it too, with the error the SDK decodes.
    const direct = await publicClient()
      .simulateContract({
        account: dev(1).address,
        address: appId,
        abi: dstackAppAbi,
        functionName: 'addComposeHash',
        args: [bytes32('c4')],
      })
      .catch((e: unknown) => toChainError(e, 'direct call'));
    expect(direct).toMatchObject({
      code: 'NOT_OWNER',
      message: `direct call: sender ${dev(1).address} is not the owner`,
    });
  });

  it('refuses a node on another chain, non-retryable, before reading or sending', async () => {
    const err = await rejection(
      client(0, { chainId: 8453 }).addComposeHash({ appId: kms, composeHash: bytes32('c5') }),
    );
    expect(err).toMatchObject({ code: 'WRONG_CHAIN', retryable: false });
    expect(err.message).toContain(`is on chain ${node.chainId}, but chain 8453 is configured`);
  });

  it('reports an account that cannot pay as non-retryable, with no trace of its key', async () => {
    const key = generatePrivateKey();
    const broke = createChainClient({
      rpcUrl: node.rpcUrl,
      account: privateKeyToAccount(key),
      confirmations: 1,
      timeoutMs: 5000,
    });
    const err = await rejection(
      broke.registerApp({ kmsAddress: kms, salt: bytes32('02'), composeHash: bytes32('10') }),
    );
    expect(err).toMatchObject({ code: 'INSUFFICIENT_FUNDS', retryable: false });
    expect(inspect(err, { depth: 20 })).not.toContain(key.slice(2));
    expect(await sentBy(privateKeyToAccount(key).address)).toBe(0);
  });

  it('classifies an unreachable RPC as retryable, with no trace of the key', async () => {
    const down = client(0, { rpcUrl: `http://127.0.0.1:${await freePort()}/v2/PROVIDER-API-KEY` });
    for (const attempt of [
      () => down.addComposeHash({ appId: kms, composeHash: bytes32('c6') }),
      () => down.isAppRegistered({ kmsAddress: kms, appId: kms }),
    ]) {
      const err = await rejection(attempt());
      expect(err).toMatchObject({ code: 'RPC_UNAVAILABLE', retryable: true });
      expect(err.message).not.toContain('PROVIDER-API-KEY');
      expect(inspect(err, { depth: 20 })).not.toContain(dev(0).privateKey.slice(2));
    }
  });
});

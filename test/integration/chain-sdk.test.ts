// Conformance: the official @phala/cloud 0.2.9 SDK — what `phala deploy --kms …` runs — works against our contracts
// on anvil, and what it writes is what src/chain reads (and the other way round).
import { addComposeHash, addDevice, deployAppAuth, SUPPORTED_CHAINS } from '@phala/cloud';
import type { Address, Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Anvil, startAnvil } from '../../src/chain/anvil';
import { type ChainClient, createChainClient } from '../../src/chain/client';
import { accountFromPrivateKey } from '../../src/chain/config';
import { idempotencySalt } from '../../src/chain/ids';

let node: Anvil;
let ours: ChainClient;
let kms: Address;
const hex = (byte: string) => byte.repeat(32);
const sdk = () => ({ chain: SUPPORTED_CHAINS[31337], rpcUrl: node.rpcUrl, privateKey: node.accounts[0]!.privateKey });

beforeAll(async () => {
  node = await startAnvil();
  ours = createChainClient({
    rpcUrl: node.rpcUrl,
    chainId: 31337,
    account: accountFromPrivateKey(node.accounts[0]!.privateKey, 'test key'),
    confirmations: 1,
    timeoutMs: 10_000,
    pollingIntervalMs: 50,
  });
  ({ kmsAddress: kms } = await ours.deployKms());
  // The SDK's addComposeHash prints the receipt's logs with console.log.
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterAll(async () => {
  vi.restoreAllMocks();
  await node?.stop();
});

describe('@phala/cloud 0.2.9 against our DstackKms / DstackApp', () => {
  it('deployAppAuth registers an app that src/chain sees, with the event the SDK parses', async () => {
    // Ids as the Phala API returns them: 64 hex digits, no 0x.
    const result = await deployAppAuth({
      ...sdk(),
      kmsContractAddress: kms,
      deviceId: hex('a1'),
      composeHash: hex('b1'),
    });
    const appId = result.appId as Address;
    expect(result.deployer).toBe(node.accounts[0]!.address);
    expect(await ours.isAppRegistered({ kmsAddress: kms, appId })).toBe(true);
    expect(await ours.isComposeHashAllowed({ appId, composeHash: hex('b1') })).toBe(true);
    expect(await ours.isDeviceAllowed({ appId, deviceId: hex('a1') })).toBe(true);
    expect(await ours.getAppOwner({ appId })).toBe(node.accounts[0]!.address);
    expect(await ours.findAppRegistration({ kmsAddress: kms, appId })).toMatchObject({
      deployer: node.accounts[0]!.address,
      txHash: result.transactionHash as Hex,
    });

    const added = await addComposeHash({ ...sdk(), appId, composeHash: hex('b2') });
    expect(added.transactionHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await ours.isComposeHashAllowed({ appId, composeHash: hex('b2') })).toBe(true);
    // What the SDK wrote is already done for us: no second transaction.
    expect(await ours.addComposeHash({ appId, composeHash: hex('b2') })).toEqual({ alreadyDone: true });

    await addDevice({ ...sdk(), appAddress: appId, deviceId: hex('a2') });
    expect(await ours.isDeviceAllowed({ appId, deviceId: hex('a2') })).toBe(true);
  });

  it('the SDK manages an app registered through our salted factory call', async () => {
    const { appId } = await ours.registerApp({
      kmsAddress: kms,
      salt: idempotencySalt('wf-sdk', 'register-app'),
      composeHash: hex('c1'),
    });
    await addComposeHash({ ...sdk(), appId, composeHash: hex('c2') });
    expect(await ours.isComposeHashAllowed({ appId, composeHash: hex('c2') })).toBe(true);
  });

  it('the SDK refuses a non-owner, reading owner() from our contract', async () => {
    const { appId } = await deployAppAuth({ ...sdk(), kmsContractAddress: kms, composeHash: hex('d1') });
    await expect(
      addComposeHash({
        ...sdk(),
        privateKey: node.accounts[1]!.privateKey,
        appId: appId as Address,
        composeHash: hex('d2'),
      }),
    ).rejects.toThrow(/is not the owner/);
    expect(await ours.isComposeHashAllowed({ appId, composeHash: hex('d2') })).toBe(false);
  });
});

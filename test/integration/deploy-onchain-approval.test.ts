// Updates of an on-chain app on a real local chain: the worker's key approves the new compose hash when it owns the
// app; when the owner is another account (a multisig), `onchain.approval: external` publishes the call, waits for the
// owner's transaction hash, checks it on chain, and commits — or gives up at the deadline and rolls back.
import {
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  type Hex,
  http,
  type PublicClient,
  parseEventLogs,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Anvil,
  chainVerifier,
  createChainClient,
  dstackAppAbi,
  idempotencySalt,
  startAnvil,
} from '../../src/chain';
import type { ChainClient } from '../../src/chain/client';
import { accountFromPrivateKey } from '../../src/chain/config';
import {
  ApprovalRejectedError,
  getDeployStatus,
  getPendingApproval,
  startDeploy,
  submitApprovalTx,
} from '../../src/client/deploy';
import type { DeploymentSpec } from '../../src/spec';
import type { PendingApproval } from '../../src/workflows/deploy-types';
import { cleanEnv, runCli } from '../e2e/cli';
import { recordHistory } from '../support/replay';
import { COMPOSE, testSpec } from '../support/specs';
import { startStack, type TestStack } from '../support/stack';
import { TEST_CODEC_KEY_TEXT, TEST_CODEC_KEYS, temporalTarget, uniqueId } from '../support/temporal';

const composeVersion = (n: number) => `${COMPOSE}    environment:\n      - VERSION=${n}\n`;

describe('on-chain compose-hash approval of an update', () => {
  let anvil: Anvil;
  let chain: ChainClient;
  let kmsAddress: string;
  let stack: TestStack;
  let reader: PublicClient;
  const name = uniqueId('approval');
  let appId: Hex;

  /** Account i of anvil's dev accounts as a wallet that sends raw transactions (the "multisig" and a stranger). */
  const wallet = (i: number) =>
    createWalletClient({
      account: privateKeyToAccount(anvil.accounts[i]!.privateKey),
      chain: { ...foundry, id: anvil.chainId },
      transport: http(anvil.rpcUrl),
    });
  const nonceOf = (i: number) => reader.getTransactionCount({ address: anvil.accounts[i]!.address });
  const spec = (version: number, extra: Record<string, unknown> = {}): DeploymentSpec =>
    testSpec({ name, kms: 'ethereum', compose: { inline: composeVersion(version) }, ...extra });
  const deploy = (s: DeploymentSpec) =>
    startDeploy(s, { client: stack.client, taskQueue: stack.taskQueue, codecKeys: TEST_CODEC_KEYS });
  const liveCvm = () => {
    const live = stack.sim.cvms().filter((c) => c.name === name);
    expect(live).toHaveLength(1);
    return live[0]!;
  };
  const addedHashes = async (app: Hex) =>
    (await reader.getContractEvents({ address: app, abi: dstackAppAbi, eventName: 'ComposeHashAdded', fromBlock: 0n }))
      .map((e) => e.args.composeHash)
      .filter((h) => h !== undefined);
  async function pendingApproval(): Promise<PendingApproval> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const pending = await getPendingApproval(stack.client, name).catch(() => null);
      if (pending) return pending;
      if (Date.now() > deadline)
        throw new Error(
          `no approval published; progress: ${JSON.stringify(await getDeployStatus(stack.client, name))}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const rejection = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('expected a rejection');
      },
      (e: unknown) => e as Error,
    );

  beforeAll(async () => {
    anvil = await startAnvil();
    reader = createPublicClient({ transport: http(anvil.rpcUrl) });
    chain = createChainClient({
      rpcUrl: anvil.rpcUrl,
      chainId: anvil.chainId,
      account: accountFromPrivateKey(anvil.accounts[0]!.privateKey, 'test'),
      confirmations: 1,
      timeoutMs: 30_000,
      pollingIntervalMs: 50,
    });
    ({ kmsAddress } = await chain.deployKms());
    const verifier = chainVerifier({ chain, chainId: anvil.chainId, kmsContractAddress: kmsAddress });
    stack = await startStack({ sim: { onChainVerifier: verifier }, activities: { chain } });
    await stack.startWorker();
    const created = await deploy(spec(1)).then((h) => h.result());
    appId = created.appId as Hex;
  });
  afterAll(async () => {
    await stack?.close();
    await anvil?.stop();
  });

  it('approves the new hash with the worker key, once, before committing the update', async () => {
    const handle = await deploy(spec(2));
    const result = await handle.result();
    await recordHistory(handle, 'deploy-update-onchain');
    expect(result.mode).toBe('update');
    expect(`0x${result.appId}`.toLowerCase()).toBe(appId.toLowerCase());
    const hash = `0x${result.composeHash}`;
    expect(await chain.isComposeHashAllowed({ appId, composeHash: hash })).toBe(true);
    expect((await addedHashes(appId)).filter((h) => h === hash)).toHaveLength(1);
    expect(liveCvm()).toMatchObject({ composeHash: result.composeHash, status: 'running' });
  });

  it('stops with a clear, non-retried error before any transaction when the worker does not own the app', async () => {
    // The app now belongs to another account (say a multisig): the worker's key may no longer approve.
    const owner0 = wallet(0);
    const handover = await owner0.writeContract({
      address: appId,
      abi: dstackAppAbi,
      functionName: 'transferOwnership',
      args: [anvil.accounts[2]!.address],
    });
    await reader.waitForTransactionReceipt({ hash: handover });
    const before = liveCvm().composeHash;
    const nonce = await nonceOf(0);

    const handle = await deploy(spec(3));
    const err = await rejection(handle.result());
    const message = (err as { cause?: Error }).cause?.message ?? '';
    expect(message).toMatch(
      new RegExp(
        `failed in phase approve: allow compose hash on app ${appId}: sender ${anvil.accounts[0]!.address} is not the owner ${anvil.accounts[2]!.address} of app ${appId}; to have the owner approve it, set onchain: \\{approval: external\\}`,
        'i',
      ),
    );
    expect(await nonceOf(0)).toBe(nonce);
    expect(liveCvm()).toMatchObject({ composeHash: before, status: 'running' });
    // Non-retryable: the approval activity ran exactly once.
    const history = await handle.fetchHistory();
    const approvals = (history.events ?? []).filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'addComposeHashOnChain',
    );
    expect(approvals).toHaveLength(1);
    const started = (history.events ?? []).filter(
      (e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId ?? -1) === Number(approvals[0]!.eventId),
    );
    expect(started.map((e) => e.activityTaskStartedEventAttributes?.attempt)).toEqual([1]);
  });

  it('with approval: external, gives up at the deadline and rolls back, leaving the running version alone', async () => {
    const before = liveCvm().composeHash;
    const nonce = await nonceOf(0);
    const handle = await deploy(spec(3, { onchain: { approval: 'external', deadline: '10s' } }));
    const pending = await pendingApproval();
    expect(Date.parse(pending.deadline) - Date.parse(pending.requestedAt)).toBe(10_000);

    const err = await rejection(handle.result());
    const message = (err as { cause?: Error }).cause?.message ?? '';
    expect(message).toContain(
      `failed in phase approve: no transaction approving compose hash ${pending.composeHash} on app ${appId} arrived by the deadline ${pending.deadline}`,
    );
    expect(message).toMatch(/nothing to roll back|rolled back/);
    await recordHistory(handle, 'deploy-approval-deadline');
    const progress = await getDeployStatus(stack.client, name);
    expect(progress.phase).toBe('failed');
    expect(progress.timingsMs.rollback).toBeGreaterThanOrEqual(0);
    expect(await getPendingApproval(stack.client, name)).toBeNull();
    expect(liveCvm()).toMatchObject({ composeHash: before, status: 'running' });
    expect(await chain.isComposeHashAllowed({ appId, composeHash: pending.composeHash })).toBe(false);
    expect(await nonceOf(0)).toBe(nonce);
    // Too late: the deployment is over.
    const late = await rejection(submitApprovalTx(stack.client, name, `0x${'ab'.repeat(32)}`));
    expect(late).toBeInstanceOf(ApprovalRejectedError);
    expect(late.message).toContain(`no deployment of ${name} is running`);
  });

  it('with approval: external, publishes the call, rejects wrong and failed transactions, and commits on the right one', async () => {
    const workerNonce = await nonceOf(0);
    const handle = await deploy(spec(3, { onchain: { approval: 'external', deadline: '10m' } }));
    const pending = await pendingApproval();
    const hash = pending.composeHash as Hex;
    const calldata = encodeFunctionData({ abi: dstackAppAbi, functionName: 'addComposeHash', args: [hash] });
    expect(pending).toMatchObject({
      app: name,
      appId,
      chainId: anvil.chainId,
      contract: appId,
      function: 'addComposeHash(bytes32)',
      args: [hash],
      calldata,
      owner: anvil.accounts[2]!.address,
      rejected: [],
    });

    // What a signer reads: the CLI prints the same request.
    const cliEnv = cleanEnv({
      TEMPORAL_ADDRESS: temporalTarget().address,
      TEMPORAL_NAMESPACE: temporalTarget().namespace,
      CVMFLOW_CODEC_KEY: TEST_CODEC_KEY_TEXT,
    });
    const json = await runCli(['deploy', 'approval', name, '--json'], { env: cliEnv });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(pending);
    const text = await runCli(['deploy', 'approval', name], { env: cliEnv });
    expect(text.stdout).toContain(`calldata:  ${calldata}`);
    expect(text.stdout).toContain(`cvmflow deploy approve ${name} --tx`);

    // Malformed: the update's validator refuses it before anything runs.
    const malformed = await rejection(submitApprovalTx(stack.client, name, '0x1234'));
    expect(malformed.message).toBe('not a transaction hash: expected 0x followed by 64 hex digits, got "0x1234"');
    const cliRejected = await runCli(['deploy', 'approve', name, '--tx', 'nope'], { env: cliEnv });
    expect(cliRejected.code).toBe(2);
    expect(cliRejected.stderr).toContain('rejected: not a transaction hash');

    // Unknown to the chain.
    const unknown = `0x${'ab'.repeat(32)}`;
    expect((await rejection(submitApprovalTx(stack.client, name, unknown))).message).toBe(
      `transaction ${unknown} is unknown on chain ${anvil.chainId}; check the hash and the network it was sent on`,
    );

    // The owner approves another hash.
    const multisig = wallet(2);
    const other = `0x${'0c'.repeat(32)}` as Hex;
    const otherTx = await multisig.writeContract({
      address: appId,
      abi: dstackAppAbi,
      functionName: 'addComposeHash',
      args: [other],
    });
    await reader.waitForTransactionReceipt({ hash: otherTx });
    expect((await rejection(submitApprovalTx(stack.client, name, otherTx))).message).toBe(
      `transaction ${otherTx} added compose hash ${other} to app ${appId}, not ${hash}`,
    );

    // The right hash, but on another app (one the "multisig" owns too).
    const { appId: elsewhere } = await chain.registerApp({
      kmsAddress,
      salt: idempotencySalt('approval-test', name),
      composeHash: other,
      owner: anvil.accounts[2]!.address,
    });
    const elsewhereTx = await multisig.writeContract({
      address: elsewhere,
      abi: dstackAppAbi,
      functionName: 'addComposeHash',
      args: [hash],
    });
    await reader.waitForTransactionReceipt({ hash: elsewhereTx });
    expect((await rejection(submitApprovalTx(stack.client, name, elsewhereTx))).message).toBe(
      `transaction ${elsewhereTx} did not add compose hash ${hash} to app ${appId} (it was sent to ${elsewhere})`,
    );

    // The right call from someone who is not the owner: mined, reverted.
    const failedTx = await wallet(3).sendTransaction({ to: appId, data: calldata, gas: 200_000n });
    const failedReceipt = await reader.waitForTransactionReceipt({ hash: failedTx });
    expect(failedReceipt.status).toBe('reverted');
    expect((await rejection(submitApprovalTx(stack.client, name, failedTx))).message).toBe(
      `transaction ${failedTx} reverted in block ${failedReceipt.blockNumber}; it approved nothing`,
    );

    // Still waiting, with every rejection on record.
    expect((await getDeployStatus(stack.client, name)).phase).toBe('approve');
    const still = await getPendingApproval(stack.client, name);
    expect(still?.rejected.map((r) => r.txHash)).toEqual([unknown, otherTx, elsewhereTx, failedTx]);
    expect(liveCvm().status).toBe('running');

    // The owner's real approval.
    const approveTx = await multisig.sendTransaction({ to: appId, data: calldata });
    const receipt = await reader.waitForTransactionReceipt({ hash: approveTx });
    expect(
      parseEventLogs({ abi: dstackAppAbi, eventName: 'ComposeHashAdded', logs: receipt.logs }).map(
        (l) => l.args.composeHash,
      ),
    ).toEqual([hash]);
    const cliApproved = await runCli(
      [
        'deploy',
        'approve',
        name,
        '--tx',
        approveTx,
        '--reason',
        'signed by the multisig',
        '--by',
        'treasury',
        '--json',
      ],
      { env: cliEnv },
    );
    expect(cliApproved.code).toBe(0);
    expect(JSON.parse(cliApproved.stdout)).toEqual({
      txHash: approveTx,
      blockNumber: Number(receipt.blockNumber),
      composeHash: hash,
      by: 'treasury',
      reason: 'signed by the multisig',
      at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });

    const result = await handle.result();
    await recordHistory(handle, 'deploy-approval-external');
    expect(result.mode).toBe('update');
    expect(`0x${result.composeHash}`).toBe(hash);
    expect(liveCvm()).toMatchObject({ composeHash: result.composeHash, status: 'running' });
    expect(await getPendingApproval(stack.client, name)).toBeNull();
    // The worker sent nothing: every transaction came from the owner.
    expect(await nonceOf(0)).toBe(workerNonce + 1); // the test's own registerApp above, from the same key
    expect((await rejection(submitApprovalTx(stack.client, name, approveTx))).message).toContain(
      `no deployment of ${name} is running`,
    );
  });
});

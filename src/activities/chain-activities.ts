// On-chain steps of the deploy pipeline (DstackKms registration, compose-hash and device allow-lists). Each write
// reads the chain first and does nothing when the change is already there; a write that was sent keeps its
// transaction hash in the activity's heartbeat, so a retry after a crash waits for that transaction instead of
// sending a second one. The private key and the RPC URL stay in the worker's environment.
import { ApplicationFailure, activityInfo, heartbeat } from '@temporalio/activity';
import { encodeFunctionData } from 'viem';
import { dstackAppAbi } from '../chain/abi';
import type { ChainClient } from '../chain/client';
import { ChainError } from '../chain/errors';
import { idempotencySalt, toAddress, toBytes32 } from '../chain/ids';

export interface ChainActivityDeps {
  /** Undefined when the worker has no ETH_RPC_URL / PRIVATE_KEY: on-chain KMS deploys then fail with a clear error. */
  chain?: ChainClient;
}

interface TxCheckpoint {
  txHash?: string;
}

function requireChain(chain: ChainClient | undefined): ChainClient {
  if (!chain) {
    throw ApplicationFailure.create({
      type: 'ChainNotConfigured',
      nonRetryable: true,
      message:
        'on-chain KMS needs ETH_RPC_URL and PRIVATE_KEY (or PRIVATE_KEY_FILE) in the worker environment; set them and restart the worker',
    });
  }
  return chain;
}

/** How often a chain activity heartbeats while it waits; workflows' heartbeat timeouts must be several times this. */
export const CHAIN_HEARTBEAT_MS = 1000;

/**
 * ChainError texts are written to be safe (no key, RPC host only); its `cause` may hold the RPC URL, so drop it.
 * Heartbeats every second while a write waits for its confirmations, so a caller that sets a heartbeat timeout
 * learns of a dead worker in seconds, and its retry finds the sent transaction's hash in the details.
 */
export async function onChain<T>(
  context: string,
  fn: (write: { knownTxHash?: string; onSubmitted: (h: string) => void }) => Promise<T>,
  hint?: Partial<Record<ChainError['code'], string>>,
): Promise<T> {
  const cp: TxCheckpoint = (activityInfo().heartbeatDetails as TxCheckpoint | undefined) ?? {};
  const beat = setInterval(() => heartbeat(cp), CHAIN_HEARTBEAT_MS);
  try {
    return await fn({
      knownTxHash: cp.txHash,
      onSubmitted: (txHash) => {
        cp.txHash = txHash;
        heartbeat(cp);
      },
    });
  } catch (err) {
    if (err instanceof ChainError) {
      if (err.txHash) heartbeat({ txHash: err.txHash });
      throw ApplicationFailure.create({
        type: `Chain${err.code}`,
        message: `${context}: ${err.message}${hint?.[err.code] ?? ''}`,
        nonRetryable: !err.retryable,
      });
    }
    throw err;
  } finally {
    clearInterval(beat);
  }
}

export function createChainActivities(deps: ChainActivityDeps) {
  return {
    /** Registers the app in DstackKms at a CREATE2 address fixed by (sender, key): one key, at most one app. */
    async registerAppOnChain(req: {
      kmsAddress: string;
      composeHash: string;
      deviceId?: string;
      idempotencyKey: string;
    }): Promise<{ appId: string; txHash?: string; alreadyDone: boolean }> {
      const chain = requireChain(deps.chain);
      return onChain('register app on chain', async (write) => {
        const res = await chain.registerApp({
          kmsAddress: req.kmsAddress,
          salt: idempotencySalt('cvmflow', req.idempotencyKey),
          composeHash: req.composeHash,
          deviceId: req.deviceId,
          ...write,
        });
        return { appId: res.appId, txHash: res.txHash, alreadyDone: res.alreadyDone };
      });
    },

    async addComposeHashOnChain(req: {
      appId: string;
      composeHash: string;
    }): Promise<{ txHash?: string; alreadyDone: boolean }> {
      const chain = requireChain(deps.chain);
      return onChain(
        `allow compose hash on app ${req.appId}`,
        async (write) => {
          const res = await chain.addComposeHash({ appId: req.appId, composeHash: req.composeHash, ...write });
          return res.alreadyDone ? { alreadyDone: true } : { alreadyDone: false, txHash: res.txHash };
        },
        { NOT_OWNER: '; to have the owner approve it, set onchain: {approval: external} in the spec' },
      );
    },

    /** The addComposeHash call the app's owner must send (`approval: external`), and whether it is still needed. */
    async composeHashApprovalRequest(req: { appId: string; composeHash: string }): Promise<{
      chainId: number;
      contract: string;
      calldata: string;
      composeHash: string;
      owner: string;
      allowed: boolean;
    }> {
      const chain = requireChain(deps.chain);
      return onChain(`prepare the approval of a compose hash on app ${req.appId}`, async () => {
        const appId = toAddress(req.appId, 'appId');
        const composeHash = toBytes32(req.composeHash, 'composeHash');
        const [chainId, owner, allowed] = await Promise.all([
          chain.getChainId(),
          chain.getAppOwner({ appId }),
          chain.isComposeHashAllowed({ appId, composeHash }),
        ]);
        const calldata = encodeFunctionData({ abi: dstackAppAbi, functionName: 'addComposeHash', args: [composeHash] });
        return { chainId, contract: appId, calldata, composeHash, owner, allowed };
      });
    },

    /** Accepts a transaction someone else sent only if the chain shows it approved the hash; else says why not. */
    async verifyComposeHashApproval(req: {
      appId: string;
      composeHash: string;
      txHash: string;
    }): Promise<{ txHash: string; blockNumber: number }> {
      const chain = requireChain(deps.chain);
      const check = await onChain(`verify approval transaction ${req.txHash}`, () => chain.verifyComposeHashTx(req));
      if (!check.approved) {
        throw ApplicationFailure.create({ type: 'ApprovalRejected', message: check.reason, nonRetryable: true });
      }
      return { txHash: req.txHash.toLowerCase(), blockNumber: check.blockNumber };
    },

    async addDeviceOnChain(req: {
      appId: string;
      deviceId: string;
    }): Promise<{ txHash?: string; alreadyDone: boolean }> {
      const chain = requireChain(deps.chain);
      return onChain(`allow device on app ${req.appId}`, async (write) => {
        if (await chain.allowsAnyDevice({ appId: req.appId })) return { alreadyDone: true };
        const res = await chain.addDevice({ appId: req.appId, deviceId: req.deviceId, ...write });
        return res.alreadyDone ? { alreadyDone: true } : { alreadyDone: false, txHash: res.txHash };
      });
    },
  };
}

// The activities of the one compose-update path (src/workflows/compose-update.ts), used by deploy updates and rollouts
// alike. One idempotency rule: every step reads before it writes. Preparing writes nothing on the CVM; a commit is
// skipped when the CVM already carries the new hash (an earlier attempt landed and its reply was lost); a restore is
// skipped when the CVM is already back, or left alone when it carries neither hash (someone deployed over it since).
// One restore format: the fields the update changed, as they were (RestorePatch), checked to give the previous hash
// again before it is committed. The on-chain approval itself is the chain activities' addComposeHashOnChain.
import { createHash } from 'node:crypto';
import { ApplicationFailure, cancellationSignal } from '@temporalio/activity';
import { encodeFunctionData } from 'viem';
import { dstackAppAbi } from '../chain/abi';
import type { ChainClient } from '../chain/client';
import { toAddress, toBytes32 } from '../chain/ids';
import { OFF_STATUSES } from '../domain/cvm-status';
import type { PhalaClient } from '../phala/client';
import type {
  ComposeChange,
  ExternalApprovalNeeded,
  PreparedUpdate,
  RestoreOutcome,
  RestorePatch,
} from '../workflows/compose-update-types';
import { type BusyOptions, busyRetrier } from './busy';
import { onChain } from './chain-activities';
import { classified } from './failures';

export interface ComposeUpdateActivityDeps extends BusyOptions {
  phala: PhalaClient;
  /** The worker's chain client, when it has one: the approval check compares app owners with its key. */
  chain?: ChainClient;
}

const ON_CHAIN_KMS = new Set(['ethereum', 'base']);

/** Restore patches are deduplicated by this key (the same digest the rollout used before this path existed). */
export function restoreKeyOf(patch: RestorePatch): string {
  return createHash('sha256').update(JSON.stringify(patch)).digest('hex').slice(0, 16);
}

/** The next app compose and the patch that undoes it; fields are visited in a fixed order so keys stay stable. */
export function applyChange(
  current: Record<string, unknown>,
  change: ComposeChange,
): { next: Record<string, unknown>; restore: RestorePatch } {
  const next: Record<string, unknown> = { ...current };
  const restore: RestorePatch = {};
  if (change.dockerCompose !== undefined) {
    restore.docker_compose_file = String(current.docker_compose_file ?? '');
    restore.pre_launch_script = typeof current.pre_launch_script === 'string' ? current.pre_launch_script : null;
    next.docker_compose_file = change.dockerCompose;
    if (change.preLaunchScript) next.pre_launch_script = change.preLaunchScript;
    else delete next.pre_launch_script;
  }
  if (change.allowedEnvs !== undefined) {
    restore.allowed_envs = Array.isArray(current.allowed_envs) ? current.allowed_envs.map(String) : [];
    next.allowed_envs = change.allowedEnvs;
  }
  if (change.visibility) {
    restore.public_logs = current.public_logs === true;
    restore.public_sysinfo = current.public_sysinfo === true;
    restore.public_tcbinfo = current.public_tcbinfo === true;
    next.public_logs = change.visibility.publicLogs;
    next.public_sysinfo = change.visibility.publicSysinfo;
    next.public_tcbinfo = change.visibility.publicTcbinfo;
  }
  return { next, restore };
}

export function createComposeUpdateActivities(deps: ComposeUpdateActivityDeps) {
  const { phala } = deps;
  const whileBusy = busyRetrier(deps);

  /** Provisions the changed compose (nothing on the CVM changes) and says what the update would do. */
  async function prepare(cvmId: string, change: ComposeChange): Promise<PreparedUpdate> {
    const signal = cancellationSignal();
    const [current, cvm] = await Promise.all([
      phala.getComposeFile(cvmId, { signal }),
      phala.getCvm(cvmId, { signal }),
    ]);
    const { next, restore } = applyChange(current, change);
    const provisioned = await whileBusy(() => phala.provisionComposeFileUpdate(cvmId, next, { signal }));
    const pubkey = cvm.kms_info?.encrypted_env_pubkey;
    const appAddress =
      cvm.kms_info?.dstack_app_address ??
      (provisioned.app_id ? `0x${provisioned.app_id.replace(/^0x/i, '')}` : undefined);
    return {
      status: cvm.status,
      composeHash: provisioned.compose_hash,
      previousComposeHash: cvm.compose_hash ?? '',
      restore,
      restoreKey: restoreKeyOf(restore),
      ...(pubkey ? { encryptPubkey: pubkey } : {}),
      ...(ON_CHAIN_KMS.has(cvm.kms_type ?? '') && appAddress ? { onChain: { appId: appAddress } } : {}),
    };
  }

  return {
    async composePrepare(req: { cvmId: string; change: ComposeChange }): Promise<PreparedUpdate> {
      return classified(`prepare the update of ${req.cvmId}`, () => prepare(req.cvmId, req.change));
    },

    /**
     * Commits the prepared compose (the CVM restarts) unless it already carries the new hash. An env-only change
     * keeps the hash, so it cannot be told apart and is applied again: the same result, one more restart.
     */
    async composeCommit(req: {
      cvmId: string;
      composeHash: string;
      previousComposeHash: string;
      encryptedEnv?: string;
      envKeys?: string[];
    }): Promise<{ committed: boolean }> {
      return classified(`commit the update of ${req.cvmId}`, async () => {
        const signal = cancellationSignal();
        if (req.composeHash !== req.previousComposeHash) {
          const cvm = await phala.getCvm(req.cvmId, { signal });
          if (cvm.compose_hash === req.composeHash) return { committed: false };
        }
        await whileBusy(() =>
          phala.commitComposeFileUpdate(
            req.cvmId,
            { composeHash: req.composeHash, encryptedEnv: req.encryptedEnv, envKeys: req.envKeys },
            { signal },
          ),
        );
        return { committed: true };
      });
    },

    /**
     * Puts one CVM back on its previous compose: the current app compose with the patch applied, checked to hash to
     * the previous compose hash before it is committed. A CVM that was running before the update and is off now
     * (the failure left it so) is started, when `startIfOff` says it was running.
     */
    async composeRestore(req: {
      cvmId: string;
      restore: RestorePatch;
      previousComposeHash: string;
      updateComposeHash: string;
      startIfOff: boolean;
    }): Promise<{ outcome: RestoreOutcome; composeHash: string; started: boolean }> {
      return classified(`restore the previous compose of ${req.cvmId}`, async () => {
        const signal = cancellationSignal();
        const [current, cvm] = await Promise.all([
          phala.getComposeFile(req.cvmId, { signal }),
          phala.getCvm(req.cvmId, { signal }),
        ]);
        const hash = cvm.compose_hash ?? '';
        const restart = async () => {
          if (!req.startIfOff || !OFF_STATUSES.has(cvm.status)) return false;
          await whileBusy(() => phala.startCvm(req.cvmId, { signal }));
          return true;
        };
        if (hash === req.previousComposeHash)
          return { outcome: 'already', composeHash: hash, started: await restart() };
        if (hash !== req.updateComposeHash) return { outcome: 'diverged', composeHash: hash, started: false };
        const next: Record<string, unknown> = { ...current, ...req.restore };
        if (req.restore.pre_launch_script === null) delete next.pre_launch_script;
        const provisioned = await whileBusy(() => phala.provisionComposeFileUpdate(req.cvmId, next, { signal }));
        if (provisioned.compose_hash !== req.previousComposeHash) {
          throw ApplicationFailure.create({
            type: 'RevertMismatch',
            nonRetryable: true,
            message: `restoring ${req.cvmId} would give compose hash ${provisioned.compose_hash}, not the previous ${req.previousComposeHash}; left on ${hash}`,
          });
        }
        await whileBusy(() =>
          phala.commitComposeFileUpdate(req.cvmId, { composeHash: provisioned.compose_hash }, { signal }),
        );
        return { outcome: 'reverted', composeHash: provisioned.compose_hash, started: await restart() };
      });
    },

    /**
     * Before a rollout touches anything: for one CVM of each on-chain app, the hash the update gives and whether the
     * worker's key may approve it. Returns the apps whose allow-list lacks the hash and whose owner is another
     * account — the worker cannot approve those, their owners must (see the rollout's refusal message).
     */
    async composeApprovalCheck(req: {
      cvms: { cvmId: string; app: string }[];
      change: ComposeChange;
    }): Promise<{ needed: ExternalApprovalNeeded[]; signer?: string }> {
      const chain = deps.chain;
      if (!chain)
        throw ApplicationFailure.create({
          type: 'ChainNotConfigured',
          nonRetryable: true,
          message: `the targets include on-chain KMS apps (${[...new Set(req.cvms.map((c) => c.app))].join(', ')}), whose new compose hash must be approved on chain: set ETH_RPC_URL and PRIVATE_KEY (or PRIVATE_KEY_FILE) in the worker environment and restart the worker`,
        });
      return classified('check the on-chain approvals the rollout needs', () =>
        onChain('check the on-chain approvals the rollout needs', async () => {
          const needed: ExternalApprovalNeeded[] = [];
          const chainId = await chain.getChainId();
          for (const c of req.cvms) {
            const prepared = await prepare(c.cvmId, req.change);
            if (!prepared.onChain || prepared.composeHash === prepared.previousComposeHash) continue;
            const appId = toAddress(prepared.onChain.appId, 'appId');
            const composeHash = toBytes32(prepared.composeHash, 'composeHash');
            const [owner, allowed] = await Promise.all([
              chain.getAppOwner({ appId }),
              chain.isComposeHashAllowed({ appId, composeHash }),
            ]);
            if (allowed || (chain.sender && owner.toLowerCase() === chain.sender.toLowerCase())) continue;
            const calldata = encodeFunctionData({
              abi: dstackAppAbi,
              functionName: 'addComposeHash',
              args: [composeHash],
            });
            needed.push({ app: c.app, appId, chainId, owner, composeHash, calldata });
          }
          return { needed, ...(chain.sender ? { signer: chain.sender } : {}) };
        }),
      );
    },
  };
}

export type ComposeUpdateActivities = ReturnType<typeof createComposeUpdateActivities>;

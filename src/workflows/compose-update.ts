// The one compose-update step, run per CVM by deploy updates (src/workflows/deploy.ts) and rollouts
// (src/workflows/rollout-app.ts): prepare → encrypt env → approve the new hash on chain (on-chain KMS apps) → keep
// what restores the CVM → commit → watch until it runs the new hash. Callers bind the activities to their own
// timeouts and say how an approval is obtained; the step decides nothing else, so both pipelines update a CVM the
// same way (src/activities/compose-update-activities.ts holds the idempotency rule and the restore format).
import { ApplicationFailure } from '@temporalio/workflow';
import type { ComposeChange, PreparedUpdate, RestoreOutcome, RestorePatch } from './compose-update-types';

export interface ComposeUpdateOps {
  prepare(req: { cvmId: string; change: ComposeChange }): Promise<PreparedUpdate>;
  encryptEnv(req: { sealedEnv: string; publicKey: string }): Promise<{ encryptedEnv: string; envKeys: string[] }>;
  /** Puts the hash on the app's on-chain allow-list (or waits for its owner to); done once per app and hash. */
  approve(appId: string, composeHash: string): Promise<void>;
  commit(req: {
    cvmId: string;
    composeHash: string;
    previousComposeHash: string;
    encryptedEnv?: string;
    envKeys?: string[];
  }): Promise<{ committed: boolean }>;
  watchRunning(cvmId: string, composeHash: string): Promise<void>;
}

export interface ComposeUpdateRequest {
  cvmId: string;
  change: ComposeChange;
  sealedEnv?: string;
  /** Leave a CVM that is not running alone (a rollout cannot check its health). */
  onlyIfRunning?: boolean;
}

export type ComposeUpdateOutcome =
  | { kind: 'not-running'; prepared: PreparedUpdate }
  | { kind: 'unchanged'; prepared: PreparedUpdate }
  | { kind: 'updated'; prepared: PreparedUpdate };

export interface ComposeUpdateHooks {
  /** The update is prepared: what it will change is known, nothing has changed yet. */
  prepared?(p: PreparedUpdate): void;
  /** Called just before the commit, the first step that changes the CVM: keep what restores it. */
  changing(p: PreparedUpdate): void;
}

export async function updateCompose(
  ops: ComposeUpdateOps,
  req: ComposeUpdateRequest,
  hooks: ComposeUpdateHooks,
): Promise<ComposeUpdateOutcome> {
  const prepared = await ops.prepare({ cvmId: req.cvmId, change: req.change });
  hooks.prepared?.(prepared);
  if (req.onlyIfRunning && prepared.status !== 'running') return { kind: 'not-running', prepared };
  const hashChanges = prepared.composeHash !== prepared.previousComposeHash;
  if (!hashChanges && !req.sealedEnv) return { kind: 'unchanged', prepared };
  let env: { encryptedEnv: string; envKeys: string[] } | undefined;
  if (req.sealedEnv) {
    if (!prepared.encryptPubkey)
      throw ApplicationFailure.nonRetryable(`CVM ${req.cvmId} reports no env encryption public key`, 'InvalidInput');
    env = await ops.encryptEnv({ sealedEnv: req.sealedEnv, publicKey: prepared.encryptPubkey });
  }
  // The API refuses (468) a commit whose hash the app's contract does not allow.
  if (prepared.onChain && hashChanges) await ops.approve(prepared.onChain.appId, prepared.composeHash);
  hooks.changing(prepared);
  await ops.commit({
    cvmId: req.cvmId,
    composeHash: prepared.composeHash,
    previousComposeHash: prepared.previousComposeHash,
    ...env,
  });
  await ops.watchRunning(req.cvmId, prepared.composeHash);
  return { kind: 'updated', prepared };
}

export interface ComposeRestoreOps {
  restore(req: {
    cvmId: string;
    restore: RestorePatch;
    previousComposeHash: string;
    updateComposeHash: string;
    startIfOff: boolean;
  }): Promise<{ outcome: RestoreOutcome; composeHash: string; started: boolean }>;
  watchRunning(cvmId: string, composeHash: string): Promise<void>;
}

/** Puts a CVM back on the compose it had before an update; waits until it runs it when it was running before. */
export async function restoreCompose(
  ops: ComposeRestoreOps,
  req: {
    cvmId: string;
    restore: RestorePatch;
    previousComposeHash: string;
    updateComposeHash: string;
    wasRunning: boolean;
  },
): Promise<{ outcome: RestoreOutcome; composeHash: string }> {
  const r = await ops.restore({
    cvmId: req.cvmId,
    restore: req.restore,
    previousComposeHash: req.previousComposeHash,
    updateComposeHash: req.updateComposeHash,
    startIfOff: req.wasRunning,
  });
  if (r.started || (r.outcome === 'reverted' && req.wasRunning))
    await ops.watchRunning(req.cvmId, req.previousComposeHash);
  return { outcome: r.outcome, composeHash: r.composeHash };
}

/**
 * One approval per (app, hash) in a workflow run: CVMs of one app updated side by side wait for the same approval
 * instead of each sending a transaction. A failed approval is forgotten, so the next CVM tries again.
 */
export function approvalOncePerHash(approve: (appId: string, composeHash: string) => Promise<void>) {
  const inFlight = new Map<string, Promise<void>>();
  return (appId: string, composeHash: string): Promise<void> => {
    const key = `${appId.toLowerCase()}/${composeHash}`;
    let p = inFlight.get(key);
    if (!p) {
      p = approve(appId, composeHash);
      inFlight.set(key, p);
      p.catch(() => inFlight.delete(key));
    }
    return p;
  };
}

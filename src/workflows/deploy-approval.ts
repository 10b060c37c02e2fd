// The approval step of an on-chain app's update: the new compose hash must be on the app's allow-list before the KMS
// lets a CVM boot it. The worker's key adds it, or (`approval: external`) the owner sends the transaction — a
// multisig, another key — and the run waits for its hash (handed over by the update in deploy-messages.ts) up to a
// deadline.
import { ApplicationFailure, condition, log } from '@temporalio/workflow';
import type { DeployRun } from './deploy-run';
import { approvalDeadlineText } from './deploy-state';
import type { ApprovalAccepted, PendingApproval } from './deploy-types';

/** Puts `composeHash` on the app's allow-list, once per hash in a run. */
export async function approveComposeHash(run: DeployRun, appId: string, composeHash: string): Promise<void> {
  if (run.approvedHashes.has(composeHash)) return;
  run.enter('approve');
  const { approval } = run.input;
  if (approval?.mode === 'external') await externalApproval(run, appId, composeHash, approval.deadlineMs);
  else await run.activities.chain.addComposeHashOnChain({ appId, composeHash });
  run.approvedHashes.add(composeHash);
  run.enter('update');
}

/** The owner sends addComposeHash; the deploy publishes the call, waits for its hash, checks it, goes on. */
async function externalApproval(run: DeployRun, appId: string, composeHash: string, deadlineMs: number): Promise<void> {
  const request = await run.activities.chain.composeHashApprovalRequest({ appId, composeHash });
  if (request.allowed) return;
  const now = Date.now();
  run.accepted = undefined;
  const pending: PendingApproval = {
    app: run.app,
    appId: request.contract,
    chainId: request.chainId,
    contract: request.contract,
    function: 'addComposeHash(bytes32)',
    args: [request.composeHash],
    calldata: request.calldata,
    composeHash: request.composeHash,
    owner: request.owner,
    requestedAt: new Date(now).toISOString(),
    deadline: new Date(now + deadlineMs).toISOString(),
    rejected: [],
  };
  run.pendingApproval = pending;
  log.info('waiting for an on-chain approval', { app: run.app, appId, composeHash, owner: request.owner });
  try {
    const inTime = await condition(() => run.accepted !== undefined, deadlineMs);
    // A hash handed over before the deadline is still being checked: its answer decides.
    if (!inTime) await condition(() => run.verifying === undefined);
    // Set by the update handler while this step waited (TypeScript's narrowing above cannot see that).
    const approved = run.accepted as ApprovalAccepted | undefined;
    if (approved) {
      log.info('on-chain approval accepted', { app: run.app, txHash: approved.txHash });
      return;
    }
    throw ApplicationFailure.create({
      type: 'ApprovalDeadline',
      nonRetryable: true,
      message: approvalDeadlineText(pending),
    });
  } finally {
    run.pendingApproval = null;
  }
}

// The deploy run's messages: the `status` query (and `progress`, its older wire name), the pending on-chain approval,
// and the update that hands over the owner's approval transaction — validated by a pure function of the state
// (deploy-validators.ts), then verified on chain before the waiting approval step (deploy-approval.ts) goes on.
import { ApplicationFailure, setHandler } from '@temporalio/workflow';
import { auditEntry } from '../domain/audit-input';
import type { DeployRun } from './deploy-run';
import {
  type ApprovalAccepted,
  approvalQuery,
  deployStatusQuery,
  deployStatusQueryAlias,
  deploySubmitApprovalTxUpdate,
} from './deploy-types';
import { validateApprovalTx } from './deploy-validators';
import { describeError } from './errors';

export function handleMessages(run: DeployRun): void {
  setHandler(deployStatusQuery, () => run.status);
  setHandler(deployStatusQueryAlias, () => run.status);
  setHandler(approvalQuery, () => run.pendingApproval);
  setHandler(
    deploySubmitApprovalTxUpdate,
    async (req): Promise<ApprovalAccepted> => {
      const { txHash } = req;
      const pending = run.pendingApproval!;
      run.verifying = txHash;
      try {
        const ok = await run.activities.chain.verifyComposeHashApproval({
          appId: pending.appId,
          composeHash: pending.composeHash,
          txHash,
        });
        run.accepted = {
          txHash: ok.txHash,
          blockNumber: ok.blockNumber,
          composeHash: pending.composeHash,
          ...auditEntry(req, false, Date.now()),
        };
        return run.accepted;
      } catch (err) {
        const reason = describeError(err);
        pending.rejected.push({ txHash, reason });
        throw ApplicationFailure.create({ type: 'ApprovalRejected', nonRetryable: true, message: reason });
      } finally {
        run.verifying = undefined;
      }
    },
    { validator: (req) => validateApprovalTx(run, req) },
  );
}

// Whether a control request fits the deploy run's state: pure functions of the state and the request, which throw a
// plain error whose message is the refusal the caller sees (the CLI exits 2 with it). The update's validator calls
// one; nothing here touches Temporal, so test/unit/deploy-validators.test.ts covers every rule.
import { requestReason } from '../domain/audit-input';
import type { DeployState } from './deploy-state';
import { type ApprovalTxRequest, TX_HASH } from './deploy-types';

/** A transaction hash handed over for the pending on-chain approval (`submitApprovalTx`). */
export function validateApprovalTx(s: DeployState, req: ApprovalTxRequest | undefined): void {
  // Checked as unknown: the request arrives as JSON from any client.
  const txHash: unknown = req?.txHash;
  if (typeof txHash !== 'string' || !TX_HASH.test(txHash))
    throw new Error(
      `not a transaction hash: expected 0x followed by 64 hex digits, got ${JSON.stringify(String(txHash)).slice(0, 80)}`,
    );
  if (!s.awaitingApproval)
    throw new Error(`deploy of ${s.app} is not waiting for an on-chain approval (phase ${s.status.phase})`);
  if (s.verifying) throw new Error(`transaction ${s.verifying} is being verified; wait for its answer`);
  requestReason(req, false);
}

// What a deploy run knows at any instant, as plain data: its status (what the `status` query answers), the on-chain
// approval it waits for, the attestation evidence of its CVMs. No Temporal calls here, so the approval validator
// (deploy-validators.ts) and the result are pure functions of this state, unit-tested without a server
// (test/unit/deploy-validators.test.ts). DeployRun (deploy-run.ts) adds what changing it means in Temporal.
import type {
  ApprovalAccepted,
  AttestationSummary,
  DeployedCvm,
  DeployInput,
  DeployPhase,
  DeployResult,
  DeployStatus,
  PendingApproval,
} from './deploy-types';

export class DeployState {
  /** The object the `status` query returns; the steps update it in place. */
  readonly status: DeployStatus;
  /** External approval (`approval: external`): what the owner must send, null when nothing is awaited. */
  pendingApproval: PendingApproval | null = null;
  /** The transaction that approved the pending hash, once verified. */
  accepted?: ApprovalAccepted;
  /** A submitted transaction whose verification is running. */
  verifying?: string;
  /** Hashes this run already put on the allow-list: one approval per hash, however many CVMs it updates. */
  readonly approvedHashes = new Set<string>();
  /** Evidence of the CVMs that passed the attestation gate, by CVM id. */
  readonly attestations = new Map<string, AttestationSummary>();
  private phaseStartedAt: number;

  constructor(
    readonly input: DeployInput,
    nowMs: number,
  ) {
    this.status = { app: input.app, phase: 'start', cvms: [], timingsMs: {} };
    this.phaseStartedAt = nowMs;
  }

  get app(): string {
    return this.input.app;
  }

  /** Moves to `phase`, adding the time spent in the phase left to its timing (the start phase is not timed). */
  enterPhase(phase: DeployPhase, nowMs: number): void {
    const s = this.status;
    if (s.phase !== 'start') s.timingsMs[s.phase] = (s.timingsMs[s.phase] ?? 0) + nowMs - this.phaseStartedAt;
    this.phaseStartedAt = nowMs;
    s.phase = phase;
  }

  /** Adds a CVM to the status, or replaces its earlier entry, with its attestation evidence when it has some. */
  recordCvm(entry: DeployedCvm): void {
    const evidence = this.attestations.get(entry.cvmId);
    const cvm = evidence ? { ...entry, attestation: evidence } : entry;
    const cvms = this.status.cvms;
    const i = cvms.findIndex((c) => c.cvmId === cvm.cvmId);
    if (i >= 0) cvms[i] = cvm;
    else cvms.push(cvm);
  }

  /** Whether a submitted approval transaction may be handed to the chain check now. */
  get awaitingApproval(): boolean {
    return this.pendingApproval !== null && this.accepted === undefined;
  }
}

/** The result of a run that reached `done`. */
export function deployResult(s: DeployState): DeployResult {
  const { status } = s;
  return {
    app: s.app,
    appId: status.appId!,
    composeHash: status.composeHash!,
    mode: status.mode!,
    previousComposeHash: status.previousComposeHash,
    cvms: status.cvms,
    timingsMs: status.timingsMs,
  };
}

/** The failure message of a run that failed in `failedPhase`: what failed, why, and what was undone. */
export function failureText(
  s: DeployState,
  failedPhase: DeployPhase,
  cause: string,
  cleaned: readonly string[],
): string {
  const what =
    s.input.onFailure === 'keep'
      ? 'kept everything for debugging (onFailure: keep)'
      : cleaned.length
        ? `rolled back: ${cleaned.join('; ')}`
        : 'nothing to roll back';
  return `deploy of ${s.app} failed in phase ${failedPhase}: ${cause}; ${what}`;
}

/** Why an approval deadline passed without an approval, naming the rejected transactions. */
export function approvalDeadlineText(pending: PendingApproval): string {
  const rejected = pending.rejected.length
    ? ` (${pending.rejected.length} submitted transaction(s) rejected, last: ${pending.rejected.at(-1)!.reason})`
    : '';
  return `no transaction approving compose hash ${pending.composeHash} on app ${pending.contract} arrived by the deadline ${pending.deadline}${rejected}`;
}

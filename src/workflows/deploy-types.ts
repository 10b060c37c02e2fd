// Types and message definitions shared by the deploy workflow and its clients (no activity code, no I/O).
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { AuditEntry, AuditRequest } from '../domain/audit-input';

export type KmsKind = 'phala' | 'ethereum' | 'base';
export type DeployPhase =
  | 'start'
  | 'inspect'
  | 'provision'
  | 'register'
  | 'approve'
  | 'encrypt'
  | 'commit'
  | 'running'
  | 'replicate'
  | 'update'
  | 'rollback'
  | 'done'
  | 'failed';

export interface DeployTimeouts {
  provisionMs: number;
  commitMs: number;
  runningMs: number;
  replicateMs: number;
  rollbackMs: number;
}

export interface RetryOverrides {
  maximumAttempts?: number;
  initialIntervalMs?: number;
  maximumIntervalMs?: number;
}

/** Everything the deploy workflow needs. No secrets: env values arrive sealed (see src/secrets/sealed-env.ts). */
export interface DeployInput {
  app: string;
  dockerCompose: string;
  preLaunchScript?: string;
  allowedEnvs: string[];
  sealedEnv?: string;
  resources: { instanceType?: string; vcpu?: number; memoryMb?: number; diskGb?: number };
  image?: string;
  kms: KmsKind;
  /** Placement: empty = let Phala choose; instance i goes to nodes[i % nodes.length]. */
  nodes: number[];
  /** Total CVMs of the app, the first included. */
  replicas: number;
  visibility: { publicLogs: boolean; publicSysinfo: boolean; publicTcbinfo: boolean };
  timeouts: DeployTimeouts;
  retry?: RetryOverrides;
  /** SSE watch parameters with the API's ranges: interval 5–30 s, timeout 10–600 s. */
  watch: { intervalS: number; timeoutS: number };
  onFailure: 'rollback' | 'keep';
  /**
   * On-chain apps only. Absent: the worker's key approves a new compose hash. `external`: the call is published
   * (approvalQuery) for the app's owner to send, and the deploy waits up to `deadlineMs` for its transaction hash.
   */
  approval?: { mode: 'external'; deadlineMs: number };
  /** How many replicas are created and watched at once. */
  maxParallel?: number;
  /** Activity heartbeat timeout: how fast a dead worker's watch is noticed and resumed elsewhere. */
  heartbeatTimeoutMs?: number;
  /** Per-attempt timeout of one API call. */
  apiAttemptTimeoutMs?: number;
  /** Set when the spec requires attestation: a CVM counts as running only once its attestation verifies. */
  attestation?: AttestationGate;
}

/** The attestation gate's settings (spec `attestation` with `require: true`). */
export interface AttestationGate {
  /** Allowed `os-image-hash` measurements; absent: the image the API reports for the CVM. */
  osImages?: string[];
  quote: 'required' | 'if-present' | 'ignore';
  timeoutMs: number;
}

/** The evidence a CVM's accepted attestation leaves in progress and result (the full verdict is in history). */
export interface AttestationSummary {
  composeHash: string | null;
  registers: { mrtd: string; rtmr0: string; rtmr1: string; rtmr2: string; rtmr3: string } | null;
  quoteDigest: string | null;
  quoteVerified: boolean;
  quoteStatus: string;
  checks: number;
}

export interface DeployedCvm {
  cvmId: string;
  nodeId: number | null;
  status: string;
  /** Whether this run created the CVM (false: it existed and was updated). */
  created: boolean;
  /** Present when the CVM passed the attestation gate. */
  attestation?: AttestationSummary;
}

export interface DeployResult {
  app: string;
  appId: string;
  composeHash: string;
  mode: 'create' | 'update';
  previousComposeHash?: string;
  cvms: DeployedCvm[];
  timingsMs: Partial<Record<DeployPhase, number>>;
}

export interface DeployStatus {
  app: string;
  phase: DeployPhase;
  mode?: 'create' | 'update';
  appId?: string;
  composeHash?: string;
  previousComposeHash?: string;
  cvms: DeployedCvm[];
  timingsMs: Partial<Record<DeployPhase, number>>;
  lastError?: string;
  cleanedUp?: string[];
}

/** @deprecated the older name of DeployStatus. */
export type DeployProgress = DeployStatus;

// Every workflow kind answers `status`; `progress`, the older wire name, stays as an alias on the same handler.
export const deployStatusQuery = defineQuery<DeployStatus>('status');
/** @deprecated wire name before `status`; the same handler answers it. */
export const deployStatusQueryAlias = defineQuery<DeployStatus>('progress');

/** The transaction the app's owner must send before the update may be committed (`approval: external`). */
export interface PendingApproval {
  app: string;
  /** The app's DstackApp contract, which is also the transaction's target. */
  appId: string;
  chainId: number;
  contract: string;
  function: 'addComposeHash(bytes32)';
  args: [string];
  /** The transaction's data field, ready for a multisig or `cast send`. */
  calldata: string;
  composeHash: string;
  /** The app's owner, who alone may send it. */
  owner: string;
  requestedAt: string;
  deadline: string;
  /** Transaction hashes submitted so far that did not approve the hash, with the reason. */
  rejected: { txHash: string; reason: string }[];
}

/** An accepted approval, with who handed it over and why (absent from deployments that predate them). */
export interface ApprovalAccepted extends Partial<AuditEntry> {
  txHash: string;
  blockNumber: number;
  composeHash: string;
}

export interface ApprovalTxRequest extends AuditRequest {
  txHash: string;
}

/** What must be signed, or null when the deploy waits for no approval. */
export const approvalQuery = defineQuery<PendingApproval | null>('approval');
/** Hands over the hash of the transaction that approved the compose hash; verified on chain before it is accepted. */
export const deploySubmitApprovalTxUpdate = defineUpdate<ApprovalAccepted, [ApprovalTxRequest]>('submitApprovalTx');

export const TX_HASH = /^0x[0-9a-fA-F]{64}$/;

// Shared names live in src/domain; re-exported for the modules and users that import them from here.
export { deployWorkflowId, SA_APP, SA_KIND, SA_PHASE } from '../domain/names';

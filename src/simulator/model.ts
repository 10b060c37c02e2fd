// The simulator's records. One Workspace per API key; Apps hold the per-app x25519 key pair; Cvms carry the
// operation in progress and the full status history that the admin API exposes.
import type { AppCompose } from './compose';

export type ApiVersion = '2025-10-28' | '2026-01-21' | '2026-05-22' | '2026-06-23';
export const API_VERSIONS: readonly ApiVersion[] = ['2025-10-28', '2026-01-21', '2026-05-22', '2026-06-23'];
/** A request without X-Phala-Version keeps getting what it got before the newer versions existed. */
export const DEFAULT_API_VERSION: ApiVersion = '2026-01-21';

/** Versions are ISO dates, so "at least" is a string comparison (the Python SDK compares them the same way). */
export const atLeast = (v: ApiVersion, since: ApiVersion): boolean => v >= since;

export type KmsType = 'phala' | 'ethereum' | 'base';

export interface Workspace {
  keyId: string;
  id: string;
  userId: number;
  username: string;
  email: string;
  name: string;
  slug: string;
}

export interface AppRecord {
  appId: string;
  hashid: string;
  workspaceId: string;
  name: string;
  kmsType: KmsType;
  kmsId: string;
  envPublicKey: string;
  envPrivateKey: string;
  createdAt: Date;
  contractAddress: string | null;
  deployerAddress: string | null;
}

/** A CVM's size, OS image and KMS: chosen at provision, kept by the CVM and copied to its replicas. */
export interface Machine {
  instanceType: string | null;
  vcpu: number;
  memoryMb: number;
  diskGb: number;
  image: string;
  kmsType: KmsType;
  kmsId: string;
}

/** What POST /cvms/provision (or a compose-update provision) leaves in the 7-day cache, keyed by compose hash. */
export interface ProvisionRecord extends Machine {
  workspaceId: string;
  composeHash: string;
  /** null for on-chain KMS: the client registers the app on chain and commits with the contract address. */
  appId: string | null;
  name: string;
  appCompose: AppCompose;
  nodeId: number;
  listed: boolean;
  expiresAt: number;
}

export type OpKind = 'create' | 'start' | 'stop' | 'shutdown' | 'restart' | 'update' | 'delete';

export interface Operation {
  kind: OpKind;
  /** The stable status the operation ends in; `deleted` means the CVM disappears. */
  target: 'running' | 'stopped' | 'deleted';
  startedAt: Date;
  correlationId: string;
}

export interface HistoryEntry {
  status: string;
  /** ISO timestamp and epoch milliseconds with sub-millisecond precision (benchmarks compare against it). */
  at: string;
  ts: number;
  op: OpKind | null;
  correlationId: string | null;
}

/** What a new CVM is made from (a commit or a replica); the simulator adds its ids, status and history. */
export interface NewCvmFields extends Machine {
  name: string;
  appId: string;
  nodeId: number;
  appCompose: AppCompose;
  composeHash: string;
  encryptedEnv: string | null;
  envKeys: string[];
  listed: boolean;
}

export interface Cvm extends NewCvmFields {
  id: number;
  hashid: string;
  vmUuid: string;
  instanceId: string;
  workspaceId: string;
  status: string;
  op: Operation | null;
  /** The backend keeps its operation lock a little after `op` clears (the real 409 race, reference §5.2). */
  lockedUntil: number;
  runningSince: number | null;
  exitedAt: Date | null;
  bootError: string | null;
  createdAt: Date;
  updatedAt: Date;
  history: HistoryEntry[];
}

/** A change to a CVM's compose, env or size; applying it restarts the CVM (the `update` operation). */
export interface UpdateChange {
  appCompose?: AppCompose;
  encryptedEnv?: string;
  envKeys?: string[];
  resources?: { vcpu?: number; memoryMb?: number; diskGb?: number; image?: string };
}

// The vocabulary of the one compose-update path that deploy updates and rollouts share (src/workflows/
// compose-update.ts, src/activities/compose-update-activities.ts): what an update changes, what preparing it
// found, and the one restore format. Types only, so workflows and activities both import it.

export interface Visibility {
  publicLogs: boolean;
  publicSysinfo: boolean;
  publicTcbinfo: boolean;
}

/** The fields of an app compose an update sets; a field left out stays as the CVM has it. */
export interface ComposeChange {
  /** With it, the pre-launch script is set to `preLaunchScript` or removed. */
  dockerCompose?: string;
  preLaunchScript?: string;
  allowedEnvs?: string[];
  visibility?: Visibility;
}

/**
 * The fields an update changes, as they were before it: enough to put the CVM back. Deduplicated by key in a
 * rollout's state, so a fleet on one version carries one patch, and its key is stable across versions of the code.
 */
export interface RestorePatch {
  docker_compose_file?: string;
  pre_launch_script?: string | null;
  allowed_envs?: string[];
  public_logs?: boolean;
  public_sysinfo?: boolean;
  public_tcbinfo?: boolean;
}

export interface PreparedUpdate {
  /** The CVM's status when the update was prepared. */
  status: string;
  composeHash: string;
  previousComposeHash: string;
  restore: RestorePatch;
  restoreKey: string;
  encryptPubkey?: string;
  /** On-chain KMS: the app's DstackApp contract, whose allow-list must hold the new hash before the commit. */
  onChain?: { appId: string };
}

export type RestoreOutcome = 'reverted' | 'already' | 'diverged';

/** An on-chain app whose owner is not the worker's key and whose allow-list lacks the hash an update needs. */
export interface ExternalApprovalNeeded {
  app: string;
  appId: string;
  chainId: number;
  owner: string;
  composeHash: string;
  /** The owner's transaction: `addComposeHash(composeHash)` sent to `appId` with this data. */
  calldata: string;
}

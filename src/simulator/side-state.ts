// Records the simulator keeps beside the store for the routes the official tools call around the CVM lifecycle:
// the workspace's SSH keys and each app's revision history (one entry per compose/env change of each CVM, what
// `GET /apps/{id}/revisions` lists and `POST …/redeploy` replays). Kept per SimCore in a WeakMap so the core and
// the store stay as they are; the store's reset empties them too (see `forget`).

import type { AppCompose } from './compose';
import type { SimCore } from './core';
import { hashid } from './ids';
import type { Cvm } from './model';

export interface SshKey {
  id: string;
  user_id: string;
  name: string;
  public_key: string;
  fingerprint: string;
  key_type: string;
  source: string;
  key_metadata: Record<string, unknown> | null;
  last_synced_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface Revision {
  revisionId: string;
  appId: string;
  vmUuid: string;
  cvmHashid: string;
  cvmName: string;
  workspaceId: string;
  composeHash: string;
  appCompose: AppCompose;
  encryptedEnv: string;
  envKeys: string[];
  createdAt: Date;
  traceId: string | null;
  operationType: string;
}

interface SideState {
  sshKeys: Map<string, SshKey[]>;
  revisions: Map<string, Revision[]>;
}

const states = new WeakMap<SimCore, SideState>();

function stateOf(core: SimCore): SideState {
  let s = states.get(core);
  if (!s) {
    s = { sshKeys: new Map(), revisions: new Map() };
    states.set(core, s);
  }
  return s;
}

export function sshKeysOf(core: SimCore, workspaceId: string): SshKey[] {
  return stateOf(core).sshKeys.get(workspaceId) ?? [];
}

export function setSshKeys(core: SimCore, workspaceId: string, keys: SshKey[]): void {
  stateOf(core).sshKeys.set(workspaceId, keys);
}

/** Newest first, as the real list pages them. */
export function revisionsOf(core: SimCore, appId: string): Revision[] {
  return [...(stateOf(core).revisions.get(appId) ?? [])].reverse();
}

/**
 * Records the CVM's current compose and env as a revision, unless its latest revision already holds exactly that
 * (a restart is not a revision).
 */
export function recordRevision(core: SimCore, cvm: Cvm, operationType: string, traceId: string | null): Revision {
  const all = stateOf(core).revisions;
  const list = all.get(cvm.appId) ?? [];
  const last = [...list].reverse().find((r) => r.vmUuid === cvm.vmUuid);
  if (last && last.composeHash === cvm.composeHash && last.encryptedEnv === (cvm.encryptedEnv ?? '')) return last;
  const rev: Revision = {
    revisionId: hashid('rev', 12),
    appId: cvm.appId,
    vmUuid: cvm.vmUuid,
    cvmHashid: cvm.hashid,
    cvmName: cvm.name,
    workspaceId: cvm.workspaceId,
    composeHash: cvm.composeHash,
    appCompose: cvm.appCompose,
    encryptedEnv: cvm.encryptedEnv ?? '',
    envKeys: [...cvm.envKeys],
    createdAt: new Date(),
    traceId,
    operationType,
  };
  list.push(rev);
  all.set(cvm.appId, list);
  return rev;
}

/** Drops every record: the simulator was reset. */
export function forget(core: SimCore): void {
  states.delete(core);
}

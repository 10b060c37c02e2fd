// Views for the admin API and the embedded handle: every CVM with its status history, across all workspaces.
import type { SimCore } from './core';
import type { Cvm } from './model';

/** A CVM's record as it is, but for its dates as ISO text and the API key (by id) that owns it. */
export interface CvmView
  extends Pick<Cvm, 'id' | 'hashid' | 'name' | 'appId' | 'vmUuid' | 'instanceId' | 'nodeId' | 'status'>,
    Pick<Cvm, 'composeHash' | 'envKeys' | 'history'> {
  apiKeyId: string;
  deleted: boolean;
  operation: { kind: string; target: string; startedAt: string; correlationId: string } | null;
  createdAt: string;
}

export function cvmView(core: SimCore, cvm: Cvm, deleted = false): CvmView {
  return {
    id: cvm.id,
    hashid: cvm.hashid,
    name: cvm.name,
    appId: cvm.appId,
    vmUuid: cvm.vmUuid,
    instanceId: cvm.instanceId,
    apiKeyId: core.store.workspace(cvm.workspaceId).keyId,
    nodeId: cvm.nodeId,
    status: cvm.status,
    deleted,
    operation: cvm.op
      ? {
          kind: cvm.op.kind,
          target: cvm.op.target,
          startedAt: cvm.op.startedAt.toISOString(),
          correlationId: cvm.op.correlationId,
        }
      : null,
    composeHash: cvm.composeHash,
    envKeys: [...cvm.envKeys],
    createdAt: cvm.createdAt.toISOString(),
    history: cvm.history.map((h) => ({ ...h })),
  };
}

/** Live CVMs (including ones being deleted), and optionally the deleted ones, oldest first. */
export function listCvms(core: SimCore, opts: { includeDeleted?: boolean } = {}): CvmView[] {
  const live = [...core.store.cvms.values()].map((c) => cvmView(core, c));
  const gone = opts.includeDeleted ? core.deleted.map((c) => cvmView(core, c, true)) : [];
  return [...live, ...gone].sort((a, b) => a.id - b.id);
}

/** Live CVMs per status, without copying histories (cheap enough to poll). */
export function statusCounts(core: SimCore): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of core.store.cvms.values()) counts[c.status] = (counts[c.status] ?? 0) + 1;
  return counts;
}

// Fleets for benchmarks: CVMs inserted straight into the store, already resting in `running` or `stopped`, without
// the provision → commit → boot round trips (10 000 of those would take minutes and fill the request log).

import { DEFAULT_INSTANCE_TYPE, PHALA_KMS } from './catalog';
import { composeHash, normaliseAppCompose } from './compose';
import type { SimCore } from './core';
import { createApp } from './factory';
import { hashid, newAppId, newInstanceId, newVmUuid } from './ids';
import type { Cvm } from './model';

export interface SeedCvm {
  /** The app (and CVM) name; CVMs sharing a name are replicas of one app. */
  name: string;
  status: 'running' | 'stopped';
}

const SEED_COMPOSE = 'services:\n  app:\n    image: nginx:1.27-alpine\n';

/** Inserts the CVMs into the workspace of `apiKey`; returns their vm_uuids in order. */
export function seedCvms(core: SimCore, apiKey: string, cvms: readonly SeedCvm[]): string[] {
  const ws = core.store.workspaceForKey(apiKey);
  if (!ws) throw new Error('seedCvms: unknown API key');
  const node = core.allNodes()[0]!;
  const image = node.images[0]!.name;
  const appCompose = normaliseAppCompose({ docker_compose_file: SEED_COMPOSE }, 'seed');
  const hash = composeHash(appCompose);
  const appIds = new Map<string, string>();
  return cvms.map((s) => {
    let appId = appIds.get(s.name);
    if (!appId) {
      appId = createApp(core, ws, { appId: newAppId(), name: s.name, kmsType: 'phala', kmsId: PHALA_KMS.id }).appId;
      appIds.set(s.name, appId);
    }
    const now = new Date();
    const cvm: Cvm = {
      id: core.store.nextId(),
      hashid: hashid('cvm', 10),
      name: s.name,
      appId,
      vmUuid: newVmUuid(),
      instanceId: newInstanceId(),
      workspaceId: ws.id,
      nodeId: node.id,
      instanceType: DEFAULT_INSTANCE_TYPE,
      vcpu: 1,
      memoryMb: 2048,
      diskGb: 20,
      image,
      kmsType: 'phala',
      kmsId: PHALA_KMS.id,
      appCompose,
      composeHash: hash,
      encryptedEnv: null,
      envKeys: [],
      listed: true,
      status: s.status,
      op: null,
      lockedUntil: 0,
      runningSince: s.status === 'running' ? now.getTime() : null,
      exitedAt: null,
      bootError: null,
      createdAt: now,
      updatedAt: now,
      history: [{ status: s.status, at: now.toISOString(), ts: now.getTime(), op: null, correlationId: null }],
    };
    core.store.add(cvm);
    return cvm.vmUuid;
  });
}

// Builds new CVM records (from a commit or a replica) and app records (from a provision or an on-chain commit).

import { generateX25519KeyPair } from '../phala/env-encryption';
import type { SimCore } from './core';
import { hashid, newInstanceId, newVmUuid } from './ids';
import type { AppRecord, Cvm, KmsType, Machine, NewCvmFields, Workspace } from './model';
import { recordRevision } from './side-state';

/** The machine a new CVM gets from the record it is made from (its provision, or the CVM it replicates). */
export const machineOf = (from: Machine): Machine => ({
  instanceType: from.instanceType,
  vcpu: from.vcpu,
  memoryMb: from.memoryMb,
  diskGb: from.diskGb,
  image: from.image,
  kmsType: from.kmsType,
  kmsId: from.kmsId,
});

/** Inserts a CVM and starts its `create` operation (creating → starting → running). */
export function createCvm(core: SimCore, ws: Workspace, f: NewCvmFields): Cvm {
  const now = new Date();
  const cvm: Cvm = {
    ...f,
    id: core.store.nextId(),
    hashid: hashid('cvm', 10),
    vmUuid: newVmUuid(),
    instanceId: newInstanceId(),
    workspaceId: ws.id,
    status: 'creating',
    op: null,
    lockedUntil: 0,
    runningSince: null,
    exitedAt: null,
    bootError: null,
    createdAt: now,
    updatedAt: now,
    history: [],
  };
  core.insert(cvm);
  recordRevision(core, cvm, 'create', cvm.op?.correlationId ?? null);
  return cvm;
}

/** An app and its env-encryption key pair; the private key never leaves the simulator (as with the real KMS). */
export function createApp(
  core: SimCore,
  ws: Workspace,
  f: { appId: string; name: string; kmsType: KmsType; kmsId: string },
): AppRecord {
  const existing = core.store.apps.get(f.appId);
  if (existing) return existing;
  const keys = generateX25519KeyPair();
  const app: AppRecord = {
    ...f,
    hashid: hashid('dapp', 10),
    workspaceId: ws.id,
    envPublicKey: keys.publicKeyHex,
    envPrivateKey: keys.privateKeyHex,
    createdAt: new Date(),
    contractAddress: null,
    deployerAddress: null,
  };
  core.store.apps.set(app.appId, app);
  return app;
}

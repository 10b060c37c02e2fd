// What every update route shares: the target CVM (not while deleting), the app's env key, applying a change (which
// restarts the CVM through the `update` operation), and the on-chain compose-hash gate (465 / 468, reference §7.2).
import { composeHash } from '../compose';
import type { SimCore } from '../core';
import { detailError, structuredError } from '../http/errors';
import type { Cvm, UpdateChange } from '../model';
import { kmsInfo } from '../shapes';
import { recordRevision } from '../side-state';
import type { ApiRequest } from './types';

export function updatable(r: ApiRequest): Cvm {
  const cvm = r.core.resolve(r.ws, r.params.id!);
  if (cvm.status === 'deleting') throw detailError(409, 'CVM is being deleted');
  return cvm;
}

export function privateKey(core: SimCore, cvm: Cvm): string {
  return core.store.apps.get(cvm.appId)!.envPrivateKey;
}

/** Applies the change and restarts the CVM; returns the operation's correlation id. */
export function applyUpdate(core: SimCore, cvm: Cvm, change: UpdateChange): string {
  if (change.appCompose) {
    cvm.appCompose = change.appCompose;
    cvm.composeHash = composeHash(change.appCompose);
  }
  if (change.encryptedEnv !== undefined) cvm.encryptedEnv = change.encryptedEnv;
  if (change.envKeys !== undefined) cvm.envKeys = change.envKeys;
  const res = change.resources;
  if (res) {
    cvm.vcpu = res.vcpu ?? cvm.vcpu;
    cvm.memoryMb = res.memoryMb ?? cvm.memoryMb;
    cvm.diskGb = res.diskGb ?? cvm.diskGb;
    cvm.image = res.image ?? cvm.image;
    if (res.vcpu !== undefined || res.memoryMb !== undefined) cvm.instanceType = null;
  }
  const correlationId = core.lifecycle.begin(cvm, 'update').correlationId;
  recordRevision(core, cvm, 'update', correlationId);
  return correlationId;
}

export function onChainDetails(core: SimCore, cvm: Cvm, hash: string) {
  return [
    { field: 'compose_hash', value: hash, message: null },
    { field: 'app_id', value: cvm.appId, message: null },
    { field: 'device_id', value: core.nodeOf(cvm).deviceId, message: null },
    { field: 'kms_info', value: kmsInfo(core.kmsOf(cvm)), message: null },
  ];
}

export async function requireHashAllowed(core: SimCore, cvm: Cvm, hash: string): Promise<void> {
  if (await core.opts.onChainVerifier!.isComposeHashAllowed(cvm.appId, hash)) return;
  throw structuredError(468, 'ERR-01-008', `Compose hash ${hash} is not allowed on-chain for app 0x${cvm.appId}`, {
    details: onChainDetails(core, cvm, hash),
    suggestions: ['Call addComposeHash on the app contract, then retry'],
  });
}

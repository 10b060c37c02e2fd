// Picks the shape for the request's X-Phala-Version: 2025-10-28 (integer ids, HostedCvm lists), 2026-01-21
// (CVMInfo, integer ids in actions) and 2026-05-22 / 2026-06-23 (hashids everywhere; 2026-06-23 also changes the KMS
// API, see ./kms).
import type { SimCore } from '../core';
import { type ApiVersion, type AppRecord, atLeast, type Cvm } from '../model';
import { commitShape, vmShape } from './common';
import * as v1 from './v20251028';
import * as v2 from './v20260121';
import * as v3 from './v20260522';

export { batchStatus, commitShape, cvmState, kmsInfo, sseState, vmShape } from './common';
export { findKmsContract, type KmsContractGroup, kmsContract, kmsContractNode, kmsContracts } from './kms';

/** Whether this version names CVMs by hashid in every response (ids of actions, commit, replicas, allow-lists). */
export const hashids = (v: ApiVersion): boolean => atLeast(v, '2026-05-22');

/** Whether `/kms` lists contracts rather than KMS nodes. */
export const contractKms = (v: ApiVersion): boolean => atLeast(v, '2026-06-23');

/** How a CVM is named in `cvm_id`-style fields of this version (integer before 2026-05-22). */
export const cvmIdFor = (v: ApiVersion, cvm: Cvm): number | string => (hashids(v) ? cvm.hashid : cvm.id);

export const vmFor = (v: ApiVersion, core: SimCore, cvm: Cvm) =>
  hashids(v) ? v3.vmShape20260522(core, cvm) : vmShape(core, cvm);

export const commitFor = (v: ApiVersion, core: SimCore, cvm: Cvm) =>
  hashids(v) ? v3.commitShape20260522(core, cvm) : commitShape(core, cvm);

export const cvmDetailFor = (v: ApiVersion, core: SimCore, cvm: Cvm) =>
  v === '2025-10-28' ? v1.cvmDetail(core, cvm) : hashids(v) ? v3.cvmInfo(core, cvm, true) : v2.cvmInfo(core, cvm, true);

export const cvmListItemFor = (v: ApiVersion, core: SimCore, cvm: Cvm) =>
  v === '2025-10-28' ? v1.hostedCvm(core, cvm) : hashids(v) ? v3.cvmInfo(core, cvm) : v2.cvmInfo(core, cvm);

export const appFor = (v: ApiVersion, core: SimCore, app: AppRecord, cvms: Cvm[]) =>
  v === '2025-10-28'
    ? v1.appInfo(core, app, cvms)
    : hashids(v)
      ? v3.appInfo(core, app, cvms)
      : v2.appInfo(core, app, cvms);

// Picks the shape for the request's X-Phala-Version.
import type { SimCore } from '../core';
import type { ApiVersion, AppRecord, Cvm } from '../model';
import * as v1 from './v20251028';
import * as v2 from './v20260121';

export { batchStatus, commitShape, cvmState, kmsInfo, sseState, vmShape } from './common';

export const cvmDetailFor = (v: ApiVersion, core: SimCore, cvm: Cvm) =>
  v === '2025-10-28' ? v1.cvmDetail(core, cvm) : v2.cvmInfo(core, cvm, true);

export const cvmListItemFor = (v: ApiVersion, core: SimCore, cvm: Cvm) =>
  v === '2025-10-28' ? v1.hostedCvm(core, cvm) : v2.cvmInfo(core, cvm);

export const appFor = (v: ApiVersion, core: SimCore, app: AppRecord, cvms: Cvm[]) =>
  v === '2025-10-28' ? v1.appInfo(core, app, cvms) : v2.appInfo(core, app, cvms);

// The routes the official tools call beyond the deploy lifecycle (issue 18): workspace, SSH keys and OS images;
// the CVM's runtime reads (containers, attestation, stats, network, user config); the single-field updates and
// the commit of prepared (multisig) updates;
// app revisions, instances, attestations and allow-lists; KMS on-chain detail and next app ids. One registration
// point, ahead of the lifecycle routes, because some are literal paths (`/cvms/instance-ids`,
// `/apps/filter-options`) that `:id` routes would otherwise swallow.
import { registerAccountRoutes } from './account';
import { registerAppRevisionRoutes } from './app-revisions';
import { registerAppViewRoutes } from './app-views';
import { registerFieldUpdateRoutes } from './field-updates';
import { registerKmsExtraRoutes } from './kms-extras';
import { registerPreparedUpdateRoutes } from './prepared-updates';
import { registerRuntimeRoutes } from './runtime';
import type { ApiRouter } from './types';

export function registerToolRoutes(router: ApiRouter): void {
  registerAccountRoutes(router);
  registerRuntimeRoutes(router);
  registerFieldUpdateRoutes(router);
  registerPreparedUpdateRoutes(router);
  registerAppViewRoutes(router);
  registerAppRevisionRoutes(router);
  registerKmsExtraRoutes(router);
}

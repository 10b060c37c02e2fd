// The routes the official tools call beyond the deploy lifecycle (issue 18): workspace, SSH keys and OS images;
// the CVM's runtime reads (containers, attestation, stats, network, user config); the single-field updates;
// app revisions, instances and attestations; KMS on-chain detail. One registration point, ahead of the lifecycle
// routes, because some are literal paths (`/cvms/instance-ids`, `/apps/filter-options`) that `:id` routes would
// otherwise swallow.
import { registerAccountRoutes } from './account';
import { registerRuntimeRoutes } from './runtime';
import type { ApiRouter } from './types';

export function registerToolRoutes(router: ApiRouter): void {
  registerAccountRoutes(router);
  registerRuntimeRoutes(router);
}

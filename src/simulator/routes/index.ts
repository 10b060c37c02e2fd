// The public API's route table. Literal routes are registered before `:id` ones (first match wins).
import { Router } from '../http/router';
import { registerPatchRoutes } from './patch';
import { registerPowerRoutes } from './power';
import { registerProvisionRoutes } from './provision';
import { registerQueryRoutes } from './queries';
import { registerReplicaRoutes } from './replicas';
import { registerResourceRoutes } from './resources';
import { registerToolRoutes } from './tool-routes';
import type { ApiRouter, Handler } from './types';
import { registerUpdateRoutes } from './updates';

export function buildApiRouter(): ApiRouter {
  const router = new Router<Handler>();
  registerToolRoutes(router);
  registerResourceRoutes(router);
  registerProvisionRoutes(router);
  registerQueryRoutes(router);
  registerPowerRoutes(router);
  registerUpdateRoutes(router);
  registerPatchRoutes(router);
  registerReplicaRoutes(router);
  return router;
}

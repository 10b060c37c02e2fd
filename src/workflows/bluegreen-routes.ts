// Route switching: the one way a run points the app's active and preview routes, records it in its history and
// keeps the memo following the active route, so the next run knows what serves the app.
import { CancellationScope } from '@temporalio/workflow';
import type { RouteTable, Upstream } from '../router/types';
import type { BlueGreenRun } from './bluegreen-run';
import type { Deployment } from './bluegreen-types';

const upstream = (d: Deployment): Upstream => ({ name: d.name, url: d.url, version: d.composeHash });

/**
 * Points the routes and records it. A route change is never interrupted half-way: an abort arriving meanwhile acts
 * once the router confirmed, on a known state.
 */
export async function route(
  run: BlueGreenRun,
  to: { active?: Deployment; preview?: Deployment },
  reason: string,
): Promise<void> {
  run.generation = Math.max(run.generation + 1, run.now());
  const table: RouteTable = {
    app: run.app,
    generation: run.generation,
    active: to.active ? upstream(to.active) : null,
    preview: to.preview ? upstream(to.preview) : null,
    reason,
  };
  await CancellationScope.nonCancellable(() =>
    run.activities.routes.bgApplyRoutes({ router: run.policy.router, table }),
  );
  run.active = !to.active ? 'none' : to.active === run.green ? 'green' : 'blue';
  run.previewing = to.preview !== undefined;
  run.remember(to.active);
  run.record(
    'switch',
    `active → ${to.active?.name ?? 'nothing'}, preview → ${to.preview?.name ?? 'nothing'} (${reason})`,
  );
}

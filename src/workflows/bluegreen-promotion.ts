// From a healthy green to green serving the app: the preview (the preview route points at green, which stays under
// health watch), the wait for promotion — by hand, automatically after autoPromoteAfter, or none, when the preview
// expires at previewTtl — and the traffic switch itself.
import { CancellationScope, condition } from '@temporalio/workflow';
import { awaitHealthy } from './bluegreen-gates';
import { route } from './bluegreen-routes';
import { type BlueGreenRun, RunEnd } from './bluegreen-run';
import { autoPromoteAt, cvmflowActor } from './bluegreen-state';
import type { Actor } from './bluegreen-types';

export type Promotion = 'manual' | 'automatic';

/** Shows green on the preview route and waits for its promotion while green stays under watch. */
export async function awaitPromotion(run: BlueGreenRun): Promise<Promotion> {
  const { policy } = run;
  const green = run.green!;
  run.enter(
    'preview',
    policy.autoPromote ? `promoting after ${policy.autoPromoteAfterMs / 1000}s of preview` : 'waiting for promote',
  );
  await route(run, { ...(run.blue ? { active: run.blue } : {}), preview: green }, `preview of ${green.name}`);
  run.previewSince = run.now();
  // Green stays under watch while it waits: a green that turns unhealthy cannot be promoted until it passed the
  // gate again; failing the gate this time (failureThreshold more failures, or its deadline) ends the run.
  const watching = new CancellationScope();
  const healthLoop = watching.run(async () => {
    for (;;) {
      const bad = await run.activities.checks(policy.previewTtlMs + policy.health.deadlineMs).bgWatchHealth({
        urls: green.instanceUrls,
        check: policy.health,
      });
      run.greenHealthy = false;
      run.healthText = bad.detail;
      run.changed();
      run.record('health', `green turned unhealthy: ${bad.detail}`);
      await awaitHealthy(run);
    }
  });
  try {
    return await Promise.race([healthLoop, promotionAsked(run)]);
  } finally {
    watching.cancel();
    await healthLoop.catch(() => undefined);
  }
}

/** Returns how green is promoted once it is healthy; throws a RunEnd when the preview expires first. */
async function promotionAsked(run: BlueGreenRun): Promise<Promotion> {
  const { policy } = run;
  const expiresAt = run.previewSince! + policy.previewTtlMs;
  for (;;) {
    if (run.control.promote && run.greenHealthy) return 'manual';
    const auto = autoPromoteAt(run);
    if (auto !== undefined && run.now() >= auto && run.greenHealthy) return 'automatic';
    if (run.now() >= expiresAt)
      throw new RunEnd(
        'expired',
        `green was not promoted within previewTtl (${policy.previewTtlMs / 1000}s)`,
        cvmflowActor('previewTtl reached'),
      );
    const seen = run.wake;
    const until = Math.min(expiresAt, auto !== undefined && auto > run.now() ? auto : expiresAt);
    await condition(() => run.wake !== seen, Math.max(1, until - run.now()));
  }
}

/** The traffic switch; an abort accepted before it ends the run instead. */
export async function switchToGreen(run: BlueGreenRun, how: Promotion): Promise<void> {
  run.endIfAsked();
  const green = run.green!;
  const actor: Actor =
    how === 'manual'
      ? run.control.promote!
      : cvmflowActor(`automatic promotion after ${run.policy.autoPromoteAfterMs / 1000}s of preview`);
  run.enter('switching', `promoting ${green.name} (${how}, by ${actor.by})`);
  // Not interrupted half-way: an abort arriving now is handled once the router confirmed the switch.
  await CancellationScope.nonCancellable(() =>
    route(run, { active: green }, `promoted by ${actor.by}: ${actor.reason}`),
  );
  run.promoted = { atMs: run.now(), by: actor.by };
  run.record('promote', `traffic switched to ${green.name}`, actor);
}

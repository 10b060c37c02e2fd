// Waiting between waves: the configured pause after a wave (a duration, or until `promote`), then the start gate —
// no wave starts while the rollout is paused, outside its deploy window or in a freeze, unless an override says
// otherwise. Overrides expire on the rollout's clock; a skipWindow without an end is used up by the wave it let in.
import { condition } from '@temporalio/workflow';
import { iso } from '../domain/time';
import { realDelayMs } from './power-decide';
import type { RolloutRun } from './rollout-state';

/** The pause after the previous wave: over at its end, at `promote`, or at `abort`. */
export async function pauseBefore(run: RolloutRun, wave: number): Promise<void> {
  const { st } = run;
  const strategy = run.config.strategy;
  if (wave === 0 || st.promotedWave === wave) return;
  const previous = st.waves[wave - 1]!;
  const pause = previous.kind === 'canary' && strategy.canary ? strategy.canary.pause : strategy.pause;
  if ('manual' in pause) {
    run.setPhase(
      'awaiting-promotion',
      `wave ${wave - 1} done; manual pause: \`cvmflow rollout promote\` starts wave ${wave}`,
    );
    await condition(() => st.promotedWave === wave || st.abort !== undefined);
    return;
  }
  if (pause.ms <= 0) return;
  const endedAt = st.waveLog.filter((w) => w.mode === 'update').at(-1)?.endedAtMs ?? run.now();
  const until = endedAt + pause.ms;
  if (until <= run.now()) return;
  run.setPhase('pausing', `pause before wave ${wave} until ${iso(until)} (promote to start it now)`);
  await condition(() => st.promotedWave === wave || st.abort !== undefined, realDelayMs(run.clock, until - run.now()));
}

/** Returns once the wave may start (or the rollout is aborted): not paused, inside the window, not frozen. */
export async function startGate(run: RolloutRun, wave: number): Promise<void> {
  const { st } = run;
  for (;;) {
    if (st.abort) return;
    pruneOverrides(run);
    if (st.paused) {
      run.setPhase('paused', `before wave ${wave}: ${st.paused.reason}`);
      await condition(() => !st.paused || st.abort !== undefined);
      continue;
    }
    const g = run.gate();
    if (g && !g.open) {
      const next = g.recheckAtMs === undefined ? '' : `; next change ${iso(g.recheckAtMs)}`;
      run.setPhase(g.state === 'frozen' ? 'frozen' : 'waiting-window', `wave ${wave} waits: ${g.cause}${next}`);
      run.dirty = false;
      await condition(() => run.dirty, run.wakeFor(g));
      continue;
    }
    return;
  }
}

function pruneOverrides(run: RolloutRun): void {
  const { st } = run;
  const t = run.now();
  const expired = st.overrides.filter((o) => o.untilMs !== undefined && o.untilMs <= t);
  if (!expired.length) return;
  st.overrides = st.overrides.filter((o) => !expired.includes(o));
  for (const o of expired) run.record(`override ${o.id} (${o.kind}) expired`);
}

/** A skipWindow without an end covers one wave. */
export function useUpWaveOverrides(run: RolloutRun): void {
  const { st } = run;
  const used = st.overrides.filter((o) => o.kind === 'skipWindow' && o.untilMs === undefined);
  if (!used.length) return;
  st.overrides = st.overrides.filter((o) => !used.includes(o));
  for (const o of used) run.record(`override ${o.id} (skipWindow) used up by the wave`);
}

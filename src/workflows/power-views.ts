// What a power schedule shows: its status (the `status` query), its overrides and its next transitions. Pure
// functions of the state and the schedule's clock; audit entries keep `note` beside `reason` for older readers.
import { type Effective, effectiveDesired, iso, phaseOf, upcomingPowerChanges } from './power-decide';
import type { PowerScheduleState } from './power-state';
import type { CvmStatusView, Override, OverrideView, PowerStatus, TransitionView } from './power-types';

export function overrideView(s: PowerScheduleState, o: Override): OverrideView {
  const view = { ...o, note: o.reason };
  return o.untilMs === undefined ? view : { ...view, until: s.instant(o.untilMs) };
}

export function desiredView(eff: Effective) {
  return { state: eff.state, restart: eff.restartKey !== undefined, cause: eff.cause };
}

/** The next `count` calendar changes, each with the override that keeps it from acting, if any. */
export function transitionsView(s: PowerScheduleState, count: number): TransitionView[] {
  const { calendar } = s.config;
  return upcomingPowerChanges(calendar, s.now(), count).map((c) => {
    const keep = s.overrides.find((o) => (o.kind === 'keepRunning' || o.kind === 'keepStopped') && o.untilMs! > c.atMs);
    const skip = s.overrides.find((o) => o.kind === 'skip' && o.fromMs === c.atMs);
    const by = keep ? `${keep.kind} ${keep.id}` : skip ? `skip ${skip.id}` : s.paused() ? 'pause' : undefined;
    return {
      ...s.instant(c.atMs),
      state: c.state,
      source: effectiveDesired(calendar, [], c.atMs).cause,
      ...(by ? { suppressedBy: by } : {}),
    };
  });
}

export function statusView(s: PowerScheduleState): PowerStatus {
  const { config, carried } = s;
  const t = s.now();
  const eff = effectiveDesired(config.calendar, s.overrides, t);
  const p = s.paused();
  const cvms = [...s.memory.values()].map((m): CvmStatusView => {
    const phase = phaseOf(m.status, m.inProgress);
    return {
      cvmId: m.cvmId,
      name: m.name,
      app: m.app,
      actual: m.status,
      desired: eff.state,
      inState: phase === eff.state,
      ...(m.driftSinceMs !== undefined ? { drift: { sinceMs: m.driftSinceMs, since: iso(m.driftSinceMs) } } : {}),
      ...(m.owed ? { owed: m.owed } : {}),
      ...(s.inFlight.has(m.cvmId) ? { inFlight: s.inFlight.get(m.cvmId)!.action } : {}),
      ...(m.deferred ? { deferred: m.deferred } : {}),
      failures: m.failures,
      ...(m.lastError ? { lastError: m.lastError } : {}),
      ...(m.retryAtMs !== undefined ? { retryAt: iso(m.retryAtMs) } : {}),
      ...(m.lastAction ? { lastAction: m.lastAction } : {}),
    };
  });
  return {
    name: config.name,
    mode: config.mode,
    timezone: config.calendar.timezone,
    now: s.instant(t),
    ...(p ? { paused: { by: p.by, reason: p.reason, at: p.at, note: p.reason, sinceMs: p.createdAtMs } } : {}),
    calendarDesired: { state: eff.calendar.state, source: effectiveDesired(config.calendar, [], t).cause },
    desired: desiredView(eff),
    cvms,
    unresolved: carried.unresolved,
    overrides: s.overrides.map((o) => overrideView(s, o)),
    nextTransitions: transitionsView(s, 3),
    recent: [...carried.records],
    summary: carried.summary,
    ...(carried.lastEvaluationMs !== undefined ? { lastEvaluation: s.instant(carried.lastEvaluationMs) } : {}),
    ...(s.listedAtMs !== undefined ? { lastListing: s.instant(s.listedAtMs) } : {}),
    run: { runs: carried.runs, iteration: s.iteration, applies: carried.applies },
    ...(carried.analyses?.length ? { analyses: carried.analyses } : {}),
  };
}

// What one run of a power schedule hands to the next (continue-as-new), and how a run takes it over. The input of a
// run started by an older one is in that run's history, so the shapes older runs carried stay readable here: an
// override from before the audit vocabulary (issue 24) carried a `note` where `by, reason, at` are now.
import { UNKNOWN_ACTOR } from '../domain/audit-input';
import { iso } from '../domain/time';
import type { PowerScheduleState } from './power-state';
import type { CarriedState, LegacyOverride, Override, PowerScheduleInput } from './power-types';

/** The state a run starts from: what the previous run carried (upgraded), or nothing yet. */
export function carriedFrom(carried: CarriedState | undefined): CarriedState {
  if (!carried) {
    return {
      overrides: [],
      records: [],
      summary: { folded: 0, byKind: {} },
      nextSeq: 1,
      cvms: [],
      unresolved: [],
      applies: 0,
      runs: 0,
      overrideSeq: 0,
    };
  }
  return { ...carried, overrides: carried.overrides.map(upgradeOverride) };
}

/** An override in the current shape, whichever shape a run carried it in. */
export function upgradeOverride(o: Override | LegacyOverride): Override {
  if ('reason' in o && typeof o.reason === 'string') return o;
  const { note, ...rest } = o as LegacyOverride;
  return { ...rest, by: UNKNOWN_ACTOR, reason: note, at: iso(rest.createdAtMs) };
}

/** The next run's input: the spec as last applied, the same clock and tuning, and everything this run learnt. */
export function carryOver(s: PowerScheduleState): PowerScheduleInput {
  return {
    config: s.config,
    clock: s.clock,
    tuning: s.input.tuning,
    carried: { ...s.carried, cvms: [...s.memory.values()] },
  };
}

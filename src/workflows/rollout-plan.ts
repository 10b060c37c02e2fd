// The rollout's pure logic: sizes, the order CVMs are updated in, the wave plan, and what the deploy-window calendar
// and its overrides allow at an instant. No clock reads and no I/O: the workflow passes its own clock in, and unit
// tests drive these with tables (including the 2026 DST transitions of docs/calendar.md).
import { type Calendar, desiredAt, nextChange } from '../calendar';
import type {
  AuditRecord,
  CvmRecord,
  CvmState,
  Override,
  Size,
  TargetCvm,
  WavePlan,
  WindowState,
} from './rollout-types';

// ---------------------------------------------------------------------------------------------------------------
// Sizes and the plan

/**
 * A size in CVMs. Percentages round `up` for things that must make progress (canary, wave size) and `down` for
 * limits (maxUnavailable, failure budget), like Kubernetes' maxSurge / maxUnavailable; the result is at least `min`.
 */
export function sizeOf(size: Size, total: number, round: 'up' | 'down', min: number): number {
  if ('count' in size) return Math.max(min, size.count);
  const exact = (size.percent * total) / 100;
  // 10% of 30 is 3, not 3.0000000000000004 rounded up to 4.
  const fixed = Math.round(exact * 1e9) / 1e9;
  return Math.max(min, round === 'up' ? Math.ceil(fixed) : Math.floor(fixed));
}

export function describeSize(size: Size): string {
  return 'count' in size ? String(size.count) : `${size.percent}%`;
}

/**
 * The update order: one CVM of every app before a second CVM of any, apps in the order they were first resolved.
 * So the canary and each wave spread over apps, and no multi-instance app loses all its instances in one wave.
 */
export function updateOrder(targets: readonly TargetCvm[]): TargetCvm[] {
  const byApp = new Map<string, TargetCvm[]>();
  for (const t of targets) {
    const list = byApp.get(t.app);
    if (list) list.push(t);
    else byApp.set(t.app, [t]);
  }
  const ordered: TargetCvm[] = [];
  const lists = [...byApp.values()];
  for (let round = 0; ordered.length < targets.length; round++) {
    for (const list of lists) {
      const next = list[round];
      if (next) ordered.push(next);
    }
  }
  return ordered;
}

export interface PlanLimits {
  canary?: Size;
  waveSize?: Size;
  maxParallel: number;
}

/** Canary first (when asked), then waves of waveSize (default maxParallel) over the ordered targets. */
export function planWaves(total: number, limits: PlanLimits): WavePlan[] {
  const waves: WavePlan[] = [];
  let first = 0;
  if (limits.canary && total > 0) {
    const count = Math.min(total, sizeOf(limits.canary, total, 'up', 1));
    waves.push({ index: 0, kind: 'canary', first, count });
    first += count;
  }
  const size = sizeOf(limits.waveSize ?? { count: limits.maxParallel }, total, 'up', 1);
  while (first < total) {
    const count = Math.min(size, total - first);
    waves.push({ index: waves.length, kind: 'wave', first, count });
    first += count;
  }
  return waves;
}

// ---------------------------------------------------------------------------------------------------------------
// Target selection

export { globMatches } from '../domain/glob';

// ---------------------------------------------------------------------------------------------------------------
// Deploy windows and freezes

export interface Gate {
  /** The calendar's state at the instant, before overrides. */
  state: WindowState;
  /** Whether a wave may start (and a held wave may go on). */
  open: boolean;
  cause: string;
  /** The next instant at which `open` may change (a calendar change or an override expiring). */
  recheckAtMs?: number;
}

const withoutFreezes = new WeakMap<Calendar, Calendar>();

/** The calendar as if no entry froze anything: what a lifted freeze reveals underneath. */
function unfrozen(calendar: Calendar): Calendar {
  let cached = withoutFreezes.get(calendar);
  if (!cached) {
    const keep = <T extends { state: string }>(entries?: readonly T[]) => entries?.filter((e) => e.state !== 'frozen');
    cached = {
      ...calendar,
      periods: keep(calendar.periods),
      windows: keep(calendar.windows),
      dates: keep(calendar.dates),
      default: calendar.default === 'frozen' ? 'closed' : calendar.default,
    };
    withoutFreezes.set(calendar, cached);
  }
  return cached;
}

const asWindowState = (state: string): WindowState => (state === 'open' || state === 'frozen' ? state : 'closed');

function active(overrides: readonly Override[], kind: Override['kind'], nowMs: number): Override | undefined {
  return overrides.find((o) => o.kind === kind && (o.untilMs === undefined || o.untilMs > nowMs));
}

/**
 * What the deploy windows allow at `nowMs`. A freeze blocks unless a liftFreeze override covers the instant; then
 * the calendar underneath the freeze decides. A closed window blocks unless a skipWindow override is active.
 */
export function windowGate(calendar: Calendar, overrides: readonly Override[], nowMs: number): Gate {
  const state = asWindowState(desiredAt(calendar, nowMs).state);
  const candidates: number[] = [];
  const changeOf = (cal: Calendar) => {
    const change = nextChange(cal, nowMs);
    if (change) candidates.push(change.atMs);
  };
  changeOf(calendar);
  for (const o of overrides) if (o.untilMs !== undefined && o.untilMs > nowMs) candidates.push(o.untilMs);
  const gate = (open: boolean, cause: string): Gate => ({
    state,
    open,
    cause,
    ...(candidates.length ? { recheckAtMs: Math.min(...candidates) } : {}),
  });
  const by = (o: Override) => `${o.kind} ${o.id} (${o.reason ?? o.note})`;

  let effective = state;
  let cause = 'inside the deploy window';
  if (state === 'frozen') {
    const lift = active(overrides, 'liftFreeze', nowMs);
    if (!lift) return gate(false, 'frozen by the window calendar');
    const underneath = unfrozen(calendar);
    effective = asWindowState(desiredAt(underneath, nowMs).state);
    changeOf(underneath);
    cause = `freeze lifted by ${by(lift)}; without the freeze the window is ${effective}`;
  }
  if (effective === 'open') return gate(true, cause);
  const skip = active(overrides, 'skipWindow', nowMs);
  if (skip) return gate(true, `${state === 'frozen' ? `${cause}; ` : ''}window skipped by ${by(skip)}`);
  return gate(false, state === 'frozen' ? cause : 'outside the deploy window');
}

// ---------------------------------------------------------------------------------------------------------------
// Bookkeeping

export function countStates(cvms: readonly CvmRecord[]): Partial<Record<CvmState, number>> {
  const counts: Partial<Record<CvmState, number>> = {};
  for (const c of cvms) counts[c.state] = (counts[c.state] ?? 0) + 1;
  return counts;
}

/** CVMs this rollout changed, or may have changed, that a revert has not put back yet. */
export function needsRevert(c: CvmRecord): boolean {
  if (c.restore === undefined) return false;
  return c.state === 'healthy' || c.state === 'failed' || c.state === 'revert-failed' || c.state === 'updating';
}

/** Target CVMs that are down because of this rollout and stay down until someone acts. */
export function isUnavailable(c: CvmRecord): boolean {
  return c.state === 'failed' || c.state === 'revert-failed';
}

export function addRecord(
  st: { records: AuditRecord[]; foldedRecords: number; nextSeq: number },
  atMs: number,
  text: string,
  max: number,
): AuditRecord {
  const record = { seq: st.nextSeq++, atMs, text };
  st.records.push(record);
  while (st.records.length > max) {
    st.records.shift();
    st.foldedRecords++;
  }
  return record;
}

// Notes and override ends follow the one rule of every control request (src/domain/audit-input.ts).
export { checkNote, checkUntil } from '../domain/audit-input';

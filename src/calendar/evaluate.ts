// Pure evaluation of a calendar at instants (epoch milliseconds). Safe in Temporal workflow code: no clock reads,
// no randomness, no I/O — the caller passes the time in (in a workflow, the sandbox's deterministic clock).
import { type CompiledCalendar, compile, type Span } from './compile';
import { DAY_MS } from './local-time';
import type { Calendar, Change, Desired } from './types';

/** How far nextChange looks by default: over a year, so yearly date ranges are always seen. */
export const DEFAULT_HORIZON_MS = 400 * DAY_MS;

// nextChange / changesBetween collect candidate boundaries a week at a time: small enough to stop early when the
// next change is near, large enough that a quiet calendar is scanned in a few dozen steps.
const CHUNK_MS = 7 * DAY_MS;

/** The state the calendar asks for at an instant, and the entry that decided it. */
export function desiredAt(calendar: Calendar, instantMs: number): Desired {
  assertInstant(instantMs, 'instantMs');
  return evaluate(compile(calendar), instantMs);
}

export interface NextChangeOptions {
  /** Give up after this many milliseconds past `afterMs` (default DEFAULT_HORIZON_MS). */
  readonly horizonMs?: number;
}

/**
 * The first instant strictly after `afterMs` at which the desired state differs from the state at `afterMs`,
 * or undefined when the state stays the same for the whole horizon. Boundaries that keep the state (one entry
 * handing over to another with the same state) are not changes.
 */
export function nextChange(calendar: Calendar, afterMs: number, options: NextChangeOptions = {}): Change | undefined {
  assertInstant(afterMs, 'afterMs');
  const horizonMs = options.horizonMs ?? DEFAULT_HORIZON_MS;
  if (!(horizonMs > 0) || !Number.isFinite(horizonMs)) throw new RangeError('horizonMs must be a positive number');
  const compiled = compile(calendar);
  const from = evaluate(compiled, afterMs).state;
  for (const atMs of boundaries(compiled, afterMs, afterMs + horizonMs)) {
    const desired = evaluate(compiled, atMs);
    if (desired.state !== from) return { atMs, ...desired };
  }
  return undefined;
}

/** Every change at an instant in (fromMs, toMs], in order: what repeated nextChange calls would return. */
export function changesBetween(calendar: Calendar, fromMs: number, toMs: number): Change[] {
  assertInstant(fromMs, 'fromMs');
  assertInstant(toMs, 'toMs');
  if (toMs < fromMs) throw new RangeError('toMs must not be before fromMs');
  const compiled = compile(calendar);
  const changes: Change[] = [];
  let current = evaluate(compiled, fromMs).state;
  for (const atMs of boundaries(compiled, fromMs, toMs)) {
    const desired = evaluate(compiled, atMs);
    if (desired.state !== current) {
      changes.push({ atMs, ...desired });
      current = desired.state;
    }
  }
  return changes;
}

function evaluate(calendar: CompiledCalendar, instantMs: number): Desired {
  const window = lastActive(calendar.windows, instantMs);
  if (window) return window.desired;
  const range = lastActive(calendar.dates, instantMs);
  if (range) return range.desired;
  // A period starts on its local day and lasts at most a day, so only the periods of neighbouring days can cover
  // the instant. One day of slack on each side covers offset jumps of up to a day (Pacific/Apia skipped
  // 2011-12-30) and a fall-back that repeats the hour around midnight.
  const today = calendar.clock.localDay(instantMs);
  let best: Span | undefined;
  for (let day = today - 3; day <= today + 1; day++) {
    for (const span of calendar.periodSpans(day)) {
      if (span.startMs <= instantMs && instantMs < span.endMs && (!best || span.index > best.index)) best = span;
    }
  }
  return best ? best.desired : calendar.fallback;
}

function lastActive(spans: readonly Span[], instantMs: number): Span | undefined {
  for (let i = spans.length - 1; i >= 0; i--) {
    const span = spans[i]!;
    if (span.startMs <= instantMs && instantMs < span.endMs) return span;
  }
  return undefined;
}

/**
 * The instants in (afterMs, untilMs] where any entry starts or ends, ascending and distinct. The desired state is
 * constant between two consecutive ones, so these are the only places a change can happen.
 */
function* boundaries(calendar: CompiledCalendar, afterMs: number, untilMs: number): Generator<number> {
  for (let lo = afterMs; lo < untilMs; lo += CHUNK_MS) {
    const hi = Math.min(lo + CHUNK_MS, untilMs);
    const found: number[] = [];
    const inChunk = (instant: number) => {
      if (instant > lo && instant <= hi) found.push(instant);
    };
    for (let i = firstAfter(calendar.fixedBoundaries, lo); i < calendar.fixedBoundaries.length; i++) {
      const instant = calendar.fixedBoundaries[i]!;
      if (instant > hi) break;
      found.push(instant);
    }
    // Same day slack as in evaluate: a period that ends in this chunk may have started up to three local days before.
    const lastDay = calendar.clock.localDay(hi) + 1;
    for (let day = calendar.clock.localDay(lo) - 3; day <= lastDay; day++) {
      for (const span of calendar.periodSpans(day)) {
        inChunk(span.startMs);
        inChunk(span.endMs);
      }
    }
    found.sort((a, b) => a - b);
    let previous = Number.NaN;
    for (const instant of found) {
      if (instant !== previous) yield instant;
      previous = instant;
    }
  }
}

/** Index of the first element greater than `instant` in an ascending array. */
function firstAfter(sorted: readonly number[], instant: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= instant) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function assertInstant(value: number, name: string): void {
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be a finite number of epoch milliseconds`);
}

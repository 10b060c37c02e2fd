// Conversions between instants and local wall time in one IANA zone, with the calendar's DST rule.
// A "wall" value is a local civil date-time encoded as if it were UTC epoch milliseconds, so calendar arithmetic
// (next day, 08:00 on that day) is plain addition; only `instantOf` / `wallOf` know about the zone.
import { IANAZone } from 'luxon';

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;

// Every offset in the tz database (local mean time included) is within ±16 h, so the instant of a wall time lies
// within this distance of the wall value.
const MAX_OFFSET_MS = 16 * 3_600_000;
// Offsets are looked up per three UTC days ("bucket"): if a bucket starts and ends with the same offset, it has no
// transition inside. That holds because a zone's transitions are far apart (at least 165 h in every zone, 1970–2060,
// checked with the tz data Node ships); asking Intl once per bucket instead of per instant makes evaluation cheap.
const BUCKET_MS = 3 * DAY_MS;
// Bounded so a long-lived worker evaluating over decades of instants does not grow without limit.
const BUCKET_CACHE_LIMIT = 8192;

export function isIanaZone(name: string): boolean {
  return IANAZone.isValidZone(name);
}

export class ZoneClock {
  readonly #zone: IANAZone;
  /** Offset at the start of each bucket seen so far. */
  readonly #edges = new Map<number, number>();

  constructor(timezone: string) {
    this.#zone = IANAZone.create(timezone);
    if (!this.#zone.isValid) throw new RangeError(`"${timezone}" is not an IANA time zone`);
  }

  /** UTC offset in milliseconds at an instant. */
  offsetAt(instantMs: number): number {
    return this.#constantOffset(Math.floor(instantMs / BUCKET_MS)) ?? this.#rawOffset(instantMs);
  }

  wallOf(instantMs: number): number {
    return instantMs + this.offsetAt(instantMs);
  }

  /** The local date of an instant, as days since 1970-01-01. */
  localDay(instantMs: number): number {
    return Math.floor(this.wallOf(instantMs) / DAY_MS);
  }

  /**
   * The instant of a wall time, by the calendar's DST rule:
   * - a wall time that occurs twice (fall back) maps to its first occurrence;
   * - a wall time that does not exist (spring forward) maps to the first instant after the gap, i.e. the transition.
   * The mapping never decreases as the wall time grows, so a range of wall time never turns into a negative range.
   */
  instantOf(wallMs: number): number {
    const first = Math.floor((wallMs - MAX_OFFSET_MS) / BUCKET_MS);
    const last = Math.floor((wallMs + MAX_OFFSET_MS) / BUCKET_MS);
    const offset = this.#constantOffset(first);
    if (offset === null) return this.#instantNearTransition(wallMs);
    for (let bucket = first + 1; bucket <= last; bucket++) {
      if (this.#constantOffset(bucket) !== offset) return this.#instantNearTransition(wallMs);
    }
    return wallMs - offset;
  }

  #instantNearTransition(wallMs: number): number {
    const before = this.#rawOffset(wallMs - DAY_MS);
    const after = this.#rawOffset(wallMs + DAY_MS);
    // An instant is a valid reading of the wall time when the zone's offset there maps it back to that wall time.
    const earlier = Math.min(wallMs - before, wallMs - after);
    const later = Math.max(wallMs - before, wallMs - after);
    if (this.#rawOffset(earlier) === wallMs - earlier) return earlier;
    if (this.#rawOffset(later) === wallMs - later) return later;
    // In a gap: the transition lies in (wallMs - after, wallMs - before]; find it to the millisecond.
    let lo = wallMs - after;
    let hi = wallMs - before;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.#rawOffset(mid) === before) lo = mid;
      else hi = mid;
    }
    return hi;
  }

  /** The bucket's offset when it has no transition, else null. */
  #constantOffset(bucket: number): number | null {
    const start = this.#edgeOffset(bucket);
    return start === this.#edgeOffset(bucket + 1) ? start : null;
  }

  #edgeOffset(bucket: number): number {
    let offset = this.#edges.get(bucket);
    if (offset === undefined) {
      offset = this.#rawOffset(bucket * BUCKET_MS);
      if (this.#edges.size >= BUCKET_CACHE_LIMIT) this.#edges.clear();
      this.#edges.set(bucket, offset);
    }
    return offset;
  }

  #rawOffset(instantMs: number): number {
    // Luxon reports minutes, fractional for old local-mean-time offsets; whole milliseconds keep comparisons exact.
    return Math.round(this.#zone.offset(instantMs) * MINUTE_MS);
  }
}

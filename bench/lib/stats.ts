// Small statistics helpers for the benchmarks: nearest-rank percentiles (no interpolation, so every reported figure
// is a value that was really measured) and rounding for the results files.

/** Nearest-rank percentile of unsorted samples; p in [0, 100]. Throws on an empty sample (a benchmark bug). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error('percentile of an empty sample');
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile must be within 0..100 (got ${p})`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export const median = (samples: readonly number[]) => percentile(samples, 50);

export function summary(samples: readonly number[]): { n: number; p50: number; p99: number; max: number } {
  return {
    n: samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: percentile(samples, 100),
  };
}

/** Rounds to `digits` decimals (results files carry measured figures, not float noise). */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A Temporal/protobuf timestamp (seconds as Long or number, nanos) in epoch milliseconds, sub-ms precise. */
export function timestampMs(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!ts) return Number.NaN;
  const s = ts.seconds as { toNumber(): number } | number | string | undefined | null;
  const seconds = typeof s === 'object' && s !== null ? s.toNumber() : Number(s ?? 0);
  return seconds * 1000 + (ts.nanos ?? 0) / 1e6;
}

// The two kinds of web checks a blue-green deployment makes, without Temporal: a health probe (one GET, judged by
// its status) and an analysis measurement (a web check answering pass / fail / inconclusive). Both tell a failure
// (the app said no) from an error (no usable answer), because errors are retried and failures are counted.
import { request } from 'undici';

export interface ProbeResult {
  ok: boolean;
  url: string;
  status?: number;
  error?: string;
  latencyMs: number;
}

/** Joins a base endpoint (which may carry a path prefix) and a path. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

export async function probe(
  url: string,
  opts: { expectStatus: number[]; timeoutMs: number; signal?: AbortSignal },
): Promise<ProbeResult> {
  const started = Date.now();
  const signal = opts.signal
    ? AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs)])
    : AbortSignal.timeout(opts.timeoutMs);
  try {
    const res = await request(url, { method: 'GET', signal, headersTimeout: opts.timeoutMs });
    await res.body.dump();
    const ok = opts.expectStatus.includes(res.statusCode);
    return { ok, url, status: res.statusCode, latencyMs: Date.now() - started };
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    return { ok: false, url, error: (err as Error).message, latencyMs: Date.now() - started };
  }
}

export type Measurement = 'pass' | 'fail' | 'inconclusive' | 'error';

export interface MeasurementResult {
  value: Measurement;
  detail: string;
}

/** One analysis measurement: the `web` provider's check (src/analysis/providers/web.ts). */
export { measureWeb as measure } from '../analysis/providers/web';

export interface AnalysisLimits {
  count: number;
  failureLimit: number;
  errorLimit: number;
  inconclusiveLimit: number;
}

export interface AnalysisTally {
  taken: number;
  passes: number;
  failures: number;
  inconclusive: number;
  consecutiveErrors: number;
  errors: number;
}

export type AnalysisVerdict = 'pass' | 'fail' | 'inconclusive' | 'error';

export const emptyTally = (): AnalysisTally => ({
  taken: 0,
  passes: 0,
  failures: 0,
  inconclusive: 0,
  consecutiveErrors: 0,
  errors: 0,
});

/** Adds a measurement; an error is not a measurement (it is retried), but too many in a row end the analysis. */
export function tally(t: AnalysisTally, m: Measurement): AnalysisTally {
  if (m === 'error') return { ...t, errors: t.errors + 1, consecutiveErrors: t.consecutiveErrors + 1 };
  return {
    ...t,
    taken: t.taken + 1,
    consecutiveErrors: 0,
    passes: t.passes + (m === 'pass' ? 1 : 0),
    failures: t.failures + (m === 'fail' ? 1 : 0),
    inconclusive: t.inconclusive + (m === 'inconclusive' ? 1 : 0),
  };
}

/** The analysis' verdict once one is due, else undefined (take another measurement). */
export function verdict(t: AnalysisTally, limits: AnalysisLimits): AnalysisVerdict | undefined {
  if (t.failures > limits.failureLimit) return 'fail';
  if (t.consecutiveErrors > limits.errorLimit) return 'error';
  if (t.inconclusive > limits.inconclusiveLimit) return 'inconclusive';
  if (t.taken >= limits.count) return 'pass';
  return undefined;
}

// The `web` provider: the web check blue-green analysis has always made. The check answers 2xx with JSON
// `{"result": "pass" | "fail" | "inconclusive"}` (`status` or `verdict` are accepted too); anything else — no
// answer, a non-2xx status, another body — is an error, not a failure.
import { request } from 'undici';
import type { Provider } from '../provider';
import type { Verdict, WebProvider } from '../types';

export interface WebMeasurement {
  value: Verdict;
  detail: string;
}

/** One web check; `body` is POSTed as JSON. */
export async function measureWeb(
  url: string,
  opts: { method: 'GET' | 'POST'; timeoutMs: number; body?: unknown; signal?: AbortSignal },
): Promise<WebMeasurement> {
  const signal = opts.signal
    ? AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs)])
    : AbortSignal.timeout(opts.timeoutMs);
  let status: number;
  let text: string;
  try {
    const res = await request(url, {
      method: opts.method,
      signal,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      ...(opts.method === 'POST'
        ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(opts.body ?? {}) }
        : {}),
    });
    status = res.statusCode;
    text = (await res.body.text()).slice(0, 2000);
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    return { value: 'error', detail: (err as Error).message };
  }
  if (status < 200 || status >= 300) return { value: 'error', detail: `answered ${status}` };
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { value: 'error', detail: 'answered something that is not JSON' };
  }
  const verdict = String(parsed?.result ?? parsed?.status ?? parsed?.verdict ?? '').toLowerCase();
  if (verdict === 'pass' || verdict === 'fail' || verdict === 'inconclusive') {
    const note = typeof parsed.message === 'string' ? `: ${parsed.message.slice(0, 200)}` : '';
    return { value: verdict, detail: `${verdict}${note}` };
  }
  return { value: 'error', detail: 'answered JSON without result: pass | fail | inconclusive' };
}

/** `{greenUrl}`-like values start URLs and go in as they are; the others are URL-encoded. */
const RAW = /Url$/;

export const webProvider: Provider<WebProvider> = {
  type: 'web',
  async measure(p, _metric, ctx) {
    const url = p.url.replace(/\{([a-zA-Z][a-zA-Z0-9]*)\}/g, (whole, key: string) =>
      Object.hasOwn(ctx.vars, key) ? (RAW.test(key) ? ctx.vars[key]! : encodeURIComponent(ctx.vars[key]!)) : whole,
    );
    const m = await measureWeb(url, { method: p.method, timeoutMs: ctx.timeoutMs, body: ctx.vars, signal: ctx.signal });
    return { verdict: m.value, query: `${p.method} ${url}`, value: m.value, detail: m.detail };
  },
};

// The `prometheus` provider: a PromQL query (instant, or a range over the last few minutes) through Prometheus'
// HTTP API, its result judged by the metric's success / failure conditions. Placeholder values are escaped for
// PromQL string literals. Header values (a bearer token, basic auth) are read by the worker from its environment or
// a file at measurement time, so they never reach the spec, the history or an error text.
import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { ConditionError, compileCondition, type ResultValue } from '../condition';
import { fill, type Provider } from '../provider';
import type { HeaderSource, PrometheusProvider, Verdict } from '../types';

/** Inside `"…"` in PromQL, and safe inside a regex matcher for the names and ids we fill in. */
const promqlString = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

export function buildQuery(p: PrometheusProvider, vars: Record<string, string>): string {
  return fill(p.query, vars, promqlString);
}

/** Prometheus' answer as the value conditions see: scalar → number; vector → one per series; matrix → lists. */
export function resultValue(data: { resultType: string; result: unknown }): ResultValue {
  const sample = (v: unknown) => Number((v as [number, string])[1]);
  if (data.resultType === 'scalar') return sample(data.result);
  const series = data.result as { value?: unknown; values?: unknown[] }[];
  if (data.resultType === 'vector') return series.map((s) => sample(s.value));
  if (data.resultType === 'matrix') return series.map((s) => (s.values ?? []).map(sample));
  throw new ConditionError(`a ${data.resultType} result cannot be judged`);
}

/**
 * Argo's rules: with only a successCondition, false means fail; with only a failureCondition, false means pass;
 * with both, neither being true means inconclusive. A condition that cannot be evaluated (no series, NaN where a
 * number was needed) is an error: retried, never a failure.
 */
export function judge(
  result: ResultValue,
  conditions: { successCondition?: string; failureCondition?: string },
): { verdict: Verdict; detail: string } {
  const { successCondition: ok, failureCondition: bad } = conditions;
  try {
    if (bad !== undefined && compileCondition(bad)(result))
      return { verdict: 'fail', detail: `failureCondition "${bad}" is true` };
    if (ok !== undefined) {
      if (compileCondition(ok)(result)) return { verdict: 'pass', detail: `successCondition "${ok}" is true` };
      if (bad === undefined) return { verdict: 'fail', detail: `successCondition "${ok}" is false` };
      return {
        verdict: 'inconclusive',
        detail: `neither successCondition "${ok}" nor failureCondition "${bad}" is true`,
      };
    }
    return { verdict: 'pass', detail: `failureCondition "${bad}" is false` };
  } catch (err) {
    if (err instanceof ConditionError) return { verdict: 'error', detail: `cannot judge the result: ${err.message}` };
    throw err;
  }
}

async function headerValues(sources: HeaderSource[], env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const h of sources) {
    if (h.fromEnv !== undefined) {
      const v = env[h.fromEnv];
      if (v === undefined) throw new Error(`header ${h.name}: the worker has no environment variable ${h.fromEnv}`);
      out[h.name] = v;
    } else if (h.fromFile !== undefined) {
      try {
        out[h.name] = (await readFile(h.fromFile, 'utf8')).trim();
      } catch (err) {
        throw new Error(`header ${h.name}: cannot read ${h.fromFile} (${(err as NodeJS.ErrnoException).code})`);
      }
    }
  }
  return out;
}

const showValue = (v: ResultValue) => {
  const text = JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
};

export const prometheusProvider: Provider<PrometheusProvider> = {
  type: 'prometheus',
  async measure(p, metric, ctx) {
    const query = buildQuery(p, ctx.vars);
    const params = new URLSearchParams({ query, timeout: `${Math.max(1, Math.floor(ctx.timeoutMs / 1000))}s` });
    if (p.range) {
      const end = Date.now() / 1000;
      params.set('start', String(end - p.range.rangeMs / 1000));
      params.set('end', String(end));
      params.set('step', String(p.range.stepMs / 1000));
    }
    const url = `${p.address.replace(/\/+$/, '')}/api/v1/${p.range ? 'query_range' : 'query'}`;
    const error = (detail: string) => ({ verdict: 'error' as const, query, value: '', detail });
    let status: number;
    let body: string;
    try {
      const headers = await headerValues(p.headers, ctx.env);
      const res = await request(url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
        body: params.toString(),
        signal: ctx.signal,
        headersTimeout: ctx.timeoutMs,
        bodyTimeout: ctx.timeoutMs,
      });
      status = res.statusCode;
      body = (await res.body.text()).slice(0, 1_000_000);
    } catch (err) {
      return error(`Prometheus at ${p.address} did not answer: ${(err as Error).message}`);
    }
    let parsed: { status?: string; error?: string; data?: { resultType: string; result: unknown } };
    try {
      parsed = JSON.parse(body);
    } catch {
      return error(`Prometheus answered ${status} with something that is not JSON`);
    }
    if (parsed.status !== 'success' || !parsed.data)
      return error(`Prometheus answered ${status}: ${String(parsed.error ?? 'no data').slice(0, 200)}`);
    let value: ResultValue;
    try {
      value = resultValue(parsed.data);
    } catch (err) {
      return error((err as Error).message);
    }
    const judged = judge(value, metric);
    return { verdict: judged.verdict, query, value: showValue(value), detail: judged.detail };
  },
};

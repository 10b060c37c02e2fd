// Metric analysis in specs: the `metrics` of a BlueGreen pre/post-promotion analysis and of a Rollout's per-wave and
// background analysis, in Argo Rollouts' words (count, interval, initialDelay, failureLimit, inconclusiveLimit,
// consecutiveErrorLimit, dryRun, successCondition, failureCondition) with one provider each: `web`, `prometheus` or
// `job`. Conditions are parsed here, at load, so a malformed one is refused before anything starts.
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConditionError, compileCondition } from '../analysis/condition';
import type { MetricSpec, ProviderSpec } from '../analysis/types';
import { durationSchema } from './duration';
import { choice, expected, httpUrl, int, type SpecContext, strictObject, text } from './schema';

export type { MetricSpec };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEADER_NAME = /^[A-Za-z0-9-]+$/;

const condition = text('an expression over result, e.g. result[0] < 0.05').superRefine((source, ctx) => {
  try {
    compileCondition(source);
  } catch (err) {
    if (!(err instanceof ConditionError)) throw err;
    ctx.addIssue({ code: 'custom', message: `${err.message} in ${JSON.stringify(source)}` });
  }
});

// Header values never appear in the spec: they are read by the worker from its environment or a file.
function headerSchema(ctx: SpecContext) {
  return strictObject({
    name: text('an HTTP header name such as Authorization').regex(HEADER_NAME, {
      error: expected('an HTTP header name such as Authorization'),
    }),
    fromEnv: z
      .string({ error: expected('a worker environment variable name') })
      .regex(ENV_NAME)
      .optional(),
    fromFile: text('a file path, relative to the spec file').optional(),
  }).transform((h, issues) => {
    if ((h.fromEnv === undefined) === (h.fromFile === undefined)) {
      issues.addIssue({ code: 'custom', message: 'give exactly one of fromEnv or fromFile', input: undefined });
      return z.NEVER;
    }
    return h.fromEnv !== undefined
      ? { name: h.name, fromEnv: h.fromEnv }
      : { name: h.name, fromFile: resolve(ctx.baseDir, h.fromFile!) };
  });
}

function providerSchema(ctx: SpecContext) {
  const web = strictObject({
    url: httpUrl('(placeholders such as {app}, {version}, {greenUrl})'),
    method: choice(['GET', 'POST'], { ignoreCase: true }).default('GET'),
  }).transform((w): ProviderSpec => ({ type: 'web', url: w.url, method: w.method }));
  const prometheus = strictObject({
    address: httpUrl('of the Prometheus server, e.g. http://127.0.0.1:9090'),
    // A YAML block (`query: |`) ends in a newline: trimmed, not refused.
    query: z
      .string({ error: expected('a PromQL query; {app}, {version}, {cvm}, … are filled in') })
      .transform((q) => q.trim())
      .pipe(text('a PromQL query; {app}, {version}, {cvm}, … are filled in')),
    range: strictObject({
      duration: durationSchema({ min: '1s', max: '7d' }),
      step: durationSchema({ min: '1s', max: '1h' }).prefault('15s'),
    }).optional(),
    headers: z.array(headerSchema(ctx), { error: expected('a list of {name, fromEnv | fromFile}') }).default([]),
  }).transform(
    (p): ProviderSpec => ({
      type: 'prometheus',
      address: p.address,
      query: p.query,
      ...(p.range ? { range: { rangeMs: p.range.duration, stepMs: p.range.step } } : {}),
      headers: p.headers,
    }),
  );
  const job = strictObject({
    command: z
      .array(z.string({ error: expected('text') }), {
        error: expected('a command as a list, e.g. [./smoke.sh, "{app}"]'),
      })
      .min(1, { error: expected('a command as a list, e.g. [./smoke.sh, "{app}"]') }),
  }).transform((j): ProviderSpec => ({ type: 'job', command: j.command }));
  return strictObject(
    { web: web.optional(), prometheus: prometheus.optional(), job: job.optional() },
    expected('a mapping with one of web, prometheus, job'),
  ).transform((p, issues): ProviderSpec => {
    const given = [p.web, p.prometheus, p.job].filter((x) => x !== undefined);
    if (given.length !== 1) {
      issues.addIssue({
        code: 'custom',
        message: 'give exactly one provider: web, prometheus or job',
        input: undefined,
      });
      return z.NEVER;
    }
    return given[0]!;
  });
}

/** `background`: a metric measured until the rollout ends unless it gives a `count` (Argo's background analysis). */
export function metricSchema(ctx: SpecContext, opts: { background?: boolean } = {}) {
  return strictObject({
    name: text('a metric name such as error-rate'),
    provider: providerSchema(ctx),
    successCondition: condition.optional(),
    failureCondition: condition.optional(),
    count: opts.background ? int(1, 1_000_000).optional() : int(1, 1000).default(3),
    interval: durationSchema({ min: '100ms', max: '1h' }).prefault('30s'),
    initialDelay: durationSchema({ min: '0s', max: '1h' }).prefault('0s'),
    failureLimit: int(0, 1000).default(0),
    inconclusiveLimit: int(0, 1000).default(0),
    consecutiveErrorLimit: int(0, 1000).default(4),
    dryRun: z.boolean({ error: expected('true or false') }).default(false),
    timeout: durationSchema({ min: '100ms', max: '10m' }).prefault('10s'),
  }).transform((m, issues): MetricSpec => {
    const conditions = m.successCondition !== undefined || m.failureCondition !== undefined;
    if (m.provider.type === 'prometheus' && !conditions)
      issues.addIssue({
        code: 'custom',
        path: ['successCondition'],
        message: 'a prometheus metric needs successCondition and/or failureCondition, e.g. result[0] < 0.05',
        input: undefined,
      });
    if (m.provider.type !== 'prometheus' && conditions)
      issues.addIssue({
        code: 'custom',
        path: [m.successCondition !== undefined ? 'successCondition' : 'failureCondition'],
        message: `a ${m.provider.type} metric decides by itself (${m.provider.type === 'job' ? 'exit 0 = success' : 'its answer'}); conditions are for prometheus`,
        input: undefined,
      });
    return {
      name: m.name,
      provider: m.provider,
      ...(m.successCondition !== undefined ? { successCondition: m.successCondition } : {}),
      ...(m.failureCondition !== undefined ? { failureCondition: m.failureCondition } : {}),
      count: m.count ?? 0,
      intervalMs: m.interval,
      initialDelayMs: m.initialDelay,
      failureLimit: m.failureLimit,
      inconclusiveLimit: m.inconclusiveLimit,
      consecutiveErrorLimit: m.consecutiveErrorLimit,
      dryRun: m.dryRun,
      timeoutMs: m.timeout,
    };
  });
}

/** A list of metrics with unique names. */
export function metricsSchema(ctx: SpecContext, opts: { background?: boolean } = {}) {
  return z
    .array(metricSchema(ctx, opts), { error: expected('a list of metrics, each with name, provider, …') })
    .min(1, { error: expected('at least one metric') })
    .superRefine((metrics, issues) => {
      const seen = new Set<string>();
      for (const [i, m] of metrics.entries()) {
        if (seen.has(m.name))
          issues.addIssue({
            code: 'custom',
            path: [i, 'name'],
            message: `metric ${m.name} is listed twice`,
            input: m.name,
          });
        seen.add(m.name);
      }
    });
}

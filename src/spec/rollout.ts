// `kind: Rollout`: a new version (compose and/or env) rolled across a fleet of CVMs in waves — canary first, at most
// maxParallel updating and maxUnavailable down at once, a health gate per CVM, a failure budget with automatic
// revert, and deploy windows / freezes as a calendar (src/calendar, docs/calendar.md). The rollout workflow
// (src/workflows/rollout.ts) runs it; this file only says what a valid spec is, naming the field of every problem.
import { resolve } from 'node:path';
import { z } from 'zod';
import type { Calendar } from '../calendar';
import type { Pause, RolloutStrategy, Size } from '../workflows/rollout-types';
import { type MetricSpec, metricsSchema } from './analysis';
import { type AttestationSpec, attestationSchema } from './attestation';
import { calendarWithStates } from './calendar';
import { type ComposeSpec, composeSchema } from './compose';
import { ENV_NAME, type EnvSource } from './deployment';
import { durationSchema } from './duration';
import {
  API_VERSION,
  choice,
  expected,
  resourceName,
  type SpecContext,
  strictObject,
  text,
  uniqueList,
} from './schema';

export type { Pause, Size } from '../workflows/rollout-types';

export interface RolloutSpec {
  apiVersion: typeof API_VERSION;
  kind: 'Rollout';
  /** The rollout's name; a rollout started by hand runs as workflow `rollout-<name>`. */
  name: string;
  targets: { apps: string[]; cvms: string[]; selector?: { name: string } };
  version: { compose?: ComposeSpec; env?: Record<string, EnvSource> };
  strategy: RolloutStrategy;
  health: {
    minHealthyMs: number;
    http?: { url: string; expectStatus?: number[]; intervalMs: number; timeoutMs: number };
  };
  deadlines: { cvmMs: number; waveMs: number };
  failureBudget: Size;
  autoRevert: boolean;
  onBusy: 'wait' | 'skip';
  windows?: { calendar: Calendar; onWindowEnd: 'finish' | 'pause' };
  /** When present with `require`, each CVM's health gate also requires its attestation to verify. */
  attestation?: AttestationSpec;
  /**
   * Metrics measured after each wave's CVMs are healthy (a failure spends the budget or aborts, and reverts), and
   * in the background across the whole rollout (a failure fails the rollout, and reverts).
   */
  analysis?: RolloutAnalysisSpec;
}

export interface RolloutAnalysisSpec {
  /** After each wave's CVMs are healthy; empty when only a background analysis is given. */
  metrics: MetricSpec[];
  onFailure: 'budget' | 'abort';
  /** Measured from the first wave's start until the rollout ends; a failure fails the rollout (autoRevert). */
  background?: { metrics: MetricSpec[] };
}

const WINDOW_STATES = ['open', 'closed', 'frozen'] as const;

const name = resourceName('rollout');

const GLOB = /^[A-Za-z0-9*?-]+$/;
const targets = strictObject({
  apps: uniqueList('app names', text('an app name (the name its CVMs carry)')),
  cvms: uniqueList('CVM ids', text('a CVM id: its vm_uuid, cvm_… id or instance id')),
  selector: strictObject({
    name: z
      .string({ error: expected('a name glob such as web-* (letters, digits, -, * and ?)') })
      .regex(GLOB, { error: expected('a name glob such as web-* (letters, digits, -, * and ?)') }),
  }).optional(),
}).superRefine((t, ctx) => {
  if (t.apps.length + t.cvms.length === 0 && !t.selector)
    ctx.addIssue({
      code: 'custom',
      message: 'name at least one app (targets.apps), CVM (targets.cvms) or a selector',
      input: t,
    });
});

/** `3` (CVMs) or `"10%"` (of the rollout's targets). */
function size(allowed: string, min: number) {
  const what = `${allowed}: a whole number of CVMs (at least ${min}) or a percentage such as "10%"`;
  return z.union([z.number(), z.string()], { error: expected(what) }).transform((value, ctx): Size => {
    if (typeof value === 'number') {
      if (Number.isInteger(value) && value >= min) return { count: value };
    } else {
      const m = /^(\d+(?:\.\d+)?)%$/.exec(value);
      const percent = m ? Number(m[1]) : Number.NaN;
      if ((percent > 0 || (min === 0 && percent === 0)) && percent <= 100) return { percent };
    }
    ctx.addIssue({ code: 'custom', message: expected(what)({ input: value }), input: value });
    return z.NEVER;
  });
}

const pause = z.string({ error: expected('"manual" or a duration such as 10m') }).transform((value, ctx): Pause => {
  if (value === 'manual') return { manual: true };
  const parsed = durationSchema({ min: '0s', max: '7d' }).safeParse(value);
  if (parsed.success) return { ms: parsed.data };
  ctx.addIssue({
    code: 'custom',
    message: expected('"manual" or a duration from 0s to 7d (like 30s, 10m)')({ input: value }),
    input: value,
  });
  return z.NEVER;
});

const strategy = strictObject({
  canary: strictObject({ size: size('the canary size', 1), pause: pause.optional() }).optional(),
  waveSize: size('the wave size', 1).optional(),
  maxParallel: z
    .number({ error: expected('a whole number of CVMs from 1 to 500') })
    .int({ error: expected('a whole number of CVMs from 1 to 500') })
    .min(1, { error: expected('a whole number of CVMs from 1 to 500') })
    .max(500, { error: expected('a whole number of CVMs from 1 to 500') })
    .default(1),
  maxUnavailable: size('maxUnavailable', 1).optional(),
  pause: pause.prefault('0s'),
  jitter: durationSchema({ min: '0s', max: '1h' }).prefault('0s'),
})
  .transform(({ canary, jitter, maxUnavailable, ...s }) => ({
    ...s,
    ...(canary ? { canary: { size: canary.size, pause: canary.pause ?? s.pause } } : {}),
    // Kubernetes-style default: as many down as may be updating.
    maxUnavailable: maxUnavailable ?? { count: s.maxParallel },
    jitterMs: jitter,
  }))
  .prefault({});

const statusCode = z
  .number({ error: expected('an HTTP status from 100 to 599') })
  .int()
  .min(100)
  .max(599);
const http = strictObject({
  url: z
    .string({ error: expected('an http(s) URL; {cvmId}, {appId} and {app} are filled in per CVM') })
    .regex(/^https?:\/\/\S+$/, { error: expected('an http(s) URL; {cvmId}, {appId} and {app} are filled in per CVM') }),
  expectStatus: z
    .array(statusCode, { error: expected('a list of HTTP statuses, e.g. [200, 204]') })
    .min(1)
    .optional(),
  interval: durationSchema({ min: '10ms', max: '5m' }).prefault('5s'),
  timeout: durationSchema({ min: '10ms', max: '1m' }).prefault('5s'),
}).transform(({ interval, timeout, ...h }) => ({ ...h, intervalMs: interval, timeoutMs: timeout }));

const health = strictObject({
  minHealthy: durationSchema({ min: '0s', max: '1h' }).prefault('30s'),
  http: http.optional(),
})
  .transform(({ minHealthy, ...h }) => ({ ...h, minHealthyMs: minHealthy }))
  .prefault({});

const deadlines = strictObject({
  cvm: durationSchema({ min: '1s', max: '6h' }).prefault('15m'),
  wave: durationSchema({ min: '1s', max: '7d' }).prefault('2h'),
})
  .transform((d) => ({ cvmMs: d.cvm, waveMs: d.wave }))
  .prefault({});

// Env entries never echo what was written: a misplaced value there may be a secret.
const envSource = strictObject(
  {
    fromEnv: z.string().regex(ENV_NAME).optional(),
    fromFile: text('a file path, relative to the spec file').optional(),
  },
  (issue) =>
    ['string', 'number', 'boolean'].includes(typeof issue.input)
      ? 'inline values are not allowed (they would live in the spec file); use fromEnv or fromFile'
      : expected('{fromEnv: VAR} or {fromFile: path}', { secret: true })(issue),
);

function envSchema(ctx: SpecContext) {
  const keyName = z.string().regex(ENV_NAME, { error: 'not a valid environment variable name' });
  const list = z
    .array(z.string().regex(ENV_NAME, { error: 'list variable names only (letters, digits and _)' }))
    .transform((names) => Object.fromEntries(names.map((key): [string, EnvSource] => [key, { fromEnv: key }])));
  const mapping = z.record(keyName, envSource).transform((entries, issues) => {
    const out: Record<string, EnvSource> = {};
    for (const [key, source] of Object.entries(entries)) {
      if ((source.fromEnv === undefined) === (source.fromFile === undefined)) {
        issues.addIssue({
          code: 'custom',
          path: [key],
          message: 'give exactly one of fromEnv or fromFile',
          input: undefined,
        });
        continue;
      }
      out[key] =
        source.fromEnv !== undefined
          ? { fromEnv: source.fromEnv }
          : { fromFile: resolve(ctx.baseDir, source.fromFile!) };
    }
    return out;
  });
  const allowed = 'a list of variable names or a mapping of NAME: {fromEnv: VAR} or {fromFile: path}';
  return z.union([list, mapping], { error: expected(allowed, { secret: true }) });
}

function versionSchema(ctx: SpecContext) {
  return strictObject({ compose: composeSchema(ctx).optional(), env: envSchema(ctx).optional() }).superRefine(
    (v, issues) => {
      if (!v.compose && !v.env)
        issues.addIssue({
          code: 'custom',
          message: 'give version.compose, version.env or both: the rollout needs something to change',
          input: v,
        });
    },
  );
}

const windowCalendar = calendarWithStates({ regular: WINDOW_STATES, windows: WINDOW_STATES });

const windows = strictObject({
  calendar: windowCalendar,
  onWindowEnd: choice(['finish', 'pause']).default('finish'),
});

function buildRolloutSchema(ctx: SpecContext) {
  return strictObject(
    {
      apiVersion: z.literal(API_VERSION, { error: expected(`"${API_VERSION}"`) }),
      kind: z.literal('Rollout', { error: expected('"Rollout"') }),
      name,
      targets,
      version: versionSchema(ctx),
      strategy,
      health,
      deadlines,
      failureBudget: size('the failure budget', 0).prefault(0),
      autoRevert: z.boolean({ error: expected('true or false') }).default(true),
      onBusy: choice(['wait', 'skip']).default('wait'),
      windows: windows.optional(),
      attestation: attestationSchema.optional(),
      analysis: strictObject({
        metrics: metricsSchema(ctx).optional(),
        onFailure: choice(['budget', 'abort']).default('abort'),
        background: strictObject({ metrics: metricsSchema(ctx, { background: true }) }).optional(),
      })
        .transform((a, issues): RolloutAnalysisSpec => {
          if (!a.metrics && !a.background) {
            issues.addIssue({
              code: 'custom',
              message:
                'give analysis.metrics (after each wave), analysis.background.metrics (across the rollout) or both',
              input: undefined,
            });
            return z.NEVER;
          }
          return {
            metrics: a.metrics ?? [],
            onFailure: a.onFailure,
            ...(a.background ? { background: a.background } : {}),
          };
        })
        .optional(),
    },
    expected('a mapping with apiVersion, kind, name, targets, version, strategy, …'),
  ).transform(
    ({ version, ...spec }): RolloutSpec => ({
      ...spec,
      version: {
        ...(version.compose ? { compose: version.compose } : {}),
        ...(version.env ? { env: version.env } : {}),
      },
    }),
  );
}

export type RolloutSpecInput = z.input<ReturnType<typeof buildRolloutSchema>>;

/** The schema of `kind: Rollout`; `ctx.baseDir` resolves compose files and env `fromFile` paths. */
export const rolloutSchema: (ctx: SpecContext) => z.ZodType<RolloutSpec, RolloutSpecInput> = buildRolloutSchema;

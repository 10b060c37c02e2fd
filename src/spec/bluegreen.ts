// `kind: BlueGreen`: a Deployment spec plus how the new version ("green") goes live beside the current one
// ("blue"): the health gate, optional web analysis before and after the switch, manual or automatic promotion,
// how long blue stays warm for a fast rollback, what an abort leaves behind, and the traffic router.
// The deployment fields are validated by the Deployment schema itself, so both kinds read and fail alike.
import { z } from 'zod';
import { type MetricSpec, metricsSchema } from './analysis';
import { type DeploymentSpec, deploymentSchema } from './deployment';
import { durationSchema, formatDuration } from './duration';
import type { UnknownKeyParams } from './errors';
import { choice, describeValue, expected, httpUrl, int, type SpecContext, strictObject, text } from './schema';

export interface HealthCheckSpec {
  /** Path requested on each green CVM's own endpoint, e.g. `/health`. */
  path: string;
  /** Statuses that count as healthy. */
  expectStatus: number[];
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive failed checks that make green unhealthy. */
  failureThreshold: number;
  /** Green must pass the gate within this long after it runs, or the deployment fails. */
  deadlineMs: number;
}

export interface AnalysisSpec {
  /** URL of the web check; `{app}`, `{green}`, `{greenUrl}`, `{blueUrl}`, `{version}` and `{phase}` are filled in. */
  url: string;
  method: 'GET' | 'POST';
  intervalMs: number;
  /** Measurements taken; the analysis passes when all are taken within the limits. */
  count: number;
  timeoutMs: number;
  /** Failed measurements tolerated; one more fails the analysis. */
  failureLimit: number;
  /** Consecutive errors (no answer, bad answer) tolerated; errors are retried, they are not failures. */
  errorLimit: number;
  /** Inconclusive measurements tolerated; one more makes the analysis inconclusive (a human decides). */
  inconclusiveLimit: number;
}

/** An analysis by metrics (web, prometheus, job providers; src/analysis) rather than one web check. */
export interface MetricAnalysisSpec {
  metrics: MetricSpec[];
}

export type RouterSpec =
  | {
      type: 'local';
      /** The local proxy's control URL (what `cvmflow serve --local-router` listens on). */
      controlUrl: string;
      /** Loopback ports the proxy serves the active and the preview route on. */
      activePort: number;
      previewPort: number;
      secretFromEnv: string;
      timeoutMs: number;
    }
  | { type: 'webhook'; url: string; secretFromEnv: string; timeoutMs: number };

export interface BlueGreenSpec extends Omit<DeploymentSpec, 'kind' | 'ifBusy'> {
  kind: 'BlueGreen';
  autoPromote: boolean;
  autoPromoteAfterMs: number;
  previewTtlMs: number;
  minHealthyMs: number;
  health: HealthCheckSpec;
  analysis: {
    prePromotion?: AnalysisSpec | MetricAnalysisSpec;
    postPromotion?: AnalysisSpec | MetricAnalysisSpec;
  };
  scaleDownDelayMs: number;
  blueDuringDelay: 'running' | 'stopped';
  abortPolicy: 'delete' | 'stop';
  onTrigger: 'reject' | 'supersede';
  router: RouterSpec;
}

/** `<name>-green-abc123` must still be a 63-character hostname label. */
export const MAX_BLUEGREEN_NAME = 50;
/** The router's HMAC key is read from the worker's environment, and only from variables meant for it. */
export const ROUTER_SECRET_PREFIX = 'CVMFLOW_ROUTER_SECRET';

const statusList = z
  .union([int(100, 599, 'an HTTP status'), z.array(int(100, 599, 'an HTTP status')).min(1)], {
    error: expected('an HTTP status or a list of them'),
  })
  .transform((s) => (Array.isArray(s) ? s : [s]));

const health = strictObject({
  path: text('a path starting with /')
    .refine((p) => p.startsWith('/'), { error: (i) => expected('a path starting with /')(i) })
    .default('/health'),
  expectStatus: statusList.default([200]),
  interval: durationSchema({ min: '100ms', max: '5m' }).prefault('5s'),
  timeout: durationSchema({ min: '100ms', max: '1m' }).prefault('2s'),
  failureThreshold: int(1, 100).default(3),
  deadline: durationSchema({ min: '1s', max: '6h' }).prefault('10m'),
})
  .transform(
    (h): HealthCheckSpec => ({
      path: h.path,
      expectStatus: h.expectStatus,
      intervalMs: h.interval,
      timeoutMs: h.timeout,
      failureThreshold: h.failureThreshold,
      deadlineMs: h.deadline,
    }),
  )
  .prefault({});

const analysisCheck = strictObject({
  url: httpUrl('(placeholders {app}, {green}, {greenUrl}, {blueUrl}, {version}, {phase})'),
  method: choice(['GET', 'POST'], { ignoreCase: true }).default('GET'),
  interval: durationSchema({ min: '100ms', max: '1h' }).prefault('10s'),
  count: int(1, 100).default(3),
  timeout: durationSchema({ min: '100ms', max: '5m' }).prefault('10s'),
  failureLimit: int(0, 100).default(0),
  errorLimit: int(0, 100).default(4),
  inconclusiveLimit: int(0, 100).default(0),
}).transform(
  (a): AnalysisSpec => ({
    url: a.url,
    method: a.method,
    intervalMs: a.interval,
    count: a.count,
    timeoutMs: a.timeout,
    failureLimit: a.failureLimit,
    errorLimit: a.errorLimit,
    inconclusiveLimit: a.inconclusiveLimit,
  }),
);

/** `{metrics: […]}` is an analysis by metrics; anything else is read as today's single web check. */
function analysisStep(ctx: SpecContext) {
  const byMetrics = strictObject({ metrics: metricsSchema(ctx) });
  return z.unknown().transform((value, issues): AnalysisSpec | MetricAnalysisSpec => {
    const isMetrics = typeof value === 'object' && value !== null && 'metrics' in value;
    const parsed = isMetrics ? byMetrics.safeParse(value) : analysisCheck.safeParse(value);
    if (parsed.success) return parsed.data;
    forwardIssues(parsed.error.issues, issues);
    return z.NEVER;
  });
}

const analysis = (ctx: SpecContext) =>
  strictObject({
    prePromotion: analysisStep(ctx).optional(),
    postPromotion: analysisStep(ctx).optional(),
  }).prefault({});

const secretFromEnv = z
  .string({ error: expected(`the name of a worker environment variable starting with ${ROUTER_SECRET_PREFIX}`) })
  .regex(new RegExp(`^${ROUTER_SECRET_PREFIX}[A-Z0-9_]*$`), {
    error: (i) => expected(`the name of a worker environment variable starting with ${ROUTER_SECRET_PREFIX}`)(i),
  })
  .default(ROUTER_SECRET_PREFIX);

const port = int(1, 65535, 'a TCP port (1-65535)');
const routerTimeout = durationSchema({ min: '100ms', max: '5m' }).prefault('10s');

const localRouter = strictObject({
  type: z.literal('local'),
  controlUrl: httpUrl('of the local proxy control endpoint').default('http://127.0.0.1:8480'),
  activePort: port.default(8080),
  previewPort: port.default(8081),
  secretFromEnv,
  timeout: routerTimeout,
}).transform(({ timeout, ...r }): RouterSpec => ({ ...r, timeoutMs: timeout }));

const webhookRouter = strictObject({
  type: z.literal('webhook'),
  url: httpUrl('that receives route changes'),
  secretFromEnv,
  timeout: routerTimeout,
}).transform(({ timeout, ...r }): RouterSpec => ({ ...r, timeoutMs: timeout }));

/** Dispatches on `type`, so a webhook router missing its url is told exactly that (a union would say less). */
const router = z
  .record(z.string(), z.unknown(), { error: expected('a mapping with type: local or type: webhook') })
  .transform((value, ctx): RouterSpec => {
    const type = value.type ?? 'local';
    if (type !== 'local' && type !== 'webhook') {
      ctx.addIssue({ code: 'custom', path: ['type'], message: expected('local or webhook')({ input: type }) });
      return z.NEVER;
    }
    const parsed = (type === 'local' ? localRouter : webhookRouter).safeParse({ ...value, type });
    if (parsed.success) return parsed.data;
    forwardIssues(parsed.error.issues, ctx);
    return z.NEVER;
  })
  .prefault({});

/** Moves the issues of a nested parse into the enclosing one, with their paths relative to it. */
function forwardIssues(found: readonly z.core.$ZodIssue[], ctx: z.core.$RefinementCtx): void {
  for (const issue of found) ctx.issues.push(issue as (typeof ctx.issues)[number]);
}

const blueGreenFields = {
  autoPromote: z.boolean({ error: expected('true or false') }).default(false),
  autoPromoteAfter: durationSchema({ min: '0s', max: '7d' }).prefault('0s'),
  previewTtl: durationSchema({ min: '1s', max: '30d' }).prefault('24h'),
  minHealthy: durationSchema({ min: '0s', max: '1h' }).prefault('30s'),
  health,
  scaleDownDelay: durationSchema({ min: '0s', max: '7d' }).prefault('30m'),
  blueDuringDelay: choice(['running', 'stopped']).default('running'),
  abortPolicy: choice(['delete', 'stop']).default('delete'),
  onTrigger: choice(['reject', 'supersede']).default('reject'),
  router,
};
const BLUEGREEN_KEYS = [...Object.keys(blueGreenFields), 'analysis'];

function buildBlueGreenSchema(ctx: SpecContext) {
  const deployment = deploymentSchema(ctx);
  const own = z.object({ ...blueGreenFields, analysis: analysis(ctx) }).superRefine((bg, issues) => {
    if (bg.autoPromote && bg.autoPromoteAfter >= bg.previewTtl) {
      const message = `autoPromoteAfter (${formatDuration(bg.autoPromoteAfter)}) must be shorter than previewTtl (${formatDuration(bg.previewTtl)}), or the preview expires before it is promoted`;
      issues.addIssue({ code: 'custom', path: ['autoPromoteAfter'], message, input: bg.autoPromoteAfter });
    }
    if (bg.router.type === 'local' && bg.router.activePort === bg.router.previewPort) {
      const message = `the preview route needs its own port; activePort and previewPort are both ${bg.router.activePort}`;
      issues.addIssue({ code: 'custom', path: ['router', 'previewPort'], message, input: bg.router.previewPort });
    }
  });

  // The document is split: Deployment fields go through the Deployment schema (so a typo there still gets its
  // did-you-mean, now also against the blue-green keys), the blue-green fields through their own.
  return z
    .record(z.string(), z.unknown(), { error: expected('a mapping with apiVersion, kind, name, compose, router, …') })
    .transform((doc, issues): BlueGreenSpec => {
      const mine: Record<string, unknown> = {};
      const rest: Record<string, unknown> = { kind: 'Deployment' };
      for (const [key, value] of Object.entries(doc)) {
        if (BLUEGREEN_KEYS.includes(key)) mine[key] = value;
        else if (key !== 'kind') rest[key] = value;
      }
      if (doc.kind !== 'BlueGreen')
        issues.addIssue({ code: 'custom', path: ['kind'], message: expected('"BlueGreen"')({ input: doc.kind }) });
      if ('ifBusy' in rest) {
        delete rest.ifBusy;
        const message =
          'not used by BlueGreen: onTrigger (reject | supersede) says what a new trigger does while a deployment runs';
        issues.addIssue({ code: 'custom', path: ['ifBusy'], message, input: undefined });
      }
      const base = deployment.safeParse(rest);
      const extra = own.safeParse(mine);
      const found = [...(base.error?.issues ?? []), ...(extra.error?.issues ?? [])];
      for (const issue of found) {
        const params = issue.code === 'custom' ? (issue.params as Partial<UnknownKeyParams> | undefined) : undefined;
        if (params?.allowedKeys && issue.path.length === 1)
          params.allowedKeys = [...params.allowedKeys.filter((k) => k !== 'ifBusy'), ...BLUEGREEN_KEYS];
      }
      forwardIssues(found, issues);
      if (!base.success || !extra.success || issues.issues.length) return z.NEVER;
      const { ifBusy: _ignored, kind: _kind, ...deploymentFields } = base.data;
      const bg = extra.data;
      if (deploymentFields.name.length > MAX_BLUEGREEN_NAME) {
        const message = `${describeValue(deploymentFields.name)} has ${deploymentFields.name.length} characters; a BlueGreen name may have at most ${MAX_BLUEGREEN_NAME}, since its deployments are named <name>-green-<id>`;
        issues.addIssue({ code: 'custom', path: ['name'], message, input: deploymentFields.name });
        return z.NEVER;
      }
      return {
        ...deploymentFields,
        kind: 'BlueGreen',
        autoPromote: bg.autoPromote,
        autoPromoteAfterMs: bg.autoPromoteAfter,
        previewTtlMs: bg.previewTtl,
        minHealthyMs: bg.minHealthy,
        health: bg.health,
        analysis: bg.analysis,
        scaleDownDelayMs: bg.scaleDownDelay,
        blueDuringDelay: bg.blueDuringDelay,
        abortPolicy: bg.abortPolicy,
        onTrigger: bg.onTrigger,
        router: bg.router,
      };
    });
}

export type BlueGreenSpecInput = z.input<ReturnType<typeof buildBlueGreenSchema>>;

/** The schema of `kind: BlueGreen`; `ctx.baseDir` resolves compose files and env `fromFile` paths. */
export const blueGreenSchema: (ctx: SpecContext) => z.ZodType<BlueGreenSpec, BlueGreenSpecInput> = buildBlueGreenSchema;

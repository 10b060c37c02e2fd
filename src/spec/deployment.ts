// `kind: Deployment`: one app on Phala Cloud — its compose, size, placement, replicas, env sources and how the
// deploy pipeline behaves (timeouts, retries, what to do on failure or when another deploy of the app is running).
import { resolve } from 'node:path';
import { z } from 'zod';
import { type AttestationSpec, attestationSchema } from './attestation';
import { type ComposeSpec, composeSchema } from './compose';
import { durationSchema, formatDuration, parseDuration } from './duration';
import {
  API_VERSION,
  choice,
  describeValue,
  exactlyOne,
  expected,
  int,
  type SpecContext,
  strictObject,
  text,
} from './schema';

export const DEFAULT_INSTANCE_TYPE = 'tdx.small';
export const MAX_REPLICAS = 50;

export type Kms = 'phala' | 'ethereum' | 'base';
export const KMS_KINDS: readonly Kms[] = ['phala', 'ethereum', 'base'];

/** `auto` lets Phala Cloud choose; otherwise CVM i of the app goes to nodes[i % nodes.length]. */
export type Placement = 'auto' | { nodeId: number } | { nodes: number[] };

/** Where an env value comes from at deploy time; the spec itself never holds a value. */
export type EnvSource = { fromEnv: string } | { fromFile: string };

/**
 * Who approves an on-chain app's new compose hash: `worker` sends `addComposeHash` with the worker's key (it must own
 * the app); `external` publishes the call for the app's owner (a multisig, a hardware wallet) to send and waits up to
 * `deadlineMs` for its transaction hash.
 */
export type OnChainPolicy = { approval: 'worker' } | { approval: 'external'; deadlineMs: number };

/** A named Phala instance type, or an explicit size; `diskGb` fits either. */
export type Resources = { instanceType: string; diskGb?: number } | { vcpu: number; memoryMb: number; diskGb?: number };

/** A loaded, validated `kind: Deployment` spec with every default applied. */
export interface DeploymentSpec {
  apiVersion: typeof API_VERSION;
  kind: 'Deployment';
  /** The app's and its CVMs' name: a hostname label (reference §4.2). */
  name: string;
  /** Compose and pre-launch script text, already read from their files. */
  compose: ComposeSpec;
  resources: Resources;
  /** OS image name (e.g. `dstack-0.5.7`); absent lets Phala Cloud pick its default. */
  image?: string;
  kms: Kms;
  /** Only for kms ethereum / base; absent means `{approval: worker}`. */
  onchain?: OnChainPolicy;
  placement: Placement;
  /** Total CVMs of the app, the first included. */
  replicas: number;
  /** Env var name in the CVM → where its value comes from. `fromFile` paths are absolute. */
  env: Record<string, EnvSource>;
  visibility: { publicLogs: boolean; publicSysinfo: boolean; publicTcbinfo: boolean };
  /** Per-phase deadlines of the deploy pipeline, in milliseconds. */
  timeouts: { provisionMs: number; commitMs: number; runningMs: number; replicateMs: number; rollbackMs: number };
  /** Overrides of the retry policy of API activities. */
  retry?: { maximumAttempts?: number; initialIntervalMs?: number; maximumIntervalMs?: number };
  /** Server-side SSE watch parameters, in seconds, within the API's ranges (5–30, 10–600). */
  watch: { intervalS: number; timeoutS: number };
  /** `rollback` deletes what this run created; `keep` leaves it for debugging. */
  onFailure: 'rollback' | 'keep';
  /** `reject` refuses a deploy while another deploy of the app runs; `wait` queues behind it. */
  ifBusy: 'reject' | 'wait';
  /** When present with `require`, a CVM counts as running only once its attestation verifies. */
  attestation?: AttestationSpec;
}

// Reference §4.2: the name becomes a hostname label.
const NAME = /^[a-zA-Z](?!.*--)([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const NAME_RULE = '5 to 63 letters, digits and hyphens, starting with a letter, not ending with a hyphen, no "--"';
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENV_NAME_RULE = 'letters, digits and _, not starting with a digit';
const INLINE_ENV = 'inline values are not allowed (they would live in the spec file); use fromEnv or fromFile';

/** Why a name breaks the hostname rule, most basic fault first, so the message says what to change. */
function nameFault(name: string): string | undefined {
  if (NAME.test(name) && name.length >= 5 && name.length <= 63) return undefined;
  if (name.length < 5 || name.length > 63) return `it has ${name.length} characters`;
  if (!/^[a-zA-Z]/.test(name)) return 'it does not start with a letter';
  const bad = /[^a-zA-Z0-9-]/.exec(name)?.[0];
  if (bad !== undefined) return `${JSON.stringify(bad)} is not allowed`;
  if (name.endsWith('-')) return 'it ends with a hyphen';
  return 'it contains "--"';
}

const name = z.string({ error: expected(`an app name: ${NAME_RULE}`) }).superRefine((value, ctx) => {
  const fault = nameFault(value);
  if (fault === undefined) return;
  const message = `${describeValue(value)} is not a valid app name: ${fault} (${NAME_RULE})`;
  ctx.addIssue({ code: 'custom', message, input: value });
});

const resources = strictObject({
  instanceType: text('an instance type name such as tdx.small or tdx.medium').optional(),
  vcpu: int(1, 64, 'a whole number of vCPUs from 1 to 64').optional(),
  memoryMb: int(1024, Number.MAX_SAFE_INTEGER, 'a whole number of MiB, at least 1024 (4096 is 4 GiB)').optional(),
  diskGb: int(10, 2048, 'a whole number of GB from 10 to 2048').optional(),
})
  .transform(({ instanceType, vcpu, memoryMb, diskGb }, ctx): Resources => {
    const disk = diskGb === undefined ? {} : { diskGb };
    if (vcpu === undefined && memoryMb === undefined) {
      return { instanceType: instanceType ?? DEFAULT_INSTANCE_TYPE, ...disk };
    }
    if (instanceType !== undefined) {
      const message = 'give either resources.instanceType or resources.vcpu with resources.memoryMb, not both';
      ctx.addIssue({ code: 'custom', message, input: instanceType });
      return z.NEVER;
    }
    if (vcpu === undefined || memoryMb === undefined) {
      const [missing, given] = vcpu === undefined ? ['vcpu', 'memoryMb'] : ['memoryMb', 'vcpu'];
      ctx.addIssue({ code: 'custom', path: [missing], message: `required with resources.${given}`, input: undefined });
      return z.NEVER;
    }
    return { vcpu, memoryMb, ...disk };
  })
  .prefault({});

const nodeId = int(0, Number.MAX_SAFE_INTEGER, 'a node id (a non-negative integer)');
const nodeList = z
  .array(nodeId, { error: expected(`a list of 1 to ${MAX_REPLICAS} node ids`) })
  .min(1, { error: expected(`a list of 1 to ${MAX_REPLICAS} node ids`) })
  .max(MAX_REPLICAS, { error: () => `expected at most ${MAX_REPLICAS} node ids (the most CVMs an app can have)` })
  .superRefine((nodes, ctx) => {
    nodes.forEach((node, i) => {
      const first = nodes.indexOf(node);
      if (first === i) return;
      const message = `node ${node} is listed twice (also at placement.nodes[${first}])`;
      ctx.addIssue({ code: 'custom', path: [i], message, input: node });
    });
  });

const placement = z
  .union(
    [
      z.literal('auto'),
      strictObject(
        { nodeId: nodeId.optional(), nodes: nodeList.optional() },
        expected('"auto" or a mapping with nodeId or nodes'),
      ).transform((value, ctx): Placement => {
        const key = exactlyOne(value, ['nodeId', 'nodes'], 'placement.', ctx);
        if (key === 'nodeId' && value.nodeId !== undefined) return { nodeId: value.nodeId };
        if (key === 'nodes' && value.nodes !== undefined) return { nodes: value.nodes };
        return z.NEVER;
      }),
    ],
    { error: expected('"auto" or a mapping with nodeId or nodes') },
  )
  .default('auto');

// Env entries must never echo what was written: a misplaced value there may be a secret.
function envSchema(ctx: SpecContext) {
  const badVariable = expected(`the name of a variable of the deploying environment (${ENV_NAME_RULE})`, {
    secret: true,
  });
  const keyName = z.string().regex(ENV_NAME, { error: `not a valid environment variable name: use ${ENV_NAME_RULE}` });
  const source = strictObject(
    {
      fromEnv: z.string({ error: badVariable }).regex(ENV_NAME, { error: badVariable }).optional(),
      fromFile: text('a file path, relative to the spec file')
        .transform((path) => resolve(ctx.baseDir, path))
        .optional(),
    },
    (issue) =>
      ['string', 'number', 'boolean'].includes(typeof issue.input)
        ? INLINE_ENV
        : expected('{fromEnv: VAR} or {fromFile: path}', { secret: true })(issue),
  ).transform((value, issues): EnvSource => {
    const key = exactlyOne(value, ['fromEnv', 'fromFile'], '', issues);
    if (key === 'fromEnv' && value.fromEnv !== undefined) return { fromEnv: value.fromEnv };
    if (key === 'fromFile' && value.fromFile !== undefined) return { fromFile: value.fromFile };
    return z.NEVER;
  });

  const listEntry = z
    .string({ error: expected(`an environment variable name (${ENV_NAME_RULE})`, { secret: true }) })
    .superRefine((entry, issues) => {
      if (ENV_NAME.test(entry)) return;
      const message = entry.includes('=')
        ? `NAME=value entries are not allowed (the value would live in the spec file); list the name only, or use a mapping with fromEnv or fromFile`
        : `not a valid environment variable name: use ${ENV_NAME_RULE}`;
      issues.addIssue({ code: 'custom', message, input: undefined });
    });
  // Shorthand: `env: [API_KEY]` passes the deploying environment's API_KEY through under the same name.
  const list = z
    .array(listEntry)
    .superRefine((names, issues) => {
      names.forEach((entry, i) => {
        const first = names.indexOf(entry);
        if (first === i) return;
        const message = `${entry} is listed twice (also at env[${first}])`;
        issues.addIssue({ code: 'custom', path: [i], message, input: undefined });
      });
    })
    .transform((names) => Object.fromEntries(names.map((key): [string, EnvSource] => [key, { fromEnv: key }])));

  const allowed = 'a list of variable names or a mapping of NAME: {fromEnv: VAR} or {fromFile: path}';
  return z.union([list, z.record(keyName, source)], { error: expected(allowed, { secret: true }) }).default({});
}

const flag = z.boolean({ error: expected('true or false') });
const visibility = strictObject({
  publicLogs: flag.default(false),
  publicSysinfo: flag.default(false),
  publicTcbinfo: flag.default(false),
}).prefault({});

// Bounds catch unit slips (`2h` for a provision call, `10s` for a whole replication) yet leave room for slow nodes.
const timeouts = strictObject({
  provision: durationSchema({ min: '10s', max: '30m' }).prefault('2m'),
  commit: durationSchema({ min: '10s', max: '30m' }).prefault('2m'),
  running: durationSchema({ min: '30s', max: '1h' }).prefault('10m'),
  replicate: durationSchema({ min: '1m', max: '6h' }).prefault('15m'),
  rollback: durationSchema({ min: '1m', max: '1h' }).prefault('10m'),
})
  .transform((t) => ({
    provisionMs: t.provision,
    commitMs: t.commit,
    runningMs: t.running,
    replicateMs: t.replicate,
    rollbackMs: t.rollback,
  }))
  .prefault({});

const retry = strictObject({
  maximumAttempts: int(1, 100).optional(),
  initialInterval: durationSchema({ min: '100ms', max: '10m' }).optional(),
  maximumInterval: durationSchema({ min: '1s', max: '1h' }).optional(),
}).transform(({ maximumAttempts, initialInterval, maximumInterval }, ctx) => {
  if (initialInterval !== undefined && maximumInterval !== undefined && maximumInterval < initialInterval) {
    const message = `expected at least retry.initialInterval (${formatDuration(initialInterval)}), got ${formatDuration(maximumInterval)}`;
    ctx.addIssue({ code: 'custom', path: ['maximumInterval'], message, input: maximumInterval });
    return z.NEVER;
  }
  return {
    ...(maximumAttempts === undefined ? {} : { maximumAttempts }),
    ...(initialInterval === undefined ? {} : { initialIntervalMs: initialInterval }),
    ...(maximumInterval === undefined ? {} : { maximumIntervalMs: maximumInterval }),
  };
});

// Seed 000: the SSE watch takes interval 5–30 s (default 5) and timeout 10–600 s (default 300).
const watch = strictObject({
  interval: int(5, 30, 'a whole number of seconds from 5 to 30').default(5),
  timeout: int(10, 600, 'a whole number of seconds from 10 to 600').default(300),
})
  .transform((w) => ({ intervalS: w.interval, timeoutS: w.timeout }))
  .prefault({});

export const DEFAULT_APPROVAL_DEADLINE = '48h';

// An external approval waits for people (multisig signers), so the deadline runs from minutes to weeks.
const onchain = strictObject({
  approval: choice(['worker', 'external']).default('worker'),
  deadline: durationSchema({ min: '10s', max: '30d' }).optional(),
}).transform(({ approval, deadline }, ctx): OnChainPolicy => {
  if (approval === 'external') return { approval, deadlineMs: deadline ?? parseDuration(DEFAULT_APPROVAL_DEADLINE)! };
  if (deadline !== undefined) {
    const message = 'only with onchain.approval: external (the worker approves at once otherwise)';
    ctx.addIssue({ code: 'custom', path: ['deadline'], message, input: deadline });
    return z.NEVER;
  }
  return { approval };
});

function checkOnchainFitsKms(spec: { kms: Kms; onchain?: OnChainPolicy }, ctx: z.core.$RefinementCtx) {
  if (spec.onchain === undefined || spec.kms !== 'phala') return;
  const message = 'only for kms ethereum or base (apps of the phala KMS have no on-chain approval)';
  ctx.addIssue({ code: 'custom', path: ['onchain'], message, input: spec.onchain });
}

/**
 * Replicas versus placement.nodes: CVM i goes to nodes[i % nodes.length], so replicas may exceed the node count
 * (two or more per node, spread evenly) but not fall short of it — a listed node that would get no CVM is almost
 * always a mistake. Without replicas, a node list means one CVM per node.
 */
function checkReplicasFitPlacement(spec: { replicas?: number; placement: Placement }, ctx: z.core.$RefinementCtx) {
  if (spec.replicas === undefined || typeof spec.placement !== 'object' || !('nodes' in spec.placement)) return;
  const { nodes } = spec.placement;
  if (spec.replicas >= nodes.length) return;
  const unused = nodes.slice(spec.replicas);
  const idle = `${unused.length === 1 ? 'node' : 'nodes'} ${unused.join(', ')}`;
  const message = `${spec.replicas} is fewer than the ${nodes.length} nodes in placement.nodes, so ${idle} would get no CVM; list only the nodes to use or set replicas to at least ${nodes.length}`;
  ctx.addIssue({ code: 'custom', path: ['replicas'], message, input: spec.replicas });
}

function buildDeploymentSchema(ctx: SpecContext) {
  const fields = {
    apiVersion: z.literal(API_VERSION, { error: expected(`"${API_VERSION}"`) }),
    kind: z.literal('Deployment', { error: expected('"Deployment"') }),
    name,
    compose: composeSchema(ctx),
    resources,
    image: text('an OS image name such as dstack-0.5.7').optional(),
    kms: choice(KMS_KINDS, { ignoreCase: true }).default('phala'),
    onchain: onchain.optional(),
    placement,
    replicas: int(1, MAX_REPLICAS).optional(),
    env: envSchema(ctx),
    visibility,
    timeouts,
    retry: retry.optional(),
    watch,
    onFailure: choice(['rollback', 'keep']).default('rollback'),
    ifBusy: choice(['reject', 'wait']).default('reject'),
    attestation: attestationSchema.optional(),
  };
  return strictObject(fields, expected('a mapping with apiVersion, kind, name, compose, …'))
    .superRefine(checkReplicasFitPlacement, {
      // Runs alongside other fields' problems, but only once both fields it compares are valid.
      when: (payload) =>
        payload.issues.every(
          (issue) => issue.path?.[0] !== undefined && !['replicas', 'placement'].includes(String(issue.path[0])),
        ),
    })
    .superRefine(checkOnchainFitsKms, {
      when: (payload) =>
        payload.issues.every(
          (issue) => issue.path?.[0] !== undefined && !['kms', 'onchain'].includes(String(issue.path[0])),
        ),
    })
    .transform(({ replicas, ...spec }) => ({
      ...spec,
      replicas:
        replicas ?? (typeof spec.placement === 'object' && 'nodes' in spec.placement ? spec.placement.nodes.length : 1),
    }));
}

export type DeploymentSpecInput = z.input<ReturnType<typeof buildDeploymentSchema>>;

/** The schema of `kind: Deployment`; `ctx.baseDir` resolves compose files and env `fromFile` paths. */
export const deploymentSchema: (ctx: SpecContext) => z.ZodType<DeploymentSpec, DeploymentSpecInput> =
  buildDeploymentSchema;

/** The nodes the CVMs are spread over (CVM i goes to `nodes[i % nodes.length]`); empty when Phala Cloud chooses. */
export function placementNodes(spec: Pick<DeploymentSpec, 'placement'>): number[] {
  const { placement } = spec;
  if (placement === 'auto') return [];
  return 'nodeId' in placement ? [placement.nodeId] : placement.nodes;
}

// The workload: deploys, updates, deploys that must roll back, cancelled deploys, blue-green runs, fleet rollouts
// and power schedules, each driven through the project's own client functions (src/client) exactly as the CLI does,
// and each recording what it expects to be left behind: the terminal state of every workflow it started, the CVMs
// that must exist (and in which state), and the on-chain transactions it costs.
import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { awaitBlueGreen, startBlueGreen } from '../src/client/bluegreen';
import { cancelDeploy, startDeploy } from '../src/client/deploy';
import { applyPowerSchedule, deletePowerSchedule, getPowerStatus } from '../src/client/power';
import { getRolloutStatus, startRollout } from '../src/client/rollout';
import { PhalaClient } from '../src/phala/client';
import { validateSpec } from '../src/spec';
import type { BlueGreenSpec } from '../src/spec/bluegreen';
import type { DeploymentSpec } from '../src/spec/deployment';
import type { PowerScheduleSpec } from '../src/spec/power';
import type { RolloutSpec } from '../src/spec/rollout';
import { blueGreenWorkflowId } from '../src/workflows/bluegreen-types';
import { deployWorkflowId } from '../src/workflows/deploy-types';
import { powerWorkflowId } from '../src/workflows/power-types';
import { rolloutWorkflowId } from '../src/workflows/rollout-types';
import type { Rng } from './rng';
import { type ChaosStack, ROUTER_SECRET_ENV, TASK_QUEUE } from './stack';

export const SCENARIO_KINDS = [
  'deploy',
  'deploy-onchain',
  'update',
  'rollback',
  'cancel',
  'bluegreen',
  'rollout',
  'power-stop',
  'power-heal',
] as const;
export type ScenarioKind = (typeof SCENARIO_KINDS)[number];

export type RunStatus = 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TERMINATED' | 'TIMED_OUT' | 'RUNNING' | 'UNKNOWN';

export interface WorkflowExpectation {
  workflowId: string;
  runId?: string;
  expected: RunStatus;
  actual: RunStatus;
  /** For blue-green runs: the result's outcome must be this too. */
  expectedOutcome?: string;
  actualOutcome?: string;
  /** Why a run that should not have failed did. */
  failure?: string;
}

/** CVMs whose name is `name` (or starts with `prefix`) that must be live at the end, all in `status`. */
export interface CvmExpectation {
  match: { name: string } | { prefix: string };
  count: number;
  status: 'running' | 'stopped';
}

export interface ScenarioRecord {
  id: string;
  kind: ScenarioKind;
  app: string;
  workflows: WorkflowExpectation[];
  cvms: CvmExpectation[];
  txs: number;
  /** Secrets this scenario handed to the client (env values). */
  secrets: string[];
  errors: string[];
  startedAt?: number;
  endedAt?: number;
}

export interface ScenarioContext {
  stack: ChaosStack;
  rng: Rng;
  log: (line: string) => void;
  /** Gives up waiting for a workflow after this many ms (the invariant then reports it still running). */
  waitLimitMs: number;
  /** Error messages seen by the driver (checked for secrets too). */
  errors: string[];
}

const V = (tag: string) => `services:\n  web:\n    image: nginx:${tag}\n    ports:\n      - "80:80"\n`;
const DEPLOY_TUNING = { heartbeatTimeoutMs: 3000, apiAttemptTimeoutMs: 5000 };
const ROLLOUT_TUNING = { ...DEPLOY_TUNING, lockPollMs: 500, healthPollMs: 200 };
const POWER_TUNING = { deferRecheckMs: 1000, heartbeatTimeoutMs: 3000, apiAttemptTimeoutMs: 5000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Client calls survive the Temporal server's restart: connection errors are retried for up to a minute. */
export async function retrying<T>(
  what: string,
  fn: () => Promise<T>,
  ctx: ScenarioContext,
  limitMs = 60_000,
): Promise<T> {
  const giveUp = Date.now() + limitMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      const transient =
        /UNAVAILABLE|ECONNREFUSED|ECONNRESET|No connection established|Connection dropped|DEADLINE_EXCEEDED|deadline|socket hang up|Failed to connect|14 UNAVAILABLE|4 DEADLINE/i.test(
          message,
        );
      if (!transient || Date.now() > giveUp) throw err;
      ctx.log(`${what}: ${message.split('\n')[0]} — retrying`);
      await sleep(500);
    }
  }
}

/** Polls until the run is closed (following continue-as-new), and returns how it ended. */
async function waitClosed(ctx: ScenarioContext, workflowId: string, runId?: string): Promise<RunStatus> {
  const giveUp = Date.now() + ctx.waitLimitMs;
  let id = runId;
  for (;;) {
    try {
      const d = await ctx.stack.client.workflow.getHandle(workflowId, id).describe();
      const name = d.status.name;
      if (name === 'CONTINUED_AS_NEW') id = undefined;
      else if (name !== 'RUNNING') return name as RunStatus;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'UNKNOWN';
      // The server is restarting: try again.
    }
    if (Date.now() > giveUp) return 'RUNNING';
    await sleep(500);
  }
}

/** Records a run's end; when it is not the expected one, also why (the failure chain's messages). */
async function record(
  ctx: ScenarioContext,
  rec: ScenarioRecord,
  w: Omit<WorkflowExpectation, 'actual' | 'failure'>,
): Promise<WorkflowExpectation> {
  const actual = await waitClosed(ctx, w.workflowId, w.runId);
  const entry: WorkflowExpectation = { ...w, actual };
  if (actual !== w.expected && actual !== 'RUNNING') {
    entry.failure = await ctx.stack.client.workflow
      .getHandle(w.workflowId, w.runId)
      .result()
      .then(
        () => 'completed',
        (err: Error) => {
          const chain: string[] = [];
          for (let e: Error | undefined = err; e && chain.length < 5; e = e.cause as Error | undefined)
            chain.push(e.message);
          return chain.join(' <- ');
        },
      );
  }
  rec.workflows.push(entry);
  return entry;
}

function secretValue(ctx: ScenarioContext): string {
  return `chaos-secret-${ctx.rng.hex(12)}`;
}

function deploySpec(name: string, fields: Record<string, unknown>): DeploymentSpec {
  return validateSpec(
    { apiVersion: 'cvmflow/v1', kind: 'Deployment', name, compose: { inline: V('1.27-alpine') }, ...fields },
    { source: 'chaos', baseDir: process.cwd(), kinds: ['Deployment'] },
  ) as DeploymentSpec;
}

async function deployOnce(
  ctx: ScenarioContext,
  rec: ScenarioRecord,
  spec: DeploymentSpec,
  expected: RunStatus,
  during?: (started: { runId: string }) => Promise<void>,
): Promise<void> {
  const secret = secretValue(ctx);
  rec.secrets.push(secret);
  const env = { CHAOS_SECRET: secret };
  const handle = await retrying(
    `start deploy ${spec.name}`,
    async () => {
      try {
        return await startDeploy(spec, {
          client: ctx.stack.client,
          taskQueue: TASK_QUEUE,
          codecKeys: ctx.stack.codecKeys,
          env,
          tuning: DEPLOY_TUNING,
        });
      } catch (err) {
        // A start whose answer the restart swallowed: the workflow exists; adopt it.
        if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
        throw err;
      }
    },
    ctx,
  );
  const workflowId = deployWorkflowId(spec.name);
  const runId = handle?.firstExecutionRunId;
  if (during) await during({ runId: runId ?? '' });
  await record(ctx, rec, { workflowId, runId, expected });
}

const envOf = { CHAOS_SECRET: { fromEnv: 'CHAOS_SECRET' } };

export async function runScenario(ctx: ScenarioContext, rec: ScenarioRecord): Promise<void> {
  const { stack, rng } = ctx;
  const app = rec.app;
  switch (rec.kind) {
    case 'deploy': {
      const replicas = rng.int(1, 3);
      await deployOnce(ctx, rec, deploySpec(app, { replicas, env: envOf }), 'COMPLETED');
      rec.cvms.push({ match: { name: app }, count: replicas, status: 'running' });
      return;
    }
    case 'deploy-onchain': {
      // Two replicas on two nodes: registration (1 transaction) and the second node's device (1 more).
      const replicas = rng.int(1, 2);
      await deployOnce(
        ctx,
        rec,
        deploySpec(app, { replicas, kms: 'ethereum', placement: { nodes: replicas === 2 ? [1, 2] : [1] }, env: envOf }),
        'COMPLETED',
      );
      rec.cvms.push({ match: { name: app }, count: replicas, status: 'running' });
      rec.txs += replicas;
      return;
    }
    case 'update': {
      const replicas = rng.int(1, 2);
      await deployOnce(ctx, rec, deploySpec(app, { replicas, env: envOf }), 'COMPLETED');
      await deployOnce(
        ctx,
        rec,
        deploySpec(app, { replicas, env: envOf, compose: { inline: V('1.28-alpine') } }),
        'COMPLETED',
      );
      rec.cvms.push({ match: { name: app }, count: replicas, status: 'running' });
      return;
    }
    case 'rollback': {
      // The CVM never boots: the watch times out, the pipeline fails and its compensation deletes what it made.
      stack.sim.addFaults({ cvms: [{ id: `never-${app}`, cvm: app, neverReachTarget: true }] });
      await deployOnce(
        ctx,
        rec,
        deploySpec(app, { replicas: 1, env: envOf, timeouts: { running: '30s' }, retry: { maximumAttempts: 3 } }),
        'FAILED',
      );
      stack.sim.removeFault(`never-${app}`);
      return;
    }
    case 'cancel': {
      stack.sim.addFaults({ cvms: [{ id: `never-${app}`, cvm: app, neverReachTarget: true }] });
      await deployOnce(ctx, rec, deploySpec(app, { replicas: 2, env: envOf }), 'CANCELLED', async () => {
        await sleep(rng.int(1500, 4000));
        await retrying(`cancel ${app}`, () => cancelDeploy(stack.client, app), ctx);
      });
      stack.sim.removeFault(`never-${app}`);
      return;
    }
    case 'bluegreen':
      return blueGreen(ctx, rec);
    case 'rollout':
      return rollout(ctx, rec);
    case 'power-stop':
      return powerStop(ctx, rec);
    case 'power-heal':
      return powerHeal(ctx, rec);
  }
}

function bgSpec(app: string, tag: string, controlUrl: string): BlueGreenSpec {
  return validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'BlueGreen',
      name: app,
      compose: { inline: V(tag) },
      env: envOf,
      autoPromote: true,
      minHealthy: '0s',
      health: { interval: '200ms', timeout: '2s', failureThreshold: 5, deadline: '60s' },
      scaleDownDelay: '0s',
      router: { type: 'local', controlUrl, secretFromEnv: ROUTER_SECRET_ENV, timeout: '2s' },
    },
    { source: 'chaos', baseDir: process.cwd(), kinds: ['BlueGreen'] },
  ) as BlueGreenSpec;
}

async function blueGreen(ctx: ScenarioContext, rec: ScenarioRecord): Promise<void> {
  const { stack } = ctx;
  const app = rec.app;
  const workflowId = blueGreenWorkflowId(app);
  for (const [i, tag] of ['1.27-alpine', '1.28-alpine'].entries()) {
    const secret = secretValue(ctx);
    rec.secrets.push(secret);
    const triggerId = `chaos-${app}-${i}`;
    const launched = await retrying(
      `launch blue-green ${app}`,
      () =>
        startBlueGreen(bgSpec(app, tag, stack.router.controlUrl), {
          client: stack.client,
          taskQueue: TASK_QUEUE,
          codecKeys: stack.codecKeys,
          env: { CHAOS_SECRET: secret },
          trigger: { by: 'chaos', reason: `version ${tag}`, triggerId },
          tuning: DEPLOY_TUNING,
        }),
      ctx,
    );
    const entry = await record(ctx, rec, {
      workflowId,
      runId: launched.runId,
      expected: 'COMPLETED',
      expectedOutcome: 'promoted',
    });
    if (entry.actual === 'COMPLETED') {
      const result = await retrying('blue-green result', () => awaitBlueGreen(stack.client, app, launched.runId), ctx);
      entry.actualOutcome = result.outcome;
      if (result.outcome !== 'promoted') entry.failure = result.summary;
    }
  }
  // Blue is retired once green is promoted (scaleDownDelay 0): one live deployment of one CVM.
  rec.cvms.push({ match: { prefix: `${app}-` }, count: 1, status: 'running' });
}

async function rollout(ctx: ScenarioContext, rec: ScenarioRecord): Promise<void> {
  const { stack, rng } = ctx;
  const prefix = rec.app;
  const size = rng.int(3, 5);
  stack.sim.seedCvms(
    stack.secrets.apiKey,
    Array.from({ length: size }, (_, i) => ({ name: `${prefix}-${i}`, status: 'running' as const })),
  );
  const spec = validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'Rollout',
      name: prefix,
      targets: { selector: { name: `${prefix}-*` } },
      version: { compose: { inline: V('1.28-alpine') } },
      strategy: { waveSize: 2, maxParallel: 2 },
      health: { minHealthy: '0s' },
    },
    { source: 'chaos', baseDir: process.cwd(), kinds: ['Rollout'] },
  ) as RolloutSpec;
  const handle = await retrying(
    `start rollout ${prefix}`,
    async () => {
      try {
        return await startRollout(spec, {
          client: stack.client,
          taskQueue: TASK_QUEUE,
          codecKeys: stack.codecKeys,
          tuning: ROLLOUT_TUNING,
        });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
        throw err;
      }
    },
    ctx,
  );
  const workflowId = rolloutWorkflowId(prefix);
  const entry = await record(ctx, rec, { workflowId, runId: handle?.firstExecutionRunId, expected: 'COMPLETED' });
  if (entry.actual !== 'COMPLETED') {
    // The CVMs' own reasons say more than the rollout's summary.
    const status = await getRolloutStatus(stack.client, workflowId).catch(() => undefined);
    const reasons: string[] = [];
    JSON.stringify(status, (k, v) => {
      if (k === 'reason' && typeof v === 'string') reasons.push(v);
      return v;
    });
    entry.failure = `${entry.failure ?? ''} [${reasons.join(' | ')}]`;
  }
  for (let i = 0; i < size; i++) rec.cvms.push({ match: { name: `${prefix}-${i}` }, count: 1, status: 'running' });
}

/** A calendar minute is a real second: the schedule's grace and drift checks come round fast. */
const POWER_SPEED = 60;

function powerSpec(name: string, app: string, state: 'running' | 'stopped'): PowerScheduleSpec {
  return validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'PowerSchedule',
      name,
      targets: { apps: [app] },
      calendar: { timezone: 'Europe/Berlin', default: state },
      grace: '0s',
      driftCheckInterval: '1m',
      stop: { action: 'stop' },
      waitTimeout: '10m',
      retry: { initialInterval: '1m', maximumInterval: '2m' },
    },
    { source: 'chaos', baseDir: process.cwd(), kinds: ['PowerSchedule'] },
  ) as PowerScheduleSpec;
}

async function applyPower(ctx: ScenarioContext, spec: PowerScheduleSpec): Promise<void> {
  const clock = { realAnchorMs: Date.now(), virtualAnchorMs: Date.now(), speed: POWER_SPEED };
  await retrying(
    `apply power schedule ${spec.name}`,
    () => applyPowerSchedule(spec, { client: ctx.stack.client, taskQueue: TASK_QUEUE, clock, tuning: POWER_TUNING }),
    ctx,
  );
}

/** Waits until every live CVM named `app` is in `status` with no operation running. */
async function settled(ctx: ScenarioContext, app: string, count: number, status: string): Promise<boolean> {
  const giveUp = Date.now() + ctx.waitLimitMs;
  for (;;) {
    const cvms = ctx.stack.sim.cvms().filter((c) => c.name === app);
    if (cvms.length === count && cvms.every((c) => c.status === status && c.operation === null)) return true;
    if (Date.now() > giveUp) return false;
    await sleep(300);
  }
}

async function endPower(ctx: ScenarioContext, rec: ScenarioRecord, name: string): Promise<void> {
  const workflowId = powerWorkflowId(name);
  await retrying(`delete power schedule ${name}`, () => deletePowerSchedule(ctx.stack.client, name), ctx).catch(
    (err: Error) => rec.errors.push(`delete ${name}: ${err.message}`),
  );
  await record(ctx, rec, { workflowId, expected: 'COMPLETED' });
}

/**
 * A schedule that wants the app stopped is applied while the app's first deployment runs: it waits for the
 * deployment (the per-app lock), then takes over the new CVMs and stops every replica.
 */
async function powerStop(ctx: ScenarioContext, rec: ScenarioRecord): Promise<void> {
  const app = rec.app;
  const name = `${app}-power`;
  await deployOnce(ctx, rec, deploySpec(app, { replicas: 2, env: envOf }), 'COMPLETED', () =>
    applyPower(ctx, powerSpec(name, app, 'stopped')),
  );
  if (!(await settled(ctx, app, 2, 'stopped'))) {
    const status = await getPowerStatus(ctx.stack.client, name).catch((err: Error) => err.message);
    rec.errors.push(`${app} never settled stopped; schedule: ${JSON.stringify(status).slice(0, 600)}`);
  }
  await endPower(ctx, rec, name);
  rec.cvms.push({ match: { name: app }, count: 2, status: 'stopped' });
}

/** The app's CVM crashes to `exited`; a schedule that wants it running notices the drift and starts it again. */
async function powerHeal(ctx: ScenarioContext, rec: ScenarioRecord): Promise<void> {
  const { stack } = ctx;
  const app = rec.app;
  const name = `${app}-power`;
  await deployOnce(ctx, rec, deploySpec(app, { replicas: 1, env: envOf }), 'COMPLETED');
  const cvm = stack.sim.cvms().find((c) => c.name === app);
  if (cvm) {
    // An operator's restart after which the CVM crashes at once.
    stack.sim.addFaults({ cvms: [{ id: `crash-${app}`, cvm: app, crashAfterMs: 0, count: 1 }] });
    const phala = new PhalaClient({ baseURL: stack.sim.url, apiKey: stack.secrets.apiKey });
    await phala.restartCvm(cvm.vmUuid).catch((err: Error) => rec.errors.push(`restart ${app}: ${err.message}`));
    if (!(await settled(ctx, app, 1, 'exited'))) rec.errors.push(`${app} never crashed to exited`);
    await applyPower(ctx, powerSpec(name, app, 'running'));
    if (!(await settled(ctx, app, 1, 'running'))) rec.errors.push(`${app} was not started again`);
    await endPower(ctx, rec, name);
  }
  rec.cvms.push({ match: { name: app }, count: 1, status: 'running' });
}

/** The scenario mix of a run: `size` scenarios, every kind at least once when size allows, then seeded picks. */
export function planScenarios(rng: Rng, size: number): ScenarioRecord[] {
  const kinds: ScenarioKind[] = [];
  for (let i = 0; i < size; i++) kinds.push(i < SCENARIO_KINDS.length ? SCENARIO_KINDS[i]! : rng.pick(SCENARIO_KINDS));
  return kinds.map((kind, i) => ({
    id: `s${String(i + 1).padStart(2, '0')}`,
    kind,
    app: `c${rng.seed % 1000}-${kind.replace('deploy-', '').replace('power-', 'p')}-${i + 1}`,
    workflows: [],
    cvms: [],
    txs: 0,
    secrets: [],
    errors: [],
  }));
}

export type { Client };

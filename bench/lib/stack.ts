// The pieces every benchmark assembles: the suite's Temporal dev server, a simulator per benchmark, a cvmflow worker
// (in this process, with the real activities) and a client with the project's codec, like the integration tests
// (test/support/stack.ts) but without vitest.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Worker, WorkerOptions } from '@temporalio/worker';
import { startDeploy } from '../../src/client/deploy';
import { PhalaClient } from '../../src/phala/client';
import { type SimulatorHandle, type SimulatorOptions, startSimulator } from '../../src/simulator';
import { type DeploymentSpec, validateSpec } from '../../src/spec';
import { type CodecKey, parseKeyRing } from '../../src/temporal/codec';
import { connectClient, connectWorkerConnection } from '../../src/temporal/connection';
import { createWorkerActivities, type WorkerActivityOptions } from '../../src/worker/activities';
import { createWorker } from '../../src/worker/worker';
import type { DeployResult } from '../../src/workflows/deploy-types';

export const BENCH_API_KEY = 'phak_bench_0123456789abcdef';
export const COMPOSE = 'services:\n  web:\n    image: nginx:1.27-alpine\n    ports:\n      - "80:80"\n';

export interface TemporalTarget {
  address: string;
  namespace: string;
}

/** What the suite hands every benchmark. */
export interface BenchContext {
  quick: boolean;
  temporal: TemporalTarget;
  codecKeyText: string;
  codecKeys: CodecKey[];
  log(line: string): void;
}

export function newCodecKeyText(): string {
  return `bench:${randomBytes(32).toString('base64')}`;
}

export const codecKeysOf = (text: string) => parseKeyRing(text, 'bench codec key');

export const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

export function benchSimulator(opts: Partial<SimulatorOptions> = {}): Promise<SimulatorHandle> {
  return startSimulator({ port: 0, apiKeys: [BENCH_API_KEY], requestLogLimit: 5_000_000, ...opts });
}

export function benchClient(ctx: BenchContext): Promise<Client> {
  return connectClient({ ...ctx.temporal, codecKeys: ctx.codecKeys });
}

/** A Deployment spec through the same validation users get. */
export function deploymentSpec(name: string, replicas: number, extra: Record<string, unknown> = {}): DeploymentSpec {
  return validateSpec(
    { apiVersion: 'cvmflow/v1', kind: 'Deployment', name, compose: { inline: COMPOSE }, replicas, ...extra },
    { source: 'bench', baseDir: process.cwd(), kinds: ['Deployment'] },
  ) as DeploymentSpec;
}

export type Activities = ReturnType<typeof createWorkerActivities>['activities'];

export interface InProcessWorker {
  worker: Worker;
  taskQueue: string;
  hub: ReturnType<typeof createWorkerActivities>['hub'];
  stop(): Promise<void>;
}

/**
 * A cvmflow worker in this process with the production activity set; `wrap` may instrument activities (it must
 * keep their behaviour).
 */
export async function startInProcessWorker(
  ctx: BenchContext,
  sim: SimulatorHandle,
  opts: {
    activities?: Partial<WorkerActivityOptions>;
    tuning?: Parameters<typeof createWorker>[0]['tuning'];
    wrap?: (activities: Activities) => Activities;
    workerOptions?: Partial<WorkerOptions>;
    /** Default: a new one per worker. */
    taskQueue?: string;
  } = {},
): Promise<InProcessWorker> {
  const taskQueue = opts.taskQueue ?? uniqueName('bench');
  const connection = await connectWorkerConnection(ctx.temporal);
  const phala = new PhalaClient({ baseURL: sim.url, apiKey: BENCH_API_KEY });
  const { activities, hub, close } = createWorkerActivities({
    phala,
    codecKeys: ctx.codecKeys,
    ...opts.activities,
  });
  const worker = await createWorker({
    connection,
    config: { namespace: ctx.temporal.namespace, taskQueue, codecKeys: ctx.codecKeys },
    activities: opts.wrap ? opts.wrap(activities) : activities,
    shutdownGraceTime: '1ms',
    tuning: opts.tuning,
  });
  const running = worker.run();
  return {
    worker,
    taskQueue,
    hub,
    async stop() {
      close();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await connection.close();
      await phala.close();
    },
  };
}

export interface TimedDeploy {
  workflowId: string;
  runId: string;
  result: DeployResult;
  /** performance-clock epoch ms (sub-ms), like the simulator's history timestamps. */
  startedAt: number;
  endedAt: number;
}

/** Epoch milliseconds with sub-millisecond precision: the clock the simulator stamps its history with. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

export async function runDeploy(
  client: Client,
  ctx: BenchContext,
  taskQueue: string,
  spec: DeploymentSpec,
): Promise<TimedDeploy> {
  const startedAt = preciseNow();
  const handle = await startDeploy(spec, { client, taskQueue, codecKeys: ctx.codecKeys, env: {} });
  const result = await handle.result();
  return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, result, startedAt, endedAt: preciseNow() };
}

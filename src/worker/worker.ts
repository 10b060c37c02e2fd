// Worker bootstrap: one place that turns a config + activities into a running Temporal worker with the project's
// data converter, bundling the workflow code once per process.
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { TemporalConfig } from '../temporal/config';
import { createDataConverter, FAILURE_CONVERTER_PATH } from '../temporal/data-converter';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

type WorkflowBundle = { code: string };
const bundles = new Map<string, Promise<WorkflowBundle>>();

/** Bundles (webpack + swc) the workflow code once per process and path; workers and tests share the result. */
export function bundleWorkflows(workflowsPath = WORKFLOWS_PATH): Promise<WorkflowBundle> {
  let bundle = bundles.get(workflowsPath);
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath,
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    bundles.set(workflowsPath, bundle);
  }
  return bundle;
}

export interface CreateWorkerOptions {
  connection: NativeConnection;
  config: Pick<TemporalConfig, 'namespace' | 'taskQueue' | 'codecKeys'>;
  activities: object;
  workflowsPath?: string;
  /** How long in-flight activities may run on after a shutdown signal before they are cancelled. */
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  identity?: string;
  tuning?: Pick<
    WorkerOptions,
    | 'maxConcurrentActivityTaskExecutions'
    | 'maxConcurrentWorkflowTaskExecutions'
    | 'maxCachedWorkflows'
    | 'maxHeartbeatThrottleInterval'
    | 'defaultHeartbeatThrottleInterval'
  >;
}

export async function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  const dataConverter = createDataConverter(opts.config.codecKeys);
  return Worker.create({
    connection: opts.connection,
    namespace: opts.config.namespace,
    taskQueue: opts.config.taskQueue,
    workflowBundle: await bundleWorkflows(opts.workflowsPath),
    activities: opts.activities,
    dataConverter,
    shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
    ...(opts.identity ? { identity: opts.identity } : {}),
    // Heartbeats carry the watch checkpoint; flush them often enough that a crash loses little.
    maxHeartbeatThrottleInterval: '5s',
    ...opts.tuning,
  });
}

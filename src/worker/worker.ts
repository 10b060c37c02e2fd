// Worker bootstrap: one place that turns a config + activities into a running Temporal worker with the project's
// data converter, bundling the workflow code once per process — or, in the build (an installed package, the image),
// loading the bundle `npm run build` made from the same sources.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  bundleWorkflowCode,
  type InjectedSinks,
  type NativeConnection,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import { OTEL_WORKFLOW_INTERCEPTORS, type WorkerTracing } from '../metrics/tracing';
import type { WorkflowRef } from '../notify/notifier';
import { FROM_BUILD } from '../package-root';
import type { CodecKey } from '../temporal/codec';
import type { TemporalConfig } from '../temporal/config';
import { createDataConverter, FAILURE_CONVERTER_PATH } from '../temporal/data-converter';
import type { CvmflowEvent, CvmflowSinks } from '../workflows/observe-types';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/** Workflow interceptors bundled with every workflow: outcome reports (see ../workflows/observe). */
export const WORKFLOW_INTERCEPTORS_PATH = fileURLToPath(new URL('../workflows/observe.ts', import.meta.url));

type WorkflowBundle = { code: string };
const bundles = new Map<string, Promise<WorkflowBundle>>();

/** The build's file names of the two bundles it makes: without and with the tracing interceptors. */
export const PREBUILT_BUNDLES = { plain: 'workflow-bundle.js', tracing: 'workflow-bundle-tracing.js' } as const;

/** The build's prebuilt bundle beside this module (dist/), if this is the build and it has one. */
function prebuiltBundle(tracing: boolean): string | undefined {
  if (!FROM_BUILD) return undefined;
  const file = fileURLToPath(new URL(`./${PREBUILT_BUNDLES[tracing ? 'tracing' : 'plain']}`, import.meta.url));
  return existsSync(file) ? file : undefined;
}

/**
 * Bundles (webpack + swc) the workflow code once per process, path and set of extra interceptor modules (tracing);
 * workers and tests share the result.
 */
export function bundleWorkflows(
  workflowsPath = WORKFLOWS_PATH,
  extraInterceptorModules: readonly string[] = [],
): Promise<WorkflowBundle> {
  const key = [workflowsPath, ...extraInterceptorModules].join('|');
  let bundle = bundles.get(key);
  const prebuilt =
    workflowsPath === WORKFLOWS_PATH &&
    (extraInterceptorModules.length === 0 || extraInterceptorModules.join() === OTEL_WORKFLOW_INTERCEPTORS)
      ? prebuiltBundle(extraInterceptorModules.length > 0)
      : undefined;
  if (!bundle && prebuilt) {
    bundle = Promise.resolve({ code: readFileSync(prebuilt, 'utf8') });
    bundles.set(key, bundle);
  }
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath,
      workflowInterceptorModules: [WORKFLOW_INTERCEPTORS_PATH, ...extraInterceptorModules],
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    bundles.set(key, bundle);
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
  /** Receives what workflows report (phases, outcomes, drift); default: dropped. Never called during replay. */
  onWorkflowEvent?: (workflow: WorkflowRef, event: CvmflowEvent) => void;
  /** OpenTelemetry tracing (../metrics/tracing): its interceptors are bundled and its sink registered. */
  tracing?: Pick<WorkerTracing, 'interceptors' | 'sinks'>;
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
    workflowBundle: await bundleWorkflows(opts.workflowsPath, opts.tracing ? [OTEL_WORKFLOW_INTERCEPTORS] : []),
    activities: opts.activities,
    dataConverter,
    shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
    ...(opts.identity ? { identity: opts.identity } : {}),
    sinks: { ...workflowEventSinks(opts.onWorkflowEvent ?? (() => {})), ...opts.tracing?.sinks },
    ...(opts.tracing ? { interceptors: opts.tracing.interceptors } : {}),
    // Heartbeats carry the watch checkpoint; flush them often enough that a crash loses little.
    maxHeartbeatThrottleInterval: '5s',
    // A watch activity holds its slot for as long as the CVM boots while costing next to nothing (it waits on the
    // shared watch hub); with the SDK's default of 100 slots, 1,000 deployments in flight could only have 100 CVMs
    // watched at a time and queued behind them (bench/README.md, concurrency). API calls stay bounded by the Phala
    // client's connection pool.
    maxConcurrentActivityTaskExecutions: 2000,
    ...opts.tuning,
  });
}

/**
 * What a replay of recorded histories needs to match a real worker: the same bundle, data converter and sinks
 * (replay never calls the sinks, but the workflow code looks them up). Run it against production histories before
 * rolling out new workflow code.
 */
export async function replayWorkerOptions(codecKeys: CodecKey[] | undefined) {
  return {
    workflowBundle: await bundleWorkflows(),
    dataConverter: createDataConverter(codecKeys),
    sinks: workflowEventSinks(() => {}),
  };
}

/** The sink every workflow's reports go through (a sink must exist on every worker that runs the workflows). */
function workflowEventSinks(handle: (workflow: WorkflowRef, event: CvmflowEvent) => void): InjectedSinks<CvmflowSinks> {
  return {
    cvmflow: {
      event: {
        fn(info, event) {
          handle(
            {
              workflowId: info.workflowId,
              runId: info.runId,
              workflowType: info.workflowType,
              namespace: info.namespace,
              taskQueue: info.taskQueue,
            },
            event,
          );
        },
        callDuringReplay: false,
      },
    },
  };
}

// `cvmflow worker`: the long-running process that executes cvmflow's workflows and activities.

import { Runtime } from '@temporalio/worker';
import { pccsCollateral } from '../attestation';
import { createChainClient, loadChainConfig } from '../chain';
import { installWorkerRuntime } from '../metrics/runtime';
import { createWorkerTracing } from '../metrics/tracing';
import { createWorkerMetrics } from '../metrics/worker-metrics';
import { notifierConfigFromEnv, WebhookNotifier } from '../notify/notifier';
import { PhalaClient } from '../phala/client';
import { loadTemporalConfig } from '../temporal/config';
import { connectWorkerConnection } from '../temporal/connection';
import { createWorkerActivities } from './activities';
import { createWorker } from './worker';

export interface RunWorkerOptions {
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/** Runs until SIGINT/SIGTERM (handled by the Temporal runtime), then drains: in-flight activities get their grace. */
export async function runWorker(opts: RunWorkerOptions = {}): Promise<void> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const config = loadTemporalConfig(env);
  const notifyConfig = notifierConfigFromEnv(env);
  const metricsEndpoint = installWorkerRuntime(env);
  if (metricsEndpoint) log(`cvmflow worker: Prometheus metrics at ${metricsEndpoint.url}`);
  const metrics = createWorkerMetrics(Runtime.instance().metricMeter);
  const notifier = notifyConfig
    ? new WebhookNotifier(notifyConfig, (outcome, event) => metrics.notification(outcome, event.type))
    : undefined;
  if (notifier) log(`cvmflow worker: notifications to ${new URL(notifyConfig!.url).origin}`);
  const tracing = createWorkerTracing(env);
  if (tracing) log(`cvmflow worker: OpenTelemetry traces to ${tracing.endpoint}`);
  const phala = PhalaClient.fromEnv(env, { onResponse: (call) => metrics.apiCall(call) });
  const pollMs = env.CVMFLOW_WATCH_POLL_MS ? Number(env.CVMFLOW_WATCH_POLL_MS) : undefined;
  const maxCachedWorkflows = maxCachedWorkflowsFromEnv(env);
  // The chain is optional: without ETH_RPC_URL the worker serves phala-KMS deploys and says so.
  const chain = env.ETH_RPC_URL ? createChainClient(loadChainConfig(env)) : undefined;
  // Quote collateral for the attestation gate: without a PCCS, signed quotes are reported "not verified".
  const collateral = env.CVMFLOW_PCCS_URL ? pccsCollateral(env.CVMFLOW_PCCS_URL) : undefined;
  const { activities, close } = createWorkerActivities({
    phala,
    chain,
    collateral,
    codecKeys: config.codecKeys,
    hub: {
      pollIntervalMs: pollMs && Number.isFinite(pollMs) && pollMs > 0 ? pollMs : undefined,
      onStreamCount: (open) => metrics.openStreams(open),
    },
  });
  const connection = await connectWorkerConnection(config);
  try {
    const worker = await createWorker({
      connection,
      config,
      activities,
      shutdownGraceTime: env.CVMFLOW_SHUTDOWN_GRACE ?? '30s',
      ...(maxCachedWorkflows !== undefined ? { tuning: { maxCachedWorkflows } } : {}),
      ...(tracing ? { tracing } : {}),
      ...(notifier ? { onWorkflowEvent: (workflow, event) => notifier.publish(workflow, event) } : {}),
    });
    log(
      `cvmflow worker: polling task queue "${config.taskQueue}" on ${config.address} (namespace ${config.namespace}); payload encryption ${config.codecKeys ? `on (key ${config.codecKeys[0]!.id})` : 'OFF'}; on-chain KMS ${chain ? 'enabled' : 'disabled (no ETH_RPC_URL)'}; quote collateral ${collateral ? 'from CVMFLOW_PCCS_URL' : 'none (signed quotes not verified)'}`,
    );
    await worker.run();
    log('cvmflow worker: stopped');
  } finally {
    close();
    await notifier?.close();
    await tracing?.shutdown();
    await connection.close();
  }
}

/** CVMFLOW_MAX_CACHED_WORKFLOWS: the workflow cache's size instead of the worker's default (src/worker/worker.ts). */
export function maxCachedWorkflowsFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.CVMFLOW_MAX_CACHED_WORKFLOWS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(
      `CVMFLOW_MAX_CACHED_WORKFLOWS must be a whole number of workflows (0 turns the cache off); got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

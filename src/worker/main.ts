// `cvmflow worker`: the long-running process that executes cvmflow's workflows and activities.
import { createChainClient, loadChainConfig } from '../chain';
import { installMetricsRuntime } from '../metrics/runtime';
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
  const metrics = installMetricsRuntime(env);
  if (metrics) log(`cvmflow worker: Prometheus metrics at ${metrics.url}`);
  const phala = PhalaClient.fromEnv(env);
  const pollMs = env.CVMFLOW_WATCH_POLL_MS ? Number(env.CVMFLOW_WATCH_POLL_MS) : undefined;
  // The chain is optional: without ETH_RPC_URL the worker serves phala-KMS deploys and says so.
  const chain = env.ETH_RPC_URL ? createChainClient(loadChainConfig(env)) : undefined;
  const { activities, close } = createWorkerActivities({
    phala,
    chain,
    codecKeys: config.codecKeys,
    hub: { pollIntervalMs: pollMs && Number.isFinite(pollMs) && pollMs > 0 ? pollMs : undefined },
  });
  const connection = await connectWorkerConnection(config);
  try {
    const worker = await createWorker({
      connection,
      config,
      activities,
      shutdownGraceTime: env.CVMFLOW_SHUTDOWN_GRACE ?? '30s',
    });
    log(
      `cvmflow worker: polling task queue "${config.taskQueue}" on ${config.address} (namespace ${config.namespace}); payload encryption ${config.codecKeys ? `on (key ${config.codecKeys[0]!.id})` : 'OFF'}; on-chain KMS ${chain ? 'enabled' : 'disabled (no ETH_RPC_URL)'}`,
    );
    await worker.run();
    log('cvmflow worker: stopped');
  } finally {
    close();
    await connection.close();
  }
}

// Prometheus metrics of a worker: the Temporal runtime's own (workflow and activity task latencies, completions,
// failures, poller and slot gauges, sticky cache, …, labelled by namespace, task queue, workflow and activity type),
// served by the SDK's core on CVMFLOW_METRICS_HOST:CVMFLOW_METRICS_PORT at /metrics. The runtime can be installed once
// per process and before any connection, so the worker calls this first.
import { DefaultLogger, Runtime } from '@temporalio/worker';

export class MetricsConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

export interface MetricsEndpoint {
  bindAddress: string;
  url: string;
}

/** The endpoint the environment asks for; undefined when CVMFLOW_METRICS_PORT is not set (metrics off). */
export function metricsEndpoint(env: NodeJS.ProcessEnv): MetricsEndpoint | undefined {
  const raw = env.CVMFLOW_METRICS_PORT?.trim();
  if (!raw) return undefined;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535)
    throw new MetricsConfigError(`CVMFLOW_METRICS_PORT: must be a port 1-65535 (got "${raw}")`);
  const host = env.CVMFLOW_METRICS_HOST?.trim() || '127.0.0.1';
  if (!/^[A-Za-z0-9.:-]+$/.test(host))
    throw new MetricsConfigError(`CVMFLOW_METRICS_HOST: must be an IP address or host name (got "${host}")`);
  const bindAddress = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return { bindAddress, url: `http://${bindAddress}/metrics` };
}

/**
 * Installs the Temporal runtime with a Prometheus exporter when the environment asks for one; returns where it
 * serves. Without CVMFLOW_METRICS_PORT it installs nothing and the SDK's default runtime applies.
 */
export function installMetricsRuntime(env: NodeJS.ProcessEnv = process.env): MetricsEndpoint | undefined {
  const endpoint = metricsEndpoint(env);
  if (!endpoint) return undefined;
  Runtime.install({
    logger: new DefaultLogger('INFO'),
    telemetryOptions: {
      metrics: {
        prometheus: { bindAddress: endpoint.bindAddress },
        globalTags: { service: 'cvmflow-worker' },
      },
    },
  });
  return endpoint;
}

// The worker process's Temporal runtime: its log format and its Prometheus metrics. Metrics are the SDK's own
// (workflow and activity task latencies, completions, failures, poller and slot gauges, sticky cache, labelled by
// namespace, task queue, workflow and activity type) and cvmflow's (./worker-metrics, ../workflows/observe), all served
// by the SDK's core on CVMFLOW_METRICS_HOST:CVMFLOW_METRICS_PORT at /metrics.
import { DefaultLogger, type LogEntry, Runtime, type TelemetryOptions } from '@temporalio/worker';

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

export type LogFormat = 'json' | 'text';
const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogSettings {
  format: LogFormat;
  level: LogLevel;
}

/** CVMFLOW_LOG_FORMAT (json | text; default json unless stderr is a terminal) and CVMFLOW_LOG_LEVEL (default INFO). */
export function logSettings(env: NodeJS.ProcessEnv, isTty = process.stderr.isTTY === true): LogSettings {
  const format = (env.CVMFLOW_LOG_FORMAT?.trim().toLowerCase() || (isTty ? 'text' : 'json')) as LogFormat;
  if (format !== 'json' && format !== 'text')
    throw new MetricsConfigError(`CVMFLOW_LOG_FORMAT: must be json or text (got "${env.CVMFLOW_LOG_FORMAT}")`);
  const level = (env.CVMFLOW_LOG_LEVEL?.trim().toUpperCase() || 'INFO') as LogLevel;
  if (!LOG_LEVELS.includes(level))
    throw new MetricsConfigError(
      `CVMFLOW_LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')} (got "${env.CVMFLOW_LOG_LEVEL}")`,
    );
  return { format, level };
}

/**
 * One JSON object per line: time, level, message, and the SDK's context (workflowId, runId, workflowType,
 * activityType, taskQueue, namespace) plus the workflow's `app` (see ../workflows/observe). Errors are reduced to
 * their type and message; our error messages are redacted where they are made, so nothing secret reaches a line.
 */
export function jsonLogLine(entry: LogEntry): string {
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entry.meta ?? {})) {
    meta[k] = v instanceof Error ? { type: v.name, message: v.message } : v;
  }
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  return JSON.stringify({ time, level: entry.level.toLowerCase(), msg: entry.message, ...meta });
}

/**
 * Core's (the SDK's Rust part) own log lines go through the runtime's logger, which writes to stderr. Without
 * `forward`, Core prints them to the process's stdout itself, where a WARN "Failing workflow task" broke the JSON
 * of `cvmflow demo --json` and `cvmflow dev --json`. The filter is the SDK's default: Core's warnings, others' errors.
 */
export const CORE_LOGS_FORWARDED: TelemetryOptions['logging'] = {
  forward: {},
  filter: { core: 'WARN', other: 'ERROR' },
};

function workerLogger(settings: LogSettings): DefaultLogger {
  if (settings.format === 'text') return new DefaultLogger(settings.level);
  return new DefaultLogger(settings.level, (entry) => process.stderr.write(`${jsonLogLine(entry)}\n`));
}

/**
 * Installs the worker process's Temporal runtime: the logger the environment asks for and, with
 * CVMFLOW_METRICS_PORT, a Prometheus exporter (the SDK's metrics and cvmflow's, see ./worker-metrics). Returns where
 * metrics are served, or undefined when they are off. The runtime can be installed once per process and before any
 * connection, so the worker calls this first.
 */
export function installWorkerRuntime(env: NodeJS.ProcessEnv = process.env): MetricsEndpoint | undefined {
  const endpoint = metricsEndpoint(env);
  Runtime.install({
    logger: workerLogger(logSettings(env)),
    telemetryOptions: {
      logging: CORE_LOGS_FORWARDED,
      ...(endpoint
        ? { metrics: { prometheus: { bindAddress: endpoint.bindAddress }, globalTags: { service: 'cvmflow-worker' } } }
        : {}),
    },
  });
  return endpoint;
}

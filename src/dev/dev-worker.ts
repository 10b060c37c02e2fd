// The embedded stack's worker, in-process: the same activities and workflow bundle as `cvmflow worker`, tuned for a
// simulator whose time runs faster (shorter polling and busy back-off).
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import type { ChainClient } from '../chain';
import { CORE_LOGS_FORWARDED } from '../metrics/runtime';
import { PhalaClient } from '../phala/client';
import type { CodecKey } from '../temporal/codec';
import { connectWorkerConnection } from '../temporal/connection';
import { createWorkerActivities } from '../worker/activities';
import { createWorker } from '../worker/worker';

export interface DevWorkerOptions {
  address: string;
  namespace: string;
  taskQueue: string;
  codecKeys: CodecKey[];
  phalaUrl: string;
  phalaApiKey: string;
  /** Signs on-chain KMS registrations (`kms: ethereum | base`). */
  chain?: ChainClient;
  /** The worker's log level; the demo raises it to ERROR, as the failures it injects are expected. */
  logLevel?: 'WARN' | 'ERROR';
  /** The simulator's time scale: watch polling and busy back-off shrink with it. */
  timeScale: number;
}

export interface DevWorker {
  worker: Worker;
  /** Settles when the worker stops: after stop(), or earlier if it fails (then rejects with why). */
  exited: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The stack stops the worker itself on Ctrl-C, after which it stops the servers; the Temporal runtime's own signal
 * handlers would race that, so they are switched off when this process has not installed a runtime yet. Core's log
 * lines are forwarded to the logger (stderr): stdout belongs to the command's output, JSON with `--json`.
 */
function installQuietRuntime(level: 'WARN' | 'ERROR'): void {
  try {
    Runtime.install({
      shutdownSignals: [],
      logger: new DefaultLogger(level),
      telemetryOptions: { logging: CORE_LOGS_FORWARDED },
    });
  } catch {
    // Already installed by the embedding process, which then owns signal handling.
  }
}

export async function startDevWorker(opts: DevWorkerOptions): Promise<DevWorker> {
  installQuietRuntime(opts.logLevel ?? 'WARN');
  const phala = new PhalaClient({ baseURL: opts.phalaUrl, apiKey: opts.phalaApiKey });
  const scaled = (ms: number, floor: number) => Math.max(floor, Math.round(ms * Math.min(1, opts.timeScale)));
  const { activities, close } = createWorkerActivities({
    phala,
    codecKeys: opts.codecKeys,
    hub: { pollIntervalMs: scaled(1000, 100) },
    busyRetryMs: scaled(2000, 50),
    chain: opts.chain,
  });
  const connection = await connectWorkerConnection({ address: opts.address });
  let worker: Worker;
  try {
    worker = await createWorker({
      connection,
      config: { namespace: opts.namespace, taskQueue: opts.taskQueue, codecKeys: opts.codecKeys },
      activities,
      shutdownGraceTime: '2s',
      identity: `cvmflow-dev@${process.pid}`,
    });
  } catch (err) {
    close();
    await connection.close();
    throw err;
  }
  const running = worker.run();
  let stopped: Promise<void> | undefined;
  return {
    worker,
    exited: running,
    stop() {
      stopped ??= (async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running.catch(() => undefined);
        close();
        await phala.close();
        await connection.close();
      })();
      return stopped;
    },
  };
}

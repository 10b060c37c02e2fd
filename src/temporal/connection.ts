import { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { TemporalConfig } from './config';
import { createDataConverter } from './data-converter';

type ConnectionTarget = Pick<TemporalConfig, 'address' | 'tls' | 'apiKey'>;

export function connectionOptions(cfg: ConnectionTarget) {
  return { address: cfg.address, tls: cfg.tls, apiKey: cfg.apiKey };
}

/** The Temporal server did not answer: the message names the address and where it came from. */
export class TemporalUnreachableError extends Error {
  readonly code = 'TEMPORAL_UNREACHABLE';
}

// Long enough for a server across a WAN (Temporal Cloud) to complete TLS, short enough that a wrong address is
// reported while the user still looks at the terminal (the SDK's own default waits 15 s).
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** A workflow client carrying the project's data converter (payload encryption). */
export async function connectClient(
  cfg: Omit<TemporalConfig, 'taskQueue'>,
  opts: { connectTimeoutMs?: number } = {},
): Promise<Client> {
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions(cfg), connectTimeout: timeoutMs });
  } catch (err) {
    throw new TemporalUnreachableError(
      `cannot reach the Temporal server at ${cfg.address} within ${timeoutMs / 1000} s (${(err as Error).message}); ` +
        'set TEMPORAL_ADDRESS (or temporal.address in cvmflow.config.yaml) to your server, or start one with `cvmflow dev`',
    );
  }
  return new Client({ connection, namespace: cfg.namespace, dataConverter: createDataConverter(cfg.codecKeys) });
}

/** The worker's connection; the worker SDK (native Core bridge) is loaded only by processes that run a worker. */
export async function connectWorkerConnection(cfg: ConnectionTarget): Promise<NativeConnection> {
  const { NativeConnection } = await import('@temporalio/worker');
  return NativeConnection.connect(connectionOptions(cfg));
}

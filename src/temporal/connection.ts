import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { TemporalConfig } from './config';
import { createDataConverter } from './data-converter';

type ConnectionTarget = Pick<TemporalConfig, 'address' | 'tls' | 'apiKey'>;

export function connectionOptions(cfg: ConnectionTarget) {
  return { address: cfg.address, tls: cfg.tls, apiKey: cfg.apiKey };
}

/** A workflow client carrying the project's data converter (payload encryption). */
export async function connectClient(cfg: Omit<TemporalConfig, 'taskQueue'>): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(cfg));
  return new Client({ connection, namespace: cfg.namespace, dataConverter: createDataConverter(cfg.codecKeys) });
}

export function connectWorkerConnection(cfg: ConnectionTarget): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(cfg));
}

// How CLI commands reach Temporal: the same validated environment config as the worker.
import type { Client } from '@temporalio/client';
import { loadTemporalConfig, type TemporalConfig } from '../temporal/config';
import { connectClient } from '../temporal/connection';

export async function withClient<T>(
  fn: (client: Client, config: TemporalConfig) => Promise<T>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  const config = loadTemporalConfig(env);
  const client = await connectClient(config);
  try {
    return await fn(client, config);
  } finally {
    await client.connection.close();
  }
}

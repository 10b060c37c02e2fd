// How CLI commands reach Temporal: the same validated environment config as the worker.
import type { Client } from '@temporalio/client';
import type { TemporalConfig } from '../temporal/config';

export async function withClient<T>(
  fn: (client: Client, config: TemporalConfig) => Promise<T>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  // Loaded here, not at the top: commands that never reach Temporal (help, a refused spec) skip the SDK.
  const [{ loadTemporalConfig }, { connectClient }] = await Promise.all([
    import('../temporal/config'),
    import('../temporal/connection'),
  ]);
  const config = loadTemporalConfig(env);
  const client = await connectClient(config);
  try {
    return await fn(client, config);
  } finally {
    await client.connection.close();
  }
}

// The middle tier's worker: the real workflows on the local dev server, with activities the test hands in as plain
// functions, on its own task queue; plus a client with the test codec to drive them.
import type { Client } from '@temporalio/client';
import { createWorker } from '../../src/worker/worker';
import { codecClient, TEST_CODEC_KEYS, temporalTarget, workerConnection } from './temporal';

export interface StubbedWorker {
  client: Client;
  stop(): Promise<void>;
}

/** `workflowsPath`: a module of its own that exports the workflows (default: cvmflow's). */
export async function startStubbedWorker(
  taskQueue: string,
  activities: object,
  workflowsPath?: string,
): Promise<StubbedWorker> {
  const client = await codecClient();
  const connection = await workerConnection();
  const worker = await createWorker({
    connection,
    config: { namespace: temporalTarget().namespace, taskQueue, codecKeys: TEST_CODEC_KEYS },
    activities,
    workflowsPath,
    shutdownGraceTime: '1ms',
  });
  const running = worker.run();
  return {
    client,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
      await client.connection.close();
    },
  };
}

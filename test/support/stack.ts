// The real stack for integration tests: our Phala Cloud simulator over real HTTP/SSE, and an in-process cvmflow
// worker with the real activities, on the shared Temporal dev server.
import type { Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { PhalaClient } from '../../src/phala/client';
import { CVM_INFO_VERSIONS, type CvmInfoVersion } from '../../src/phala/schemas';
import { type SimulatorHandle, type SimulatorOptions, startSimulator } from '../../src/simulator';
import { createWorkerActivities, type WorkerActivityOptions } from '../../src/worker/activities';
import { createWorker } from '../../src/worker/worker';
import { codecClient, TEST_CODEC_KEYS, temporalTarget, uniqueId, workerConnection } from './temporal';

export const TEST_API_KEY = 'phak_test_0123456789';

/**
 * The API version the stack's clients speak: `apiVersion`, else $CVMFLOW_TEST_API_VERSION (so the whole integration
 * suite can run on another version: `CVMFLOW_TEST_API_VERSION=2026-01-21 npx vitest run test/integration`), else
 * the client's default.
 */
export function testApiVersion(explicit?: CvmInfoVersion): CvmInfoVersion | undefined {
  const v = explicit ?? process.env.CVMFLOW_TEST_API_VERSION;
  if (v !== undefined && !(CVM_INFO_VERSIONS as readonly string[]).includes(v)) {
    throw new Error(`CVMFLOW_TEST_API_VERSION=${v}: use one of ${CVM_INFO_VERSIONS.join(', ')}`);
  }
  return v as CvmInfoVersion | undefined;
}

export interface TestStack {
  sim: SimulatorHandle;
  phala: PhalaClient;
  client: Client;
  taskQueue: string;
  startWorker(): Promise<RunningWorker>;
  close(): Promise<void>;
}

export interface RunningWorker {
  worker: Worker;
  /** Stops polling at once and cancels in-flight activities: the closest an in-process test gets to a crash. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(
  opts: {
    sim?: Partial<SimulatorOptions>;
    activities?: Partial<WorkerActivityOptions>;
    apiVersion?: CvmInfoVersion;
  } = {},
): Promise<TestStack> {
  const sim = await startSimulator({ port: 0, apiKeys: [TEST_API_KEY], timeScale: 0.002, ...opts.sim });
  const version = testApiVersion(opts.apiVersion);
  const phala = new PhalaClient({ baseURL: sim.url, apiKey: TEST_API_KEY, version });
  const client = await codecClient();
  const taskQueue = uniqueId('deploy');
  const connections: NativeConnection[] = [];
  const workers = new Set<RunningWorker>();

  async function startWorker(): Promise<RunningWorker> {
    const connection = await workerConnection();
    connections.push(connection);
    const { activities, close } = createWorkerActivities({
      phala: new PhalaClient({ baseURL: sim.url, apiKey: TEST_API_KEY, version }),
      codecKeys: TEST_CODEC_KEYS,
      hub: { pollIntervalMs: 100 },
      busyRetryMs: 50,
      ...opts.activities,
    });
    const worker = await createWorker({
      connection,
      config: { namespace: temporalTarget().namespace, taskQueue, codecKeys: TEST_CODEC_KEYS },
      activities,
      shutdownGraceTime: '1ms',
    });
    const running = worker.run();
    const handle: RunningWorker = {
      worker,
      async kill() {
        close();
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running.catch(() => undefined);
        workers.delete(handle);
      },
      async stop() {
        await handle.kill();
      },
    };
    workers.add(handle);
    return handle;
  }

  return {
    sim,
    phala,
    client,
    taskQueue,
    startWorker,
    async close() {
      for (const w of [...workers]) await w.stop();
      await client.connection.close();
      for (const c of connections) await c.close();
      await sim.close();
    },
  };
}

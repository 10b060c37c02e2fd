// The floor's worker process: the least worker the SDK allows — the floor workflow and its bare activities, SDK
// defaults except the activity slots (a watch holds one for a whole boot, as in cvmflow), no codec, no sinks, no
// interceptors. Same IPC protocol as bench/lib/worker-main.ts (ready, stats, stop → stopped).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { WorkerProcessConfig, WorkerStats } from '../lib/worker-main';
import { createFloorActivities } from './activities';

const MiB = 2 ** 20;
const peakRssMiB = () => Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.BENCH_WORKER ?? '') as WorkerProcessConfig;
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const connection = await NativeConnection.connect({ address: cfg.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: cfg.temporal.namespace,
    taskQueue: cfg.taskQueue,
    workflowsPath: fileURLToPath(new URL('./workflow.ts', import.meta.url)),
    activities: createFloorActivities(cfg.phalaUrl),
    maxConcurrentActivityTaskExecutions: 2000,
    shutdownGraceTime: '1ms',
  });
  const stats = (): WorkerStats => {
    const mem = process.memoryUsage();
    return {
      rssMiB: mem.rss / MiB,
      peakRssMiB: peakRssMiB(),
      heapUsedMiB: mem.heapUsed / MiB,
      externalMiB: mem.external / MiB,
      hub: { polls: 0, streamsOpened: 0, streamEvents: 0, watched: 0, activeStreams: 0 },
    };
  };
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'stats') process.send?.({ type: 'stats', stats: stats() });
    if (msg.type === 'stop') worker.shutdown();
  });
  process.on('disconnect', () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  });
  const running = worker.run();
  process.send?.({ type: 'ready' });
  await running;
  await connection.close();
  process.send?.({ type: 'stopped', stats: stats() });
  process.disconnect?.();
}

await main();

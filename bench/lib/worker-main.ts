// A cvmflow worker as its own OS process for the benchmarks whose figures are the worker's own (memory under load):
// the production activities and worker bootstrap, configured from BENCH_WORKER (JSON). It talks to its parent over
// the IPC channel: `ready` once polling, `stats` on request (RSS, peak RSS, heap, watch-hub counters), and it
// drains and exits on `stop`.
import { readFileSync } from 'node:fs';
import { DefaultLogger, type NativeConnection, Runtime } from '@temporalio/worker';
import { PhalaClient } from '../../src/phala/client';
import { connectWorkerConnection } from '../../src/temporal/connection';
import { createWorkerActivities, type WorkerActivityOptions } from '../../src/worker/activities';
import { createWorker } from '../../src/worker/worker';
import { codecKeysOf } from './stack';

export interface WorkerProcessConfig {
  temporal: { address: string; namespace: string };
  taskQueue: string;
  codecKeyText: string;
  phalaUrl: string;
  apiKey: string;
  hub?: WorkerActivityOptions['hub'];
  tuning?: Parameters<typeof createWorker>[0]['tuning'];
  /** The Phala client's connection cap (default 32). */
  phalaMaxConnections?: number;
}

export interface WorkerStats {
  rssMiB: number;
  /** The kernel's high-water mark of this process's resident set (VmHWM). */
  peakRssMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
  hub: { polls: number; streamsOpened: number; streamEvents: number; watched: number; activeStreams: number };
}

type Message = { type: 'stats' } | { type: 'stop' };

const MiB = 2 ** 20;

function peakRssMiB(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.BENCH_WORKER ?? '') as WorkerProcessConfig;
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const codecKeys = codecKeysOf(cfg.codecKeyText);
  const phala = new PhalaClient({ baseURL: cfg.phalaUrl, apiKey: cfg.apiKey, maxConnections: cfg.phalaMaxConnections });
  const { activities, hub, close } = createWorkerActivities({ phala, codecKeys, hub: cfg.hub });
  if (process.env.BENCH_EXPERIMENT === 'fast-inspect') {
    // What-if only (never in the suite): the inspect step asks for the app by name instead of paging the fleet.
    activities.findAppCvms = async ({ app }: { app: string }) => {
      const res = (await phala.request('GET', '/apps', { query: { search: app, page_size: 100 } })) as {
        dstack_apps: { name: string; app_id: string; cvms: { vm_uuid: string | null; status: string }[] }[];
      };
      return res.dstack_apps
        .filter((a) => a.name === app)
        .flatMap((a) =>
          a.cvms
            .filter((c) => c.vm_uuid && c.status !== 'deleting')
            .map((c) => ({ cvmId: c.vm_uuid!, appId: a.app_id, nodeId: null, status: c.status })),
        );
    };
  }
  const connection: NativeConnection = await connectWorkerConnection(cfg.temporal);
  const worker = await createWorker({
    connection,
    config: { namespace: cfg.temporal.namespace, taskQueue: cfg.taskQueue, codecKeys },
    activities,
    shutdownGraceTime: '1ms',
    tuning: cfg.tuning,
  });
  const stats = (): WorkerStats => {
    const mem = process.memoryUsage();
    return {
      rssMiB: mem.rss / MiB,
      peakRssMiB: peakRssMiB(),
      heapUsedMiB: mem.heapUsed / MiB,
      externalMiB: mem.external / MiB,
      hub: { ...hub.stats, watched: hub.watchedCount, activeStreams: hub.activeStreams },
    };
  };
  process.on('message', (msg: Message) => {
    if (msg.type === 'stats') process.send?.({ type: 'stats', stats: stats() });
    if (msg.type === 'stop') {
      close();
      worker.shutdown();
    }
  });
  // The parent going away (a failed benchmark) must not leave a worker behind.
  process.on('disconnect', () => {
    close();
    if (worker.getState() === 'RUNNING') worker.shutdown();
  });
  const running = worker.run();
  process.send?.({ type: 'ready' });
  await running;
  await connection.close();
  await phala.close();
  process.send?.({ type: 'stopped', stats: stats() });
  process.disconnect?.();
}

await main();

// Starts bench/lib/worker-main.ts as a child process (through tsx, like bin/cvmflow.mjs) and speaks its IPC protocol.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerProcessConfig, WorkerStats } from './worker-main';

const ENTRY = fileURLToPath(new URL('./worker-main.ts', import.meta.url));

export interface WorkerProcess {
  pid: number;
  stats(): Promise<WorkerStats>;
  /** Drains, exits, and returns the final stats (including the process's peak RSS). */
  stop(): Promise<WorkerStats>;
  output(): string;
}

/**
 * `heapMiB` caps the worker's V8 old space (`--max-old-space-size`), as a container's memory limit would; `entry`
 * runs another worker speaking the same protocol (bench/floor/worker-main.ts).
 */
export async function spawnWorkerProcess(
  cfg: WorkerProcessConfig,
  opts: { heapMiB?: number; entry?: string } = {},
): Promise<WorkerProcess> {
  const child: ChildProcess = fork(opts.entry ?? ENTRY, [], {
    execArgv: [
      '--import',
      'tsx',
      ...(opts.heapMiB ? [`--max-old-space-size=${opts.heapMiB}`] : []),
      // Diagnostics, e.g. BENCH_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (not allowed in NODE_OPTIONS).
      ...(process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ],
    env: { ...process.env, BENCH_WORKER: JSON.stringify(cfg) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const next = <T>(type: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: { type: string } & Record<string, unknown>) => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        resolve(m as T);
      };
      child.on('message', onMessage);
      exited.then((code) => reject(new Error(`bench worker exited (code ${code}) before "${type}":\n${out}`)));
    });
  await next('ready');
  let final: WorkerStats | undefined;
  return {
    pid: child.pid ?? -1,
    output: () => out,
    async stats() {
      const reply = next<{ stats: WorkerStats }>('stats');
      child.send({ type: 'stats' });
      return (await reply).stats;
    },
    async stop() {
      if (final) return final;
      const reply = next<{ stats: WorkerStats }>('stopped');
      child.send({ type: 'stop' });
      final = (await reply).stats;
      await exited;
      return final;
    },
  };
}

// A cvmflow worker as its own OS process (`cvmflow worker`), so crash tests can SIGKILL it like a real failure.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TEST_CODEC_KEY_TEXT, temporalTarget } from './temporal';

const BIN = fileURLToPath(new URL('../../bin/cvmflow.mjs', import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** SIGKILL: no shutdown hooks, no activity completion, exactly what a crashed host looks like. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function spawnWorker(opts: {
  taskQueue: string;
  phalaUrl: string;
  apiKey: string;
  env?: NodeJS.ProcessEnv;
}): Promise<WorkerProcess> {
  const target = temporalTarget();
  const child = spawn(process.execPath, [BIN, 'worker'], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: target.address,
      TEMPORAL_NAMESPACE: target.namespace,
      TEMPORAL_TASK_QUEUE: opts.taskQueue,
      CVMFLOW_CODEC_KEY: TEST_CODEC_KEY_TEXT,
      PHALA_CLOUD_API_PREFIX: opts.phalaUrl,
      PHALA_CLOUD_API_KEY: opts.apiKey,
      CVMFLOW_WATCH_POLL_MS: '100',
      CVMFLOW_SHUTDOWN_GRACE: '1s',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start within 60 s:\n${out}`)), 60_000);
    const check = () => {
      if (out.includes('polling task queue')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before starting:\n${out}`));
    });
  });
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { child, output: () => out, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}

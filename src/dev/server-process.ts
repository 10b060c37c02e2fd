// A local server run as a child process (anvil, the Temporal dev server): the tail of its output kept for the error
// that says why it did not start, and a stop that asks (SIGTERM) before it insists (SIGKILL).
import { type ChildProcess, spawn } from 'node:child_process';

export interface ServerProcess {
  child: ChildProcess;
  /** Settles once the process has exited and its output is drained, so the log tail is complete by then. */
  closed: Promise<void>;
  /** The last 40 lines it printed (of the 200 kept). */
  logTail(): string;
  /** SIGTERM, then SIGKILL if it is still running after `graceMs`; settles once it has closed. */
  stop(graceMs: number): Promise<void>;
}

export function spawnServer(bin: string, args: string[], env?: NodeJS.ProcessEnv): ServerProcess {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  // 'close' comes after 'exit' once stdout and stderr are drained.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const log: string[] = [];
  const keep = (chunk: Buffer) => {
    log.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (log.length > 200) log.splice(0, log.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('error', (err) => log.push(`cannot run ${bin}: ${err.message}`));
  const stop = async (graceMs: number) => {
    if (child.exitCode === null && child.signalCode === null) {
      const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.kill('SIGTERM');
      await closed;
      clearTimeout(force);
    }
    await closed;
  };
  return { child, closed, logTail: () => log.slice(-40).join('\n'), stop };
}

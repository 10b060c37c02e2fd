// The `job` provider: a command the worker runs (no shell), with a deadline. Exit 0 is a pass, another exit code a
// failure; a command that cannot start or outlives its deadline is an error (retried, not a failure).
import { spawn } from 'node:child_process';
import { fill, type Provider } from '../provider';
import type { JobProvider } from '../types';

const tail = (text: string) => text.trim().split('\n').at(-1)?.slice(0, 200) ?? '';

export const jobProvider: Provider<JobProvider> = {
  type: 'job',
  measure(p, _metric, ctx) {
    const argv = p.command.map((a) => fill(a, ctx.vars));
    const query = argv.join(' ');
    return new Promise((resolve) => {
      let output = '';
      const child = spawn(argv[0]!, argv.slice(1), {
        signal: ctx.signal,
        timeout: ctx.timeoutMs,
        killSignal: 'SIGKILL',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...ctx.env,
          ...Object.fromEntries(Object.entries(ctx.vars).map(([k, v]) => [`ANALYSIS_${k.toUpperCase()}`, v])),
        },
      });
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-4000);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.on('error', (err) => resolve({ verdict: 'error', query, value: '', detail: `cannot run: ${err.message}` }));
      child.on('close', (code, signal) => {
        if (code === 0) resolve({ verdict: 'pass', query, value: 'exit 0', detail: tail(output) || 'exit 0' });
        else if (code !== null)
          resolve({ verdict: 'fail', query, value: `exit ${code}`, detail: tail(output) || `exit ${code}` });
        else
          resolve({
            verdict: 'error',
            query,
            value: '',
            detail: `killed by ${signal} (deadline ${ctx.timeoutMs} ms or the analysis ended)`,
          });
      });
    });
  },
};

// A local Prometheus for the demo and the metric-analysis tests: Debian's `prometheus` (scripts/ensure-prometheus.sh
// installs it) started on loopback and a free port with a generated config that discovers the simulator's running CVMs
// through its http_sd endpoint and scrapes each CVM's /metrics every second. stop() ends its own process only.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';

export interface LocalPrometheus {
  url: string;
  /** Resolves once the query returns a non-empty vector (the scrapes have data for it). */
  waitForSeries(query: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The `prometheus` binary on PATH, if any. */
export function findPrometheus(): string | undefined {
  // /bin/sh by path: a PATH without the shell's folder must still mean "not found", not a crash.
  return spawnSync('/bin/sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).stdout?.trim() || undefined;
}

function binary(): string {
  const found = findPrometheus();
  if (!found) throw new Error('prometheus is not installed: run scripts/ensure-prometheus.sh (Debian package)');
  return found;
}

export async function startPrometheus(opts: { sdUrl: string; scrapeIntervalS?: number }): Promise<LocalPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'cvmflow-prometheus-'));
  const every = `${opts.scrapeIntervalS ?? 1}s`;
  const config = [
    'global:',
    `  scrape_interval: ${every}`,
    `  evaluation_interval: ${every}`,
    'scrape_configs:',
    '  - job_name: cvms',
    '    honor_labels: true',
    '    http_sd_configs:',
    `      - url: ${JSON.stringify(opts.sdUrl)}`,
    '        refresh_interval: 1s',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary(),
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const giveUp = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${stderr}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > giveUp) {
      await stop();
      throw new Error(`prometheus did not become ready at ${url}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    async waitForSeries(query, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const body = (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`).then((r) => r.json())) as {
          data?: { result?: unknown[] };
        };
        if (body.data?.result?.length) return;
        if (Date.now() > until) throw new Error(`no series for ${query} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    stop,
  };
}

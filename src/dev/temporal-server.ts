// Starts `temporal server start-dev` on loopback with our search attributes, waits for it with its own deadline
// (the SDK's built-in start gives up after 5 s, too short for a cold start on a 2-core box) and stops it cleanly.
import type { ChildProcess } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { freePort } from './free-port';
import { spawnServer } from './server-process';
import { ensureTemporalCli } from './temporal-cli';

export const SEARCH_ATTRIBUTES = ['CvmflowApp=Keyword', 'CvmflowKind=Keyword', 'CvmflowPhase=Keyword'] as const;

/**
 * The dev server has one history shard, and each shard's queue readers load new tasks at most 20 times a second by
 * default: past a burst of about 40 tasks (a few seconds of a busy worker) every workflow task waited ~30 ms for its
 * transfer task to be read (bench/README.md, overhead: schedule-to-start in the histories, 2 ms → 30 ms, and back to
 * 2 ms with this set). A production cluster divides the same per-shard budget over its many shards.
 */
export const DEV_SERVER_DYNAMIC_CONFIG = {
  'history.transferProcessorMaxPollRPS': 1000,
  'history.timerProcessorMaxPollRPS': 1000,
} as const;

export interface DevServerOptions {
  namespace?: string;
  port?: number;
  /** Web UI port; undefined → headless. */
  uiPort?: number;
  /** The remote codec endpoint the Web UI decodes payloads with (the browser calls it). */
  uiCodecEndpoint?: string;
  /** SQLite database file; undefined → in-memory. */
  dbFile?: string;
  /** Faster, less durable SQLite (tests only). */
  fastSqlite?: boolean;
  /** Extra server dynamic config (`--dynamic-config-value key=value`), e.g. the history queues' poll rates. */
  dynamicConfig?: Record<string, string | number | boolean>;
  readyTimeoutMs?: number;
  cliPath?: string;
}

export interface DevServer {
  address: string;
  namespace: string;
  uiUrl?: string;
  pid: number;
  logTail(): string;
  stop(): Promise<void>;
}

export async function startTemporalDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const bin = opts.cliPath ?? ensureTemporalCli();
  const namespace = opts.namespace ?? 'default';
  const port = opts.port ?? (await freePort());
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
  ];
  args.push('--dynamic-config-value', 'frontend.enableServerVersionCheck=false');
  for (const [key, value] of Object.entries({ ...DEV_SERVER_DYNAMIC_CONFIG, ...opts.dynamicConfig }))
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  for (const sa of SEARCH_ATTRIBUTES) args.push('--search-attribute', sa);
  if (opts.uiPort !== undefined) args.push('--ui-port', String(opts.uiPort));
  else args.push('--headless');
  if (opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (opts.fastSqlite) args.push('--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF');

  const server = spawnServer(bin, args, { ...process.env, TEMPORAL_VERSION_CHECK_DISABLED: '1' });
  const { child, logTail } = server;
  const stop = () => server.stop(5000);
  const address = `127.0.0.1:${port}`;

  try {
    await waitReady(child, address, namespace, opts.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await stop();
    throw new Error(
      `Temporal dev server did not start: ${(err as Error).message}\n--- server log tail ---\n${logTail()}`,
    );
  }
  return {
    address,
    namespace,
    uiUrl: opts.uiPort !== undefined ? `http://127.0.0.1:${opts.uiPort}` : undefined,
    pid: child.pid ?? -1,
    logTail,
    stop,
  };
}

async function waitReady(child: ChildProcess, address: string, namespace: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no attempt';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      lastError = (err as Error).message;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`not ready within ${timeoutMs} ms (last error: ${lastError})`);
}

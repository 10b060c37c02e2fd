// The dashboard's HTTP server (`cvmflow ui`): the page and its assets without authentication (they hold no data and
// no secret), and under /api everything else behind the trigger endpoint's bearer-token check (constant-time):
//   GET  /api/snapshot   the current Snapshot as JSON
//   GET  /api/events     server-sent events: a `snapshot` event at once and whenever what the page shows changes
//   POST /api/action     one operator action (src/ui/actions.ts)
// The page sends the token in an Authorization header it adds itself (the operator pastes it, or it arrives in
// the URL's #fragment, which browsers never send): no cookie, so another site cannot make a browser act here
// (CSRF), and actions additionally require a JSON body and, when the browser names one, this server's own Origin.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Client } from '@temporalio/client';
import { HttpProblem, readBody } from '../http/body';
import { type Listening, listen } from '../http/listen';
import { authenticate } from '../trigger/auth';
import { ActionRefusedError, ActionRequestSchema, runAction } from './actions';
import { type Assets, loadAssets } from './assets';
import { readSnapshot, type Snapshot, type SnapshotSource } from './snapshot';

export interface UiServerOptions extends SnapshotSource {
  client: Client;
  token: string;
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** How often the server re-reads Temporal and the API while a page is open (default 1 s). */
  refreshMs?: number;
  log?: (line: string) => void;
}

export interface UiServer extends Listening {
  /** Reads the fleet now and pushes a changed snapshot to every open page. */
  refresh(): Promise<void>;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendText(res: ServerResponse, type: string, text: string): void {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const log = opts.log ?? (() => {});
  const host = opts.host ?? '127.0.0.1';
  let assets: Promise<Assets> | undefined;
  const streams = new Set<ServerResponse>();
  let latest: { snapshot: Snapshot; digest: string } | undefined;
  let reading: Promise<void> | undefined;

  // One read at a time, shared by every caller; pages get it only when it changed (the time stamp aside).
  const refresh = (): Promise<void> => {
    reading ??= readSnapshot(opts)
      .then((snapshot) => {
        const { atMs: _, ...content } = snapshot;
        const digest = createHash('sha256').update(JSON.stringify(content)).digest('hex');
        const changed = digest !== latest?.digest;
        latest = { snapshot, digest };
        if (changed) for (const res of streams) res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
      })
      .catch((err: unknown) => log(`reading the fleet failed: ${(err as Error).message}`))
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };
  const timer = setInterval(() => {
    if (streams.size > 0) void refresh();
  }, opts.refreshMs ?? 1_000);
  const keepAlive = setInterval(() => {
    for (const res of streams) res.write(': keep-alive\n\n');
  }, 15_000);

  function requireToken(req: IncomingMessage): void {
    const auth = authenticate({ token: opts.token }, req.headers, Buffer.alloc(0));
    if (!auth.ok) throw new HttpProblem(401, `unauthenticated: ${auth.problem}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && (path === '/' || path === '/app.js' || path === '/app.css')) {
      assets ??= loadAssets();
      const a = await assets;
      if (path === '/') return sendText(res, 'text/html; charset=utf-8', a.html);
      if (path === '/app.js') return sendText(res, 'text/javascript; charset=utf-8', a.js);
      return sendText(res, 'text/css; charset=utf-8', a.css);
    }
    if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { ok: true });
    if (!path.startsWith('/api/')) throw new HttpProblem(404, 'not found');
    requireToken(req);
    if (req.method === 'GET' && path === '/api/snapshot') {
      await refresh();
      if (!latest) throw new HttpProblem(503, 'the fleet could not be read; see the server log');
      return sendJson(res, 200, latest.snapshot);
    }
    if (req.method === 'GET' && path === '/api/events') {
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' });
      res.write(': connected\n\n');
      streams.add(res);
      // The response's close, not the request's: a GET's request side may close as soon as it has been read.
      res.on('close', () => streams.delete(res));
      if (latest) res.write(`event: snapshot\ndata: ${JSON.stringify(latest.snapshot)}\n\n`);
      void refresh();
      return;
    }
    if (req.method === 'POST' && path === '/api/action') {
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host}`)
        throw new HttpProblem(403, `actions are accepted from this dashboard's own page only, not from ${origin}`);
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? ''))
        throw new HttpProblem(415, 'send the action as application/json');
      const raw = await readBody(req, 16 * 1024);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpProblem(400, 'the body is not JSON');
      }
      const parsed = ActionRequestSchema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new HttpProblem(400, `${issue.path.join('.') || 'body'}: ${issue.message}`);
      }
      const action = parsed.data;
      try {
        const result = await runAction(opts.client, action);
        log(`${action.kind} ${action.target}: ${action.action} by ${action.by} — ${action.reason}`);
        void refresh();
        return sendJson(res, 200, { ok: true, result });
      } catch (err) {
        if (err instanceof ActionRefusedError) {
          log(`${action.kind} ${action.target}: ${action.action} by ${action.by} refused: ${err.message}`);
          return sendJson(res, 409, { refused: err.message });
        }
        throw err;
      }
    }
    throw new HttpProblem(404, 'not found');
  }

  const server = createServer({ headersTimeout: 10_000, connectionsCheckingInterval: 2_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpProblem ? err.status : 500;
      if (status === 500)
        log(`${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}: ${(err as Error).message}`);
      if (!res.headersSent)
        sendJson(res, status, {
          error: status === 500 ? 'internal error; see the server log' : (err as Error).message,
        });
    });
  });
  const listening = await listen(server, host, opts.port);
  return {
    ...listening,
    refresh,
    async close() {
      clearInterval(timer);
      clearInterval(keepAlive);
      for (const res of streams) res.end();
      streams.clear();
      await listening.close();
    },
  };
}

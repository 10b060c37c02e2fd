// The public API surface (node:http): everything under /api/v1 plus GET /health at the root. Order per request:
// route match (404/405) → X-API-Key (401) → X-Phala-Version (400) → injected faults → handler. Every response
// carries X-Request-ID and lands in the request log.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { SimCore } from './core';
import type { FiredFaults } from './faults';
import { detailError, HttpError } from './http/errors';
import { parseJsonBody, readRawBody, sendError, sendJson } from './http/io';
import { API_VERSIONS, type ApiVersion, DEFAULT_API_VERSION, type Workspace } from './model';
import { resolveCvm } from './resolve';
import { buildApiRouter } from './routes';
import type { ApiRequest, Handler } from './routes/types';

export const API_PREFIX = '/api/v1';

const FAULT_MESSAGES: Record<number, string> = {
  409: 'Another operation is in progress',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service temporarily unavailable',
  504: 'Gateway Timeout',
};

/** `//cvms//x` → `/cvms/x`: the TS SDK's SSE URL gets a double slash when baseURL ends in `/` (reference §1.2). */
export function splitUrl(rawUrl: string): { path: string; query: URLSearchParams } {
  const q = rawUrl.indexOf('?');
  const path = (q === -1 ? rawUrl : rawUrl.slice(0, q)).replace(/\/{2,}/g, '/');
  return { path, query: new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1)) };
}

function authenticate(core: SimCore, req: IncomingMessage): Workspace {
  const key = req.headers['x-api-key'];
  if (typeof key !== 'string' || key === '') {
    throw detailError(401, 'Not authenticated: send your API key in X-API-Key');
  }
  const ws = core.store.workspaceForKey(key);
  if (!ws) throw detailError(401, 'Invalid API key');
  return ws;
}

function apiVersion(req: IncomingMessage): ApiVersion {
  const v = req.headers['x-phala-version'];
  if (v === undefined || v === '') return DEFAULT_API_VERSION;
  if (typeof v === 'string' && (API_VERSIONS as readonly string[]).includes(v)) return v as ApiVersion;
  throw detailError(400, `Unsupported API version '${String(v)}'; supported: ${API_VERSIONS.join(', ')}`);
}

function faultError(fired: FiredFaults): HttpError | undefined {
  const f = fired.error;
  if (!f || f.status === undefined) return undefined;
  const headers: Record<string, string> = f.retryAfter !== undefined ? { 'Retry-After': String(f.retryAfter) } : {};
  return new HttpError(f.status, f.body ?? { detail: FAULT_MESSAGES[f.status] ?? `HTTP ${f.status}` }, headers);
}

export function createApiHandler(core: SimCore): RequestListener {
  const router = buildApiRouter();

  return (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const requestId = randomUUID();
    const { path, query } = splitUrl(req.url ?? '/');
    const method = req.method ?? 'GET';
    const entry = {
      route: null as string | null,
      keyId: null as string | null,
      version: null as ApiVersion | null,
      faults: [] as string[],
    };
    res.setHeader('X-Request-ID', requestId);
    res.on('close', () => {
      core.log.add({
        at: new Date().toISOString(),
        method,
        path,
        route: entry.route,
        query: query.toString(),
        status: res.statusCode,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        apiKeyId: entry.keyId,
        apiVersion: entry.version,
        requestId,
        faults: entry.faults,
      });
    });

    const run = async (): Promise<void> => {
      if (path === '/health') {
        sendJson(res, 200, { status: 'ok' });
        return;
      }
      const sub =
        path === API_PREFIX ? '/' : path.startsWith(`${API_PREFIX}/`) ? path.slice(API_PREFIX.length) : undefined;
      const match = sub === undefined ? undefined : router.match(method, sub);
      if (match === undefined) throw detailError(404, 'Not Found');
      if (match === 'method') throw detailError(405, 'Method Not Allowed');
      entry.route = match.pattern;
      const ws = authenticate(core, req);
      entry.keyId = ws.keyId;
      const version = apiVersion(req);
      entry.version = version;
      // The whole request is in before anything acts on it, as with a real server: an injected latency then holds a
      // received request, and a client that dies meanwhile still gets its CVM made (only the reply is lost).
      const raw = method === 'GET' || method === 'HEAD' ? undefined : await readRawBody(req);
      const fired = core.faults.fire({
        method,
        path: sub!,
        keyId: ws.keyId,
        cvm: match.params.id && core.faults.needsCvm() ? tryResolve(core, ws, match.params.id) : undefined,
      });
      entry.faults = fired.ids;
      if (fired.latencyMs > 0) await new Promise((r) => setTimeout(r, fired.latencyMs));
      const injected = faultError(fired);
      if (injected) throw injected;
      const reply = await invoke(raw, match.handler, {
        req,
        res,
        core,
        params: match.params,
        query,
        version,
        ws,
        requestId,
        sseFault: fired.sse,
      });
      if (reply !== 'streaming') sendJson(res, reply.status, reply.body, reply.headers);
    };

    run().catch((err: unknown) => {
      // The client went away mid-request (a killed worker): nothing to answer, nothing wrong with the server. (Not
      // `req.destroyed`: a request whose body has been read is destroyed too, and still wants its answer.)
      if (res.headersSent || !res.socket || res.socket.destroyed) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        sendError(res, err, requestId);
        return;
      }
      process.stderr.write(`simulator: ${method} ${path} failed: ${(err as Error).stack ?? String(err)}\n`);
      sendJson(res, 500, { detail: 'Internal Server Error' });
    });
  };
}

function tryResolve(core: SimCore, ws: Workspace, ident: string) {
  try {
    return resolveCvm(core.store.cvmsOf(ws.id), ident);
  } catch {
    return undefined;
  }
}

function invoke(received: string | undefined, handler: Handler, base: Omit<ApiRequest, 'rawBody' | 'json'>) {
  let raw: Promise<string> | undefined = received === undefined ? undefined : Promise.resolve(received);
  const rawBody = () => {
    raw ??= readRawBody(base.req);
    return raw;
  };
  return handler({ ...base, rawBody, json: async () => parseJsonBody(await rawBody()) });
}

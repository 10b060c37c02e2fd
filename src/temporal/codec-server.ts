// Temporal's remote codec endpoint for our payload codec, so the Temporal Web UI and `temporal --codec-endpoint` show
// decoded inputs, results and heartbeats while the server keeps only ciphertext. The protocol is Temporal's:
// `POST /encode` and `POST /decode` with `{"payloads": [{"metadata": {k: base64}, "data": base64}]}` in and out, the
// namespace in `X-Namespace` (or as the path's first segment, the CLI's `{namespace}` templating), and a CORS
// preflight from the browser the UI runs in. Anyone who reaches this server can decrypt, so by default it binds
// loopback only; bound anywhere else it demands a bearer token, compared in constant time. Only the UI's origins get
// CORS answers. Bodies are capped; neither the log nor an error ever carries a payload's content or the token.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { HttpProblem, readBody } from '../http/body';
import { listen } from '../http/listen';
import { safeEqual } from '../router/signing';

export const DEFAULT_CODEC_SERVER_PORT = 8888;
/** Temporal's UI decodes a page of history per request; 4 MiB holds any of ours with room to spare. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
export const MIN_TOKEN_LENGTH = 16;

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Default 127.0.0.1; anything but loopback needs `token`. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /**
   * Required on every request when set: `Authorization: Bearer <token>` (the CLI's `--codec-auth`), or as the
   * endpoint's first path segment (`http://host:port/<token>`), for the Web UI, which cannot add a header of ours.
   */
  token?: string;
  /** Browser origins allowed to call (the Temporal UI's), e.g. `http://localhost:8080`. Others get no CORS answer. */
  uiOrigins: readonly string[];
  /** When given, only these namespaces are served, and a request must name one. */
  namespaces?: readonly string[];
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

export interface CodecServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A setting that cannot work (an exposed bind without a token, a malformed origin): the CLI exits 2 on it. */
export class CodecServerConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost)$/i;
export const isLoopbackHost = (host: string) => LOOPBACK.test(host.replace(/^\[|\]$/g, ''));

/** The origin as browsers send it (`scheme://host[:port]`, no path); throws naming the bad value. */
export function normalizeOrigin(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CodecServerConfigError(
      `"${value}" is not an origin; write it as the UI's address, e.g. http://localhost:8080`,
    );
  }
  if (!/^https?:$/.test(url.protocol) || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash)
    throw new CodecServerConfigError(`"${value}" is not an origin: only http(s)://host[:port], without a path`);
  return url.origin;
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const NAMESPACE = /^[A-Za-z0-9._-]{1,255}$/;

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

/** Temporal's proto-JSON payloads into Payload objects; what is wrong is named by position, never by content. */
function fromJson(body: unknown): Payload[] {
  const payloads = (body as { payloads?: unknown } | null)?.payloads;
  if (typeof body !== 'object' || body === null || !Array.isArray(payloads))
    throw new HttpProblem(400, 'the body must be JSON {"payloads": [{"metadata": {…}, "data": "<base64>"}]}');
  return payloads.map((p: unknown, i) => {
    const where = `payloads[${i}]`;
    if (typeof p !== 'object' || p === null || Array.isArray(p))
      throw new HttpProblem(400, `${where} is not an object`);
    const { metadata, data } = p as JsonPayload;
    if (data != null && (typeof data !== 'string' || !BASE64.test(data)))
      throw new HttpProblem(400, `${where}.data must be base64`);
    const out: Payload = { metadata: {} };
    if (metadata != null) {
      if (typeof metadata !== 'object' || Array.isArray(metadata))
        throw new HttpProblem(400, `${where}.metadata must be an object of base64 values`);
      for (const [k, v] of Object.entries(metadata)) {
        if (typeof v !== 'string' || !BASE64.test(v))
          throw new HttpProblem(400, `${where}.metadata values must be base64`);
        out.metadata![k] = Buffer.from(v, 'base64');
      }
    }
    if (data != null) out.data = Buffer.from(data, 'base64');
    return out;
  });
}

function toJson(payloads: Payload[]): { payloads: JsonPayload[] } {
  return {
    payloads: payloads.map((p) => ({
      metadata: Object.fromEntries(
        Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
      ),
      data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
    })),
  };
}

const header = (req: IncomingMessage, name: string) => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

interface Route {
  op: 'encode' | 'decode';
  /** The path's first segment, if any: a namespace, or the token. */
  prefix?: string;
}

function route(req: IncomingMessage): Route | undefined {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const m = /^(?:\/([^/]+))?\/(encode|decode)\/?$/.exec(path);
  if (!m) return undefined;
  let prefix: string | undefined;
  try {
    prefix = m[1] ? decodeURIComponent(m[1]) : undefined;
  } catch {
    // A malformed %-escape names no namespace and no token: not a route of ours.
    return undefined;
  }
  return { op: m[2] as Route['op'], ...(prefix ? { prefix } : {}) };
}

/** Who may call, and in which namespace. An unauthenticated caller learns nothing about the body. */
function authorize(opts: CodecServerOptions, req: IncomingMessage, r: Route): { namespace?: string } {
  // A path segment that is the token is never read as a namespace, so it cannot reach a log line or an error.
  const prefixIsToken = opts.token !== undefined && r.prefix !== undefined && safeEqual(r.prefix, opts.token);
  const pathNamespace = prefixIsToken ? undefined : r.prefix;
  if (opts.token) {
    const authorization = header(req, 'authorization');
    const bearer = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
    if (bearer !== undefined) {
      if (!safeEqual(bearer, opts.token)) throw new HttpProblem(401, 'unknown token');
    } else if (!prefixIsToken) {
      throw new HttpProblem(
        401,
        'this codec server needs its token: send Authorization: Bearer <token> (temporal --codec-auth), or use http://host:port/<token> as the endpoint',
      );
    }
  }
  const namespace = header(req, 'x-namespace') ?? pathNamespace;
  if (namespace !== undefined && !NAMESPACE.test(namespace)) throw new HttpProblem(400, 'X-Namespace is malformed');
  if (opts.namespaces?.length) {
    if (namespace === undefined)
      throw new HttpProblem(400, `name the namespace: X-Namespace (one of ${opts.namespaces.join(', ')})`);
    if (!opts.namespaces.includes(namespace))
      throw new HttpProblem(403, `namespace ${namespace} is not served here (${opts.namespaces.join(', ')})`);
  }
  return namespace === undefined ? {} : { namespace };
}

/** CORS headers for an allowed origin; undefined for a request without one (a CLI, curl). Throws for others. */
function corsHeaders(opts: CodecServerOptions, req: IncomingMessage): Record<string, string> | undefined {
  const origin = header(req, 'origin');
  if (origin === undefined) return undefined;
  if (!opts.uiOrigins.includes(origin)) throw new HttpProblem(403, 'this origin may not call the codec server');
  return {
    'access-control-allow-origin': origin,
    // The UI's "include cross-origin credentials" setting makes the browser demand this; `*` would not do.
    'access-control-allow-credentials': 'true',
    vary: 'Origin',
  };
}

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...extra,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    // Decoded payloads are plaintext: no browser or proxy cache may keep them.
    'cache-control': 'no-store',
  });
  res.end(text);
}

function preflight(opts: CodecServerOptions, req: IncomingMessage, res: ServerResponse): number {
  const cors = corsHeaders(opts, req);
  const headers: Record<string, string> = {
    ...cors,
    'access-control-allow-methods': 'POST, OPTIONS',
    'access-control-allow-headers': 'content-type, x-namespace, authorization',
    'access-control-max-age': '600',
  };
  // Chromium's Private Network Access asks before a page reaches a more private address than its own.
  if (cors && header(req, 'access-control-request-private-network') === 'true')
    headers['access-control-allow-private-network'] = 'true';
  res.writeHead(204, headers);
  res.end();
  return 204;
}

interface Outcome {
  status: number;
  /** For the log: how many payloads and bytes went through, and the namespace; never their content. */
  note: string;
}

async function handle(opts: CodecServerOptions, req: IncomingMessage, res: ServerResponse): Promise<Outcome> {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (req.method === 'GET' && path === '/healthz') {
    send(res, 200, { ok: true });
    return { status: 200, note: 'healthz' };
  }
  const r = route(req);
  if (!r) throw new HttpProblem(404, 'POST /encode or /decode (optionally under /<namespace>/)');
  if (req.method === 'OPTIONS') return { status: preflight(opts, req, res), note: `${r.op} preflight` };
  if (req.method !== 'POST') throw new HttpProblem(405, 'use POST');
  const cors = corsHeaders(opts, req);
  try {
    const { namespace } = authorize(opts, req, r);
    const raw = await readBody(req, opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new HttpProblem(400, 'the body is not JSON');
    }
    const payloads = fromJson(body);
    let converted: Payload[];
    try {
      converted = r.op === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
    } catch (err) {
      // The codec's own messages name key ids and positions, never content (see codec.ts); a key id is the
      // caller's text, so it is kept printable and short before it reaches the log.
      const reason = (err as Error).message.replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
      throw new HttpProblem(400, `cannot ${r.op}: ${reason}`);
    }
    send(res, 200, toJson(converted), cors);
    return {
      status: 200,
      note: `${r.op} ${payloads.length} payload(s), ${raw.length} bytes${namespace ? `, namespace ${namespace}` : ''}`,
    };
  } catch (err) {
    // The UI's origin must be able to read why it failed.
    if (err instanceof HttpProblem) Object.assign(err, { cors });
    throw err;
  }
}

export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const host = opts.host ?? '127.0.0.1';
  if (opts.token !== undefined && opts.token.length < MIN_TOKEN_LENGTH)
    throw new CodecServerConfigError(
      `the codec server token is shorter than ${MIN_TOKEN_LENGTH} characters; use a random one (openssl rand -hex 32)`,
    );
  if (!isLoopbackHost(host) && !opts.token)
    throw new CodecServerConfigError(
      `--host ${host}: a codec server beyond loopback decrypts for anyone who reaches it; set CVMFLOW_CODEC_SERVER_TOKEN (or --token-file), or bind 127.0.0.1`,
    );
  const uiOrigins = opts.uiOrigins.map(normalizeOrigin);
  const o: CodecServerOptions = { ...opts, uiOrigins };
  const log = opts.log ?? (() => {});
  // A client that trickles its headers or body must not hold a connection for minutes (checked every 2 s).
  const server: Server = createServer(
    { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 2_000 },
    (req, res) => {
      const started = Date.now();
      handle(o, req, res)
        .then(({ status, note }) => log(`${req.method} → ${status} (${note}, ${Date.now() - started} ms)`))
        .catch((err: unknown) => {
          const status = err instanceof HttpProblem ? err.status : 500;
          const message = (err as Error).message;
          // The path is left out: it may hold the token.
          log(`${req.method} → ${status}: ${message}`);
          if (!res.headersSent)
            send(
              res,
              status,
              { error: status === 500 ? 'internal error; see the codec server log' : message },
              (err as { cors?: Record<string, string> }).cors,
            );
        });
    },
  );
  return listen(server, host, opts.port);
}

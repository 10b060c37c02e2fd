// The HTTP trigger server (`cvmflow serve`): CI systems and webhooks start blue-green deployments with
//   POST /v1/bluegreen/<app>   {"compose": "<docker compose text>"?, "reason": "…"?, "by": "…"?}
// authenticated by bearer token or HMAC signature, identified by a delivery id (`X-Cvmflow-Delivery` or GitHub's
// `X-GitHub-Delivery`), and answered with the workflow id. The body is capped, and read in full before anything
// else happens only after its size is known to fit. What a trigger does is the injected handler's business.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { HttpProblem, readBody } from '../http/body';
import { listen } from '../http/listen';
import { authenticate, type TriggerAuth } from './auth';

export interface TriggerRequest {
  app: string;
  deliveryId: string;
  /** A new Docker Compose text for this deployment; absent = the spec's own. */
  compose?: string;
  reason: string;
  /** Who triggered, as far as the server can tell: the claimed name plus how the request was authenticated. */
  by: string;
  /**
   * What makes the trigger happen at most once. For a signed webhook it is the body's digest, not the delivery id:
   * the signature covers the body only, so someone replaying a captured delivery under a fresh delivery id still
   * gets the first delivery's answer instead of a new deployment. For a bearer token it is the delivery id.
   */
  replayKey: string;
}

export interface TriggerAnswer {
  status: number;
  body: Record<string, unknown>;
}

export type TriggerHandler = (req: TriggerRequest) => Promise<TriggerAnswer>;

export interface TriggerServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  auth: TriggerAuth;
  /** Apps this server may deploy (the specs it was started with). */
  apps: readonly string[];
  handle: TriggerHandler;
  /** Largest accepted body; larger ones get 413 without being read. Default 256 KiB (compose files fit). */
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

export interface TriggerServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DELIVERY_HEADERS = ['x-cvmflow-delivery', 'x-github-delivery'] as const;
const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const DEFAULT_MAX_BODY = 256 * 1024;

const clean = (value: unknown, max: number) =>
  typeof value === 'string'
    ? value
        .replace(/[^\x20-\x7e]/g, '')
        .slice(0, max)
        .trim()
    : '';

/** The path without its query: a query string may carry what someone should not have put in a URL. */
const pathOf = (req: IncomingMessage) => new URL(req.url ?? '/', 'http://x').pathname;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(opts: TriggerServerOptions, req: IncomingMessage): Promise<TriggerAnswer> {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (req.method === 'GET' && path === '/healthz') return { status: 200, body: { ok: true } };
  const match = /^\/v1\/bluegreen\/([^/]+)$/.exec(path);
  if (!match) throw new HttpProblem(404, 'POST /v1/bluegreen/<app>');
  if (req.method !== 'POST') throw new HttpProblem(405, 'use POST');
  const raw = await readBody(req, opts.maxBodyBytes ?? DEFAULT_MAX_BODY);
  // Authentication comes before anything the body says: an unauthenticated request learns nothing.
  const auth = authenticate(opts.auth, req.headers, raw);
  if (!auth.ok) throw new HttpProblem(401, `unauthenticated: ${auth.problem}`);
  const app = decodeURIComponent(match[1]!);
  if (!opts.apps.includes(app)) throw new HttpProblem(404, `this server has no BlueGreen spec for ${app}`);
  const deliveryId = DELIVERY_HEADERS.map((h) => req.headers[h]).find((v) => typeof v === 'string');
  if (typeof deliveryId !== 'string' || !DELIVERY_ID.test(deliveryId))
    throw new HttpProblem(400, `send a delivery id (${DELIVERY_HEADERS.join(' or ')}: 1-128 letters, digits, . _ : -)`);
  let body: Record<string, unknown> = {};
  if (raw.length) {
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new HttpProblem(400, 'the body is not JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new HttpProblem(400, 'the body must be a JSON object');
  }
  if (body.compose !== undefined && (typeof body.compose !== 'string' || !body.compose.trim()))
    throw new HttpProblem(400, 'compose must be the Docker Compose text');
  const claimed = clean(body.by, 100) || 'ci';
  return opts.handle({
    app,
    deliveryId,
    replayKey:
      auth.method === 'hmac' ? `body-${createHash('sha256').update(raw).digest('hex').slice(0, 40)}` : deliveryId,
    ...(typeof body.compose === 'string' ? { compose: body.compose } : {}),
    reason: clean(body.reason, 500) || `delivery ${deliveryId}`,
    by: `${claimed} via webhook (${auth.method})`,
  });
}

export async function startTriggerServer(opts: TriggerServerOptions): Promise<TriggerServer> {
  const log = opts.log ?? (() => {});
  // A client that trickles its headers or body must not hold a connection for minutes (checked every 2 s).
  const server: Server = createServer(
    { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 2_000 },
    (req, res) => {
      handle(opts, req)
        .then((answer) => {
          log(`${req.method} ${pathOf(req)} → ${answer.status}`);
          send(res, answer.status, answer.body);
        })
        .catch((err: unknown) => {
          const status = err instanceof HttpProblem ? err.status : 500;
          const message = (err as Error).message;
          log(`${req.method} ${pathOf(req)} → ${status}: ${message}`);
          // An unexpected failure's message is for the operator's log, not for whoever sent the request.
          if (!res.headersSent)
            send(res, status, { error: status === 500 ? 'internal error; see the server log' : message });
        });
    },
  );

  const host = opts.host ?? '127.0.0.1';
  return listen(server, host, opts.port);
}

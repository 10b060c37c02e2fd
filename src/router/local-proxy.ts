// A reverse proxy on loopback that plays the user's load balancer: per app, one port for the active route and one
// for the preview route, switched by signed route tables on a control port (the same JSON the webhook router
// sends). A switch only changes where the *next* request goes; requests in flight finish on the deployment they
// started on, which stays up (blue is kept warm after a promotion), so no request fails while switching.
import { once } from 'node:events';
import { Agent, createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { signatureProblem } from './signing';
import type { RouteTable, Upstream } from './types';

export interface LocalProxyApp {
  /** 0 picks a free port. */
  activePort: number;
  previewPort: number;
}

export interface LocalProxyOptions {
  host?: string;
  /** 0 picks a free port. */
  controlPort: number;
  /** HMAC key route tables must be signed with. */
  secret: string;
  apps: Record<string, LocalProxyApp>;
  /** Called before a new table takes effect (tests hold a switch here to crash the worker mid-switch). */
  beforeApply?: (table: RouteTable) => Promise<void>;
  /** Upper bound for a control request body. */
  maxControlBytes?: number;
}

export interface ProxyStats {
  /** Requests answered per upstream name, per route. */
  served: Record<'active' | 'preview', Record<string, number>>;
  /** Requests that could not be answered by an upstream (none configured, or it failed). */
  failed: Record<'active' | 'preview', number>;
}

type Role = 'active' | 'preview';
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** The port the server listens on; `once` rejects with the server's error instead (a port in use). */
async function listen(server: Server, host: string, port: number): Promise<number> {
  server.listen(port, host);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

const send = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

export class LocalProxy {
  private readonly tables = new Map<string, RouteTable>();
  private readonly history = new Map<string, RouteTable[]>();
  private readonly stats = new Map<string, ProxyStats>();
  private readonly ports = new Map<string, { active: number; preview: number }>();
  private readonly servers: Server[] = [];
  private readonly agent = new Agent({ keepAlive: true });
  private controlPort = 0;
  private closed?: Promise<void>;

  private constructor(private readonly opts: LocalProxyOptions & { host: string }) {}

  static async start(options: LocalProxyOptions): Promise<LocalProxy> {
    const proxy = new LocalProxy({ host: '127.0.0.1', ...options });
    try {
      await proxy.listenAll();
    } catch (err) {
      await proxy.close();
      throw err;
    }
    return proxy;
  }

  private async listenAll(): Promise<void> {
    const { host } = this.opts;
    const control = createServer((req, res) => this.control(req, res));
    this.servers.push(control);
    this.controlPort = await listen(control, host, this.opts.controlPort);
    for (const [app, ports] of Object.entries(this.opts.apps)) {
      this.stats.set(app, { served: { active: {}, preview: {} }, failed: { active: 0, preview: 0 } });
      const bound = { active: 0, preview: 0 };
      for (const role of ['active', 'preview'] as const) {
        const server = createServer((req, res) => this.forward(app, role, req, res));
        server.keepAliveTimeout = 5_000;
        this.servers.push(server);
        bound[role] = await listen(server, host, role === 'active' ? ports.activePort : ports.previewPort);
      }
      this.ports.set(app, bound);
    }
  }

  private hostUrl(port: number): string {
    const h = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `http://${h}:${port}`;
  }

  /** The control endpoint the router config's `controlUrl` names. */
  get controlUrl(): string {
    return this.hostUrl(this.controlPort);
  }

  /** Where users (and curl) reach an app's routes. */
  urls(app: string): { active: string; preview: string } {
    const p = this.ports.get(app);
    if (!p) throw new Error(`the local proxy does not serve app ${app}`);
    return { active: this.hostUrl(p.active), preview: this.hostUrl(p.preview) };
  }

  /** The table in effect for an app. */
  table(app: string): RouteTable | undefined {
    return this.tables.get(app);
  }

  /** Every table applied for an app, oldest first. */
  applied(app: string): RouteTable[] {
    return [...(this.history.get(app) ?? [])];
  }

  statsOf(app: string): ProxyStats {
    return structuredClone(
      this.stats.get(app) ?? { served: { active: {}, preview: {} }, failed: { active: 0, preview: 0 } },
    );
  }

  // ----------------------------------------------------------------------------------------------------------
  // Control: POST /routes (a signed table), GET /routes/<app> (signed, empty body)

  private control(req: IncomingMessage, res: ServerResponse): void {
    const limit = this.opts.maxControlBytes ?? 64 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      if (tooLarge) return send(res, 413, { error: `route tables are at most ${limit} bytes` });
      const body = Buffer.concat(chunks).toString('utf8');
      this.handleControl(req, body)
        .then(([status, answer]) => send(res, status, answer))
        .catch((err: Error) => send(res, 500, { error: err.message }));
    });
  }

  private async handleControl(req: IncomingMessage, body: string): Promise<[number, unknown]> {
    const problem = signatureProblem(this.opts.secret, req.headers, body);
    if (problem) return [401, { error: `unauthenticated: ${problem}` }];
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && path.startsWith('/routes/')) {
      const app = decodeURIComponent(path.slice('/routes/'.length));
      if (!this.ports.has(app)) return [404, { error: `the local proxy does not serve app ${app}` }];
      return [200, this.tables.get(app) ?? { app, generation: 0, active: null, preview: null, reason: 'none yet' }];
    }
    if (req.method !== 'POST' || path !== '/routes') return [404, { error: 'POST /routes or GET /routes/<app>' }];
    let table: RouteTable;
    try {
      table = checkTable(JSON.parse(body));
    } catch (err) {
      return [400, { error: `not a route table: ${(err as Error).message}` }];
    }
    if (!this.ports.has(table.app)) return [404, { error: `the local proxy does not serve app ${table.app}` }];
    const current = this.tables.get(table.app);
    if (current && table.generation < current.generation)
      return [409, { error: `generation ${table.generation} is older than ${current.generation}`, current }];
    if (current && table.generation === current.generation)
      return [200, { generation: table.generation, changed: false }];
    await this.opts.beforeApply?.(table);
    // Re-checked: another table may have landed while beforeApply held this one.
    const now = this.tables.get(table.app);
    if (now && table.generation < now.generation)
      return [409, { error: `generation ${table.generation} is older than ${now.generation}`, current: now }];
    this.tables.set(table.app, table);
    const list = this.history.get(table.app) ?? [];
    list.push(table);
    this.history.set(table.app, list);
    return [200, { generation: table.generation, changed: true }];
  }

  // ----------------------------------------------------------------------------------------------------------
  // Data path

  private forward(app: string, role: Role, req: IncomingMessage, res: ServerResponse): void {
    const stats = this.stats.get(app)!;
    // Read once: the whole request goes to the upstream that was current when it arrived.
    const upstream: Upstream | null | undefined = this.tables.get(app)?.[role];
    if (!upstream) {
      stats.failed[role]++;
      req.resume();
      send(res, 503, { error: `no ${role} deployment of ${app} yet` });
      return;
    }
    const target = new URL(upstream.url);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers['x-forwarded-host'] = req.headers.host ?? '';
    const forwarder = target.protocol === 'https:' ? httpsRequest : request;
    const out = forwarder(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: `${target.pathname.replace(/\/+$/, '')}${req.url ?? '/'}`,
        headers,
        agent: target.protocol === 'http:' ? this.agent : undefined,
      },
      (up) => {
        const back: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) back[k] = v;
        back['x-cvmflow-upstream'] = upstream.name;
        res.writeHead(up.statusCode ?? 502, back);
        up.pipe(res);
        up.on('end', () => {
          stats.served[role][upstream.name] = (stats.served[role][upstream.name] ?? 0) + 1;
        });
      },
    );
    out.on('error', (err) => {
      stats.failed[role]++;
      if (!res.headersSent) send(res, 502, { error: `upstream ${upstream.name}: ${err.message}` });
      else res.destroy();
    });
    req.pipe(out);
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await Promise.all(
        this.servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
      this.agent.destroy();
    })();
    return this.closed;
  }
}

function checkTable(value: unknown): RouteTable {
  const t = value as Partial<RouteTable> | null;
  if (!t || typeof t !== 'object') throw new Error('expected a JSON object');
  if (typeof t.app !== 'string' || !t.app) throw new Error('app must be a non-empty string');
  if (typeof t.generation !== 'number' || !Number.isSafeInteger(t.generation) || t.generation < 0)
    throw new Error('generation must be a non-negative integer');
  for (const role of ['active', 'preview'] as const) {
    const u = t[role];
    if (u === null || u === undefined) continue;
    if (typeof u.name !== 'string' || typeof u.url !== 'string') throw new Error(`${role} needs name and url`);
    const url = new URL(u.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${role}.url must be an http(s) URL`);
  }
  return {
    app: t.app,
    generation: t.generation,
    active: t.active ?? null,
    preview: t.preview ?? null,
    reason: typeof t.reason === 'string' ? t.reason : '',
  };
}

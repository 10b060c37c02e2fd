// What runs inside the simulated CVMs: every running CVM serves a tiny HTTP app on loopback that reports its
// version (app name + compose hash), so health checks, analysis and traffic routers have something real to talk to.
// One server serves them all: `/app/<appId>/…` is the app's endpoint (spread over its running CVMs, like Phala's
// gateway), `/cvm/<instanceId>/…` one CVM's. These URLs replace the gateway URLs in the CVM's `public_urls` /
// `endpoints`. `/health` answers the status the admin API sets (200 by default), after the latency it sets.
// `/metrics` (per CVM or per app) is Prometheus' text format: request and error counters and a latency histogram of
// synthetic traffic (REQUESTS_PER_S per CVM) whose error rate and latency the admin API sets (errorRate,
// requestLatencyMs); `/sd/prometheus` lists the running CVMs' metrics for Prometheus' http_sd_configs.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SimCore } from './core';
import { detailError } from './http/errors';
import type { Cvm } from './model';

/** A behaviour for the CVMs a rule matches; later rules win. */
export interface AppRule {
  id: string;
  /** `name` is a glob over CVM names (`web-green-*`); `cvm` a vm_uuid or instance id. */
  match: { name?: string; cvm?: string };
  /** Status `/health` answers. */
  health?: number;
  /** Added before every answer. */
  latencyMs?: number;
  /** Share (0-1) of the synthetic requests `/metrics` counts as errors (status 500). */
  errorRate?: number;
  /** Latency of the synthetic requests `/metrics` records in its histogram. */
  requestLatencyMs?: number;
}

/** Synthetic traffic per CVM, counted in `/metrics` as time passes between scrapes. */
const REQUESTS_PER_S = 20;
const BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One CVM version's counters: a new compose hash starts a new series, as a restarted app would. */
interface Traffic {
  atMs: number;
  owed: number;
  owedErrors: number;
  requests: number;
  errors: number;
  buckets: number[];
  sumS: number;
}

export interface AppEndpointView {
  name: string;
  vmUuid: string;
  status: string;
  composeHash: string;
  app: string;
  instance: string;
}

const HEALTH_PATHS = new Set(['/health', '/healthz']);

const registry = new WeakMap<SimCore, AppEndpoints>();

export class AppEndpoints {
  private server?: Server;
  private base = '';
  private rules: AppRule[] = [];
  private nextRule = 1;
  private readonly turn = new Map<string, number>();
  private readonly traffic = new Map<string, Traffic>();

  constructor(private readonly core: SimCore) {}

  async start(host: string): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => reply(res, 500, { error: err.message }));
    });
    server.keepAliveTimeout = 5_000;
    this.server = server;
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
    });
    this.base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    registry.set(this.core, this);
  }

  get url(): string {
    return this.base;
  }

  /** The endpoints the API reports for a CVM. */
  endpointsOf(cvm: Cvm): { app: string; instance: string } {
    return {
      app: `${this.base}/app/${encodeURIComponent(cvm.appId)}`,
      instance: `${this.base}/cvm/${encodeURIComponent(cvm.instanceId)}`,
    };
  }

  list(): AppEndpointView[] {
    return [...this.core.store.cvms.values()].map((c) => ({
      name: c.name,
      vmUuid: c.vmUuid,
      status: c.status,
      composeHash: c.composeHash,
      ...this.endpointsOf(c),
    }));
  }

  addRule(input: unknown): AppRule {
    const rule = parseRule(input, `r${this.nextRule}`);
    this.nextRule++;
    this.rules.push(rule);
    return rule;
  }

  listRules(): AppRule[] {
    return this.rules.map((r) => ({ ...r, match: { ...r.match } }));
  }

  removeRule(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length < before;
  }

  clearRules(): void {
    this.rules = [];
  }

  private behaviour(cvm: Cvm): { health: number; latencyMs: number; errorRate: number; requestLatencyMs: number } {
    const out = { health: 200, latencyMs: 0, errorRate: 0, requestLatencyMs: 20 };
    for (const r of this.rules) {
      if (r.match.cvm !== undefined && r.match.cvm !== cvm.vmUuid && r.match.cvm !== cvm.instanceId) continue;
      if (r.match.name !== undefined && !globMatch(r.match.name, cvm.name)) continue;
      if (r.health !== undefined) out.health = r.health;
      if (r.latencyMs !== undefined) out.latencyMs = r.latencyMs;
      if (r.errorRate !== undefined) out.errorRate = r.errorRate;
      if (r.requestLatencyMs !== undefined) out.requestLatencyMs = r.requestLatencyMs;
    }
    return out;
  }

  private pick(kind: string, id: string): Cvm | undefined {
    const live = [...this.core.store.cvms.values()].filter((c) => c.status === 'running');
    if (kind === 'cvm') return live.find((c) => c.instanceId === id);
    const members = live.filter((c) => c.appId === id);
    if (!members.length) return undefined;
    // Round robin over the app's running CVMs, as Phala's gateway spreads an app's traffic.
    const n = (this.turn.get(id) ?? 0) % members.length;
    this.turn.set(id, n + 1);
    return members[n];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/sd/prometheus') return reply(res, 200, this.scrapeTargets());
    const [, kind, rawId, ...rest] = url.pathname.split('/');
    if ((kind !== 'app' && kind !== 'cvm') || !rawId) return reply(res, 404, { error: 'no such app endpoint' });
    const cvm = this.pick(kind, decodeURIComponent(rawId));
    // What a client of a stopped or missing CVM sees through the gateway.
    if (!cvm) return reply(res, 503, { error: `no running CVM behind ${kind} ${rawId}` });
    const path = `/${rest.join('/')}`;
    // Scrapes are not app traffic: they answer at once, whatever latency the app is given.
    if (path === '/metrics') return this.metrics(res, kind === 'cvm' ? [cvm] : this.members(cvm.appId));
    const { health, latencyMs } = this.behaviour(cvm);
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    const identity = { app: cvm.name, version: cvm.composeHash, cvmId: cvm.vmUuid };
    if (HEALTH_PATHS.has(path)) return reply(res, health, { ...identity, healthy: health < 400 });
    reply(res, 200, { ...identity, path });
  }

  private members(appId: string): Cvm[] {
    const app = this.core.store.apps.get(appId);
    return app ? this.core.store.cvmsOfApp(app.workspaceId, appId).filter((c) => c.status === 'running') : [];
  }

  /** Prometheus http_sd: one target per running CVM, its own /metrics. */
  private scrapeTargets() {
    const hostPort = this.base.replace(/^http:\/\//, '');
    return [...this.core.store.cvms.values()]
      .filter((c) => c.status === 'running')
      .map((c) => ({
        targets: [hostPort],
        labels: { __metrics_path__: `/cvm/${encodeURIComponent(c.instanceId)}/metrics` },
      }));
  }

  /** Advances a CVM's synthetic traffic to now, with its current error rate and latency. */
  private advance(cvm: Cvm): Traffic {
    const key = `${cvm.vmUuid}/${cvm.composeHash}`;
    const now = Date.now();
    const t = this.traffic.get(key) ?? {
      atMs: now,
      owed: 0,
      owedErrors: 0,
      requests: 0,
      errors: 0,
      buckets: BUCKETS_S.map(() => 0),
      sumS: 0,
    };
    this.traffic.set(key, t);
    const { errorRate, requestLatencyMs } = this.behaviour(cvm);
    t.owed += ((now - t.atMs) / 1000) * REQUESTS_PER_S;
    t.atMs = now;
    const n = Math.floor(t.owed);
    t.owed -= n;
    t.owedErrors += n * errorRate;
    const errors = Math.floor(t.owedErrors);
    t.owedErrors -= errors;
    t.requests += n;
    t.errors += errors;
    const seconds = requestLatencyMs / 1000;
    for (const [i, le] of BUCKETS_S.entries()) if (seconds <= le) t.buckets[i]! += n;
    t.sumS += n * seconds;
    return t;
  }

  private metrics(res: ServerResponse, cvms: Cvm[]): void {
    const lines = [
      '# HELP http_requests_total Requests the app served, by status code.',
      '# TYPE http_requests_total counter',
    ];
    const hist = [
      '# HELP http_request_duration_seconds Latency of the requests the app served.',
      '# TYPE http_request_duration_seconds histogram',
    ];
    for (const cvm of cvms) {
      const t = this.advance(cvm);
      const labels = `app="${cvm.name}",cvm="${cvm.vmUuid}",version="${cvm.composeHash}"`;
      lines.push(`http_requests_total{${labels},code="200"} ${t.requests - t.errors}`);
      lines.push(`http_requests_total{${labels},code="500"} ${t.errors}`);
      for (const [i, le] of BUCKETS_S.entries())
        hist.push(`http_request_duration_seconds_bucket{${labels},le="${le}"} ${t.buckets[i]}`);
      hist.push(`http_request_duration_seconds_bucket{${labels},le="+Inf"} ${t.requests}`);
      hist.push(`http_request_duration_seconds_sum{${labels}} ${t.sumS}`);
      hist.push(`http_request_duration_seconds_count{${labels}} ${t.requests}`);
    }
    const text = `${[...lines, ...hist].join('\n')}\n`;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function globMatch(glob: string, name: string): boolean {
  const pattern = glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${pattern.join('.*')}$`).test(name);
}

function parseRule(input: unknown, id: string): AppRule {
  const r = (input ?? {}) as Partial<AppRule>;
  const match = (r.match ?? {}) as AppRule['match'];
  const bad = (msg: string) => detailError(400, msg);
  if (typeof match !== 'object' || (match.name === undefined && match.cvm === undefined))
    throw bad('match needs name (a glob over CVM names) or cvm (a vm_uuid or instance id)');
  if (match.name !== undefined && typeof match.name !== 'string') throw bad('match.name must be a string');
  if (match.cvm !== undefined && typeof match.cvm !== 'string') throw bad('match.cvm must be a string');
  if (r.health !== undefined && !(Number.isInteger(r.health) && r.health >= 100 && r.health <= 599))
    throw bad('health must be an HTTP status (100-599)');
  if (r.latencyMs !== undefined && !(Number.isFinite(r.latencyMs) && r.latencyMs >= 0 && r.latencyMs <= 600_000))
    throw bad('latencyMs must be 0-600000');
  if (r.errorRate !== undefined && !(Number.isFinite(r.errorRate) && r.errorRate >= 0 && r.errorRate <= 1))
    throw bad('errorRate must be 0-1');
  if (
    r.requestLatencyMs !== undefined &&
    !(Number.isFinite(r.requestLatencyMs) && r.requestLatencyMs >= 0 && r.requestLatencyMs <= 600_000)
  )
    throw bad('requestLatencyMs must be 0-600000');
  if ([r.health, r.latencyMs, r.errorRate, r.requestLatencyMs].every((x) => x === undefined))
    throw bad('give health, latencyMs, errorRate and/or requestLatencyMs');
  return {
    id,
    match: { ...(match.name !== undefined ? { name: match.name } : {}), ...(match.cvm ? { cvm: match.cvm } : {}) },
    ...(r.health !== undefined ? { health: r.health } : {}),
    ...(r.latencyMs !== undefined ? { latencyMs: r.latencyMs } : {}),
    ...(r.errorRate !== undefined ? { errorRate: r.errorRate } : {}),
    ...(r.requestLatencyMs !== undefined ? { requestLatencyMs: r.requestLatencyMs } : {}),
  };
}

/** Starts the app server of a simulator core; the API then reports its URLs as the CVMs' endpoints. */
export async function startAppEndpoints(core: SimCore, host: string): Promise<AppEndpoints> {
  const apps = new AppEndpoints(core);
  await apps.start(host);
  return apps;
}

/** The loopback endpoints of a CVM, when its simulator serves app endpoints. */
export function localEndpoints(core: SimCore, cvm: Cvm): { app: string; instance: string } | undefined {
  return registry.get(core)?.endpointsOf(cvm);
}

interface AdminContext {
  core: SimCore;
  params: Record<string, string>;
  body(): Promise<unknown>;
}
type AdminRoute = (r: AdminContext) => Promise<[number, unknown?]> | [number, unknown?];

/**
 * The admin API's part: `GET /admin/apps` (endpoints and rules), `POST /admin/apps/rules`
 * (`{match: {name | cvm}, health?, latencyMs?, errorRate?, requestLatencyMs?}`), `DELETE /admin/apps/rules[/<id>]`.
 */
export function addAppEndpointRoutes<R extends { add(method: string, pattern: string, handler: AdminRoute): unknown }>(
  router: R,
): R {
  const of = (core: SimCore) => {
    const apps = registry.get(core);
    if (!apps) throw detailError(404, 'app endpoints are not running in this simulator');
    return apps;
  };
  const routes: [string, string, AdminRoute][] = [
    ['GET', '/admin/apps', ({ core }) => [200, { endpoints: of(core).list(), rules: of(core).listRules() }]],
    ['POST', '/admin/apps/rules', async ({ core, body }) => [201, of(core).addRule(await body())]],
    [
      'DELETE',
      '/admin/apps/rules',
      ({ core }) => {
        of(core).clearRules();
        return [204];
      },
    ],
    [
      'DELETE',
      '/admin/apps/rules/:id',
      ({ core, params }) => {
        if (!of(core).removeRule(params.id!)) throw detailError(404, `No app rule with id ${params.id}`);
        return [204];
      },
    ],
  ];
  for (const [method, pattern, handler] of routes) router.add(method, pattern, handler);
  return router;
}

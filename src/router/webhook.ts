// Routers reached over HTTP. The webhook router POSTs the signed route table to the user's load balancer or DNS
// automation and waits for its 2xx; the local router does the same against cvmflow's own reverse proxy, then
// reads the routes back, because that receiver can prove traffic follows the table.
import { request } from 'undici';
import { signedHeaders } from './signing';
import { type RouterAck, RouterError, type RouteTable, type TrafficRouter } from './types';

export interface HttpRouterOptions {
  url: string;
  /** The HMAC key. Callers read it from the environment; it is never logged or put in an error. */
  secret: string;
  timeoutMs: number;
}

// Confirmations are small JSON; a receiver answering more gets its answer cut, not buffered whole.
const bodyOf = async (res: { body: { text(): Promise<string> } }) => (await res.body.text()).slice(0, 64 * 1024);
const excerpt = (text: string) => text.slice(0, 300);

export class WebhookRouter implements TrafficRouter {
  constructor(protected readonly opts: HttpRouterOptions) {}

  describe(): string {
    return `webhook ${redact(this.opts.url)}`;
  }

  async apply(table: RouteTable, signal?: AbortSignal): Promise<RouterAck> {
    const started = Date.now();
    const { status } = await this.send('POST', this.opts.url, JSON.stringify(table), signal);
    return { router: this.describe(), generation: table.generation, status, tookMs: Date.now() - started };
  }

  protected async send(
    method: 'POST' | 'GET',
    url: string,
    body: string,
    signal?: AbortSignal,
  ): Promise<{ status: number; text: string }> {
    const where = `${this.describe()} (${method})`;
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, {
        method,
        headers: { 'content-type': 'application/json', ...signedHeaders(this.opts.secret, body) },
        body: method === 'POST' ? body : undefined,
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
        signal: signal ?? AbortSignal.timeout(this.opts.timeoutMs),
      });
    } catch (err) {
      throw new RouterError('ROUTER_UNREACHABLE', `${where}: ${(err as Error).message}`, true);
    }
    const text = await bodyOf(res);
    if (res.statusCode >= 200 && res.statusCode < 300) return { status: res.statusCode, text };
    if (res.statusCode === 409)
      throw new RouterError('ROUTER_STALE', `${where}: a newer route table is in place (${excerpt(text)})`, false, 409);
    const retryable = res.statusCode >= 500 || res.statusCode === 429 || res.statusCode === 408;
    throw new RouterError(
      'ROUTER_REJECTED',
      `${where} answered ${res.statusCode}: ${excerpt(text)}`,
      retryable,
      res.statusCode,
    );
  }
}

/** The local reverse proxy (src/router/local-proxy.ts): POST /routes, then GET /routes/<app> to confirm. */
export class LocalProxyRouter extends WebhookRouter {
  override describe(): string {
    return `local proxy ${redact(this.opts.url)}`;
  }

  override async apply(table: RouteTable, signal?: AbortSignal): Promise<RouterAck> {
    const started = Date.now();
    const base = this.opts.url.replace(/\/+$/, '');
    const { status } = await this.send('POST', `${base}/routes`, JSON.stringify(table), signal);
    const read = await this.send('GET', `${base}/routes/${encodeURIComponent(table.app)}`, '', signal);
    const now = parseTable(read.text);
    if ((now.generation ?? -1) < table.generation)
      throw new RouterError('ROUTER_REJECTED', `${this.describe()} did not keep generation ${table.generation}`, true);
    return { router: this.describe(), generation: table.generation, status, tookMs: Date.now() - started };
  }
}

/** A URL without credentials or query (either may carry a token). */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function parseTable(text: string): Partial<RouteTable> {
  try {
    return JSON.parse(text) as Partial<RouteTable>;
  } catch {
    return {};
  }
}

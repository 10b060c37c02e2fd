import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalProxy } from '../../src/router/local-proxy';
import { sign, signatureProblem, signedHeaders } from '../../src/router/signing';
import { RouterError, type RouteTable } from '../../src/router/types';
import { LocalProxyRouter, redact, WebhookRouter } from '../../src/router/webhook';

const SECRET = 'unit-router-key';
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

/** An upstream that answers its own name after `delayMs` (300 ms for /slow), so requests are in flight while routes switch. */
async function upstream(name: string, delayMs = 0): Promise<string> {
  const server: Server = createServer((req, res) => {
    setTimeout(
      () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ app: name, path: req.url }));
      },
      req.url?.endsWith('/slow') ? 300 : delayMs,
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`;
}

async function proxy(opts: Partial<Parameters<typeof LocalProxy.start>[0]> = {}) {
  const p = await LocalProxy.start({
    controlPort: 0,
    secret: SECRET,
    apps: { web: { activePort: 0, previewPort: 0 } },
    ...opts,
  });
  closers.push(() => p.close());
  return p;
}

const table = (generation: number, active?: [string, string], preview?: [string, string]): RouteTable => ({
  app: 'web',
  generation,
  active: active ? { name: active[0], url: active[1], version: 'v' } : null,
  preview: preview ? { name: preview[0], url: preview[1], version: 'v' } : null,
  reason: 'test',
});

async function get(url: string) {
  const res = await request(url);
  return { status: res.statusCode, body: (await res.body.json()) as { app?: string; path?: string; error?: string } };
}

describe('route table signatures', () => {
  it('accepts its own signature and refuses a changed body, another key, or an old timestamp', () => {
    const body = JSON.stringify(table(1));
    const headers = signedHeaders(SECRET, body, 1_000_000);
    expect(signatureProblem(SECRET, headers, body, { nowMs: 1_000_500 })).toBeUndefined();
    expect(signatureProblem(SECRET, headers, `${body} `, { nowMs: 1_000_500 })).toBe('signature does not match');
    expect(signatureProblem('other', headers, body, { nowMs: 1_000_500 })).toBe('signature does not match');
    expect(signatureProblem(SECRET, headers, body, { nowMs: 1_000_000 + 10 * 60_000 })).toMatch(/ms off/);
    expect(signatureProblem(SECRET, {}, body)).toMatch(/missing/);
    expect(sign(SECRET, 1, 'x')).toMatch(/^sha256=[0-9a-f]{64}$/);
  });
});

describe('local proxy', () => {
  it('serves 503 until routed, then forwards the active and preview routes with the upstream path prefix', async () => {
    const p = await proxy();
    const urls = p.urls('web');
    expect((await get(`${urls.active}/x`)).status).toBe(503);
    const router = new LocalProxyRouter({ url: p.controlUrl, secret: SECRET, timeoutMs: 2000 });
    const ack = await router.apply(table(5, ['blue', await upstream('blue')], ['green', await upstream('green')]));
    expect(ack).toMatchObject({ generation: 5, status: 200 });
    expect((await get(`${urls.active}/hello?q=1`)).body).toEqual({ app: 'blue', path: '/prefix/hello?q=1' });
    expect((await get(`${urls.preview}/`)).body.app).toBe('green');
    expect(p.statsOf('web').served.active.blue).toBe(1);
  });

  it('applies a generation once, refuses older ones (409 → ROUTER_STALE, not retryable) and unsigned changes', async () => {
    const p = await proxy();
    const router = new LocalProxyRouter({ url: p.controlUrl, secret: SECRET, timeoutMs: 2000 });
    const blue = await upstream('blue');
    await router.apply(table(10, ['blue', blue]));
    await router.apply(table(10, ['blue', blue]));
    expect(p.applied('web')).toHaveLength(1);
    const stale = await router.apply(table(9)).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(RouterError);
    expect(stale).toMatchObject({ code: 'ROUTER_STALE', retryable: false });
    const forged = new LocalProxyRouter({ url: p.controlUrl, secret: 'not-the-key', timeoutMs: 2000 });
    await expect(forged.apply(table(11))).rejects.toMatchObject({
      code: 'ROUTER_REJECTED',
      status: 401,
      retryable: false,
    });
    expect(p.table('web')?.generation).toBe(10);
  });

  it('switches under steady load without failing a request; in-flight requests finish on the old upstream', async () => {
    const p = await proxy();
    const router = new LocalProxyRouter({ url: p.controlUrl, secret: SECRET, timeoutMs: 2000 });
    const [blue, green] = [await upstream('blue', 15), await upstream('green', 15)];
    await router.apply(table(1, ['blue', blue]));
    const answers: string[] = [];
    const failures: unknown[] = [];
    let on = true;
    const clients = Array.from({ length: 8 }, async () => {
      while (on) {
        const r = await get(p.urls('web').active).catch((e: unknown) => ({
          status: 0,
          body: { app: undefined, error: String(e) },
        }));
        if (r.status === 200 && r.body.app) answers.push(r.body.app);
        else failures.push(r);
      }
    });
    await new Promise((r) => setTimeout(r, 150));
    const slow = get(`${p.urls('web').active}/slow`);
    await new Promise((r) => setTimeout(r, 50));
    await router.apply(table(2, ['green', green]));
    expect((await slow).body.app).toBe('blue');
    await new Promise((r) => setTimeout(r, 150));
    on = false;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(answers).toContain('blue');
    expect(answers.at(-1)).toBe('green');
    expect(p.statsOf('web').failed).toEqual({ active: 0, preview: 0 });
  });
});

describe('webhook router', () => {
  async function receiver(status: number) {
    const seen: { headers: Record<string, unknown>; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        res.writeHead(status);
        res.end('{"note":"from the receiver"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=abc`, seen };
  }

  it('POSTs the signed table and returns on 2xx', async () => {
    const r = await receiver(204);
    const ack = await new WebhookRouter({ url: r.url, secret: SECRET, timeoutMs: 2000 }).apply(table(3));
    expect(ack.status).toBe(204);
    const [req] = r.seen;
    expect(JSON.parse(req!.body)).toMatchObject({ app: 'web', generation: 3 });
    expect(signatureProblem(SECRET, req!.headers as Record<string, string>, req!.body)).toBeUndefined();
  });

  it('classifies answers: 5xx and no answer are retryable, 4xx is not, and the URL’s query never shows', async () => {
    const failing = await receiver(503);
    const err = await new WebhookRouter({ url: failing.url, secret: SECRET, timeoutMs: 2000 })
      .apply(table(1))
      .catch((e) => e);
    expect(err).toMatchObject({ code: 'ROUTER_REJECTED', retryable: true, status: 503 });
    expect(err.message).not.toContain('token=abc');
    const refusing = await receiver(400);
    await expect(
      new WebhookRouter({ url: refusing.url, secret: SECRET, timeoutMs: 2000 }).apply(table(1)),
    ).rejects.toMatchObject({ retryable: false });
    const nobody = new WebhookRouter({ url: 'http://127.0.0.1:1/hook', secret: SECRET, timeoutMs: 500 });
    await expect(nobody.apply(table(1))).rejects.toMatchObject({ code: 'ROUTER_UNREACHABLE', retryable: true });
    expect(redact('https://user:pw@lb.example:8443/hook?token=abc')).toBe('https://lb.example:8443/hook');
  });
});

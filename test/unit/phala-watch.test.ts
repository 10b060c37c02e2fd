import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PhalaClient } from '../../src/phala/client';
import { PhalaApiError, PhalaResponseValidationError, PhalaUsageError } from '../../src/phala/errors';
import { type WatchEvent, waitForCvmState, watchCvmState } from '../../src/phala/watch';

const API_KEY = 'phak_TEST_secret_watch_42';
const UUID_DASHED = '0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3';
const UUID_BARE = '0b1c2d3e4f504a6b8c7d8e9fa0b1c2d3';

interface Recorded {
  url: string;
  headers: IncomingHttpHeaders;
}

/** Answers the n-th connection (0-based); the response stays open unless the handler ends it. */
type Handler = (n: number, res: ServerResponse, req: Recorded) => void;

interface SseServer {
  client: PhalaClient;
  requests: Recorded[];
  /** Sockets currently open on the server side. */
  openSockets(): number;
  /** Resolves when the connection that carried the n-th request has closed. */
  closed(n: number): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sseServer(handler: Handler): Promise<SseServer> {
  const requests: Recorded[] = [];
  const closes: Array<Promise<void>> = [];
  const sockets = new Set<Socket>();
  const socketClosed = new WeakMap<Socket, Promise<void>>();
  const server = createServer((req, res) => {
    const n = requests.length;
    requests.push({ url: req.url ?? '', headers: req.headers });
    closes[n] = socketClosed.get(req.socket) ?? Promise.reject(new Error('unknown socket'));
    handler(n, res, requests[n] as Recorded);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    socketClosed.set(s, new Promise<void>((resolve) => s.on('close', () => resolve())));
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new PhalaClient({
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`,
    apiKey: API_KEY,
  });
  cleanups.push(async () => {
    await client.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    client,
    requests,
    openSockets: () => sockets.size,
    closed: (n) => closes[n] ?? Promise.reject(new Error(`no request ${n}`)),
  };
}

function open(res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
}

function send(res: ServerResponse, event: string, data: unknown) {
  res.write(`event: ${event}\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

async function collect(iterable: AsyncIterable<WatchEvent>): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  for await (const ev of iterable) events.push(ev);
  return events;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const typesOf = (events: WatchEvent[]) =>
  events.map((e) => `${e.type}:${(e.data as { status?: string }).status ?? ''}`);

describe('watchCvmState', () => {
  it('parses the stream until complete, sent the way the SDK sends it', async () => {
    const srv = await sseServer((_, res) => {
      open(res);
      res.write(': keep-alive comment\n\n');
      send(res, 'state', { name: 'web-1', status: 'starting', derived_status: 'booting' });
      // one frame split across two writes
      res.write('event: state\nda');
      setTimeout(() => {
        res.write(`ta: ${JSON.stringify({ name: 'web-1', status: 'running' })}\n\n`);
        send(res, 'complete', { status: 'running', elapsed: 10.5, target: 'running' });
        res.end();
      }, 20);
    });
    const events = await collect(watchCvmState(srv.client, UUID_DASHED, { target: 'running' }));
    expect(typesOf(events)).toEqual(['state:starting', 'state:running', 'complete:running']);
    expect(events[0]?.data).toMatchObject({ derived_status: 'booting' });
    expect(events[2]?.data).toEqual({ status: 'running', elapsed: 10.5, target: 'running' });
    const [req] = srv.requests;
    expect(req?.url).toBe(`/api/v1/cvms/${UUID_BARE}/state?target=running&interval=5&timeout=300`);
    expect(req?.headers).toMatchObject({
      accept: 'text/event-stream',
      'cache-control': 'no-cache',
      'x-api-key': API_KEY,
    });
    expect(req?.headers['x-phala-version']).toBeUndefined();
    expect(req?.headers['content-type']).toBeUndefined();
  });

  it('reconnects after a stream dropped mid-way and completes on the new one', async () => {
    const srv = await sseServer((n, res) => {
      open(res);
      if (n === 0) {
        send(res, 'state', { name: 'web-1', status: 'starting' });
        // half a frame, then the connection dies
        res.write('event: state\ndata: {"sta');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      if (n === 1) {
        send(res, 'state', { name: 'web-1', status: 'starting' });
        return void res.end();
      }
      send(res, 'state', { name: 'web-1', status: 'running' });
      send(res, 'complete', { status: 'running', elapsed: 3, target: 'running' });
      res.end();
    });
    const retries: string[] = [];
    const events = await collect(
      watchCvmState(srv.client, UUID_BARE, {
        target: 'running',
        interval: 10,
        timeout: 120,
        retryDelay: 10,
        onRetry: ({ retry, error }) => retries.push(`${retry}:${error.code}`),
      }),
    );
    expect(typesOf(events)).toEqual(['state:starting', 'state:starting', 'state:running', 'complete:running']);
    expect(retries).toEqual(['1:PHALA_NETWORK', '2:PHALA_STREAM_ENDED']);
    expect(srv.requests).toHaveLength(3);
    expect(srv.requests[2]?.url).toContain('interval=10&timeout=120');
  });

  it('maxRetries 0 gives up on the first drop', async () => {
    const srv = await sseServer((_, res) => {
      open(res);
      send(res, 'state', { name: 'web-1', status: 'starting' });
      res.end();
    });
    const events: WatchEvent[] = [];
    const err = await rejection(
      (async () => {
        for await (const ev of watchCvmState(srv.client, UUID_BARE, {
          target: 'running',
          maxRetries: 0,
          retryDelay: 0,
        })) {
          events.push(ev);
        }
      })(),
    );
    expect(err).toBeInstanceOf(PhalaApiError);
    expect(err).toMatchObject({ code: 'PHALA_STREAM_ENDED', retryable: true });
    expect(err.message).toContain('maxRetries is 0');
    expect(typesOf(events)).toEqual(['state:starting']);
    expect(srv.requests).toHaveLength(1);
  });

  it('maxRetries n allows n reconnects', async () => {
    const srv = await sseServer((_, res) => {
      open(res);
      res.end();
    });
    const err = await rejection(
      collect(watchCvmState(srv.client, UUID_BARE, { target: 'running', maxRetries: 2, retryDelay: 0 })),
    );
    expect(err).toMatchObject({ code: 'PHALA_STREAM_ENDED' });
    expect(srv.requests).toHaveLength(3);
  });

  it('retries without limit when maxRetries is unset, through 429 and 503', async () => {
    const srv = await sseServer((n, res) => {
      if (n === 0) return void res.writeHead(429, { 'retry-after': '0' }).end('{"detail":"too many streams"}');
      if (n === 1) return void res.writeHead(503).end('{"detail":"maintenance"}');
      open(res);
      if (n < 8) return void res.end();
      send(res, 'state', { name: 'web-1', status: 'running' });
      send(res, 'complete', { status: 'running' });
    });
    const events = await collect(watchCvmState(srv.client, UUID_BARE, { target: 'running', retryDelay: 1 }));
    expect(typesOf(events)).toEqual(['state:running', 'complete:running']);
    expect(srv.requests).toHaveLength(9);
  });

  it('does not retry a 404 (unlike the TS SDK) and keeps the key out of the error', async () => {
    const srv = await sseServer((_, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ detail: `CVM not found for key ${API_KEY}` }));
    });
    const err = await rejection(collect(watchCvmState(srv.client, 'web-1', { target: 'running', retryDelay: 0 })));
    expect(err).toMatchObject({
      code: 'PHALA_NOT_FOUND',
      status: 404,
      retryable: false,
      endpoint: 'GET /cvms/{id}/state',
    });
    expect(err.message).not.toContain(API_KEY);
    expect(srv.requests).toHaveLength(1);
  });

  it('rejects a 200 that is not an event stream without retrying', async () => {
    const srv = await sseServer((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"name":"web-1","status":"running"}');
    });
    const err = await rejection(collect(watchCvmState(srv.client, UUID_BARE, { target: 'running', retryDelay: 0 })));
    expect(err).toBeInstanceOf(PhalaResponseValidationError);
    expect(err.message).toContain('expected text/event-stream');
    expect(srv.requests).toHaveLength(1);
  });

  it('yields a timeout event and ends without reconnecting', async () => {
    const srv = await sseServer((_, res) => {
      open(res);
      send(res, 'state', { name: 'web-1', status: 'starting' });
      send(res, 'timeout', { error: 'Timeout', elapsed: 60, target: 'running' });
      res.end();
    });
    const events = await collect(watchCvmState(srv.client, UUID_BARE, { target: 'running', timeout: 60 }));
    expect(events.map((e) => e.type)).toEqual(['state', 'timeout']);
    expect(events[1]?.data).toMatchObject({ error: 'Timeout', elapsed: 60 });
    expect(srv.requests).toHaveLength(1);
    const err = await rejection(waitForCvmState(srv.client, UUID_BARE, { target: 'running', timeout: 60 }));
    expect(err).toMatchObject({ code: 'PHALA_WATCH_TIMEOUT', retryable: false });
    expect(err.message).toContain('did not reach "running" within 60 s (last status: starting)');
  });

  it('passes on error events and bad frames, then reconnects when the server closes', async () => {
    const srv = await sseServer((n, res) => {
      open(res);
      if (n === 0) {
        send(res, 'state', 'not json');
        send(res, 'state', { name: 'web-1' });
        send(res, 'error', { error: 'CVM is being recreated', elapsed: 2 });
        return void res.end();
      }
      send(res, 'state', { name: 'web-1', status: 'running' });
      send(res, 'complete', { status: 'running' });
    });
    const events = await collect(watchCvmState(srv.client, UUID_BARE, { target: 'running', retryDelay: 0 }));
    expect(events.map((e) => e.type)).toEqual(['error', 'error', 'error', 'state', 'complete']);
    expect(events[0]?.data).toEqual({ error: '"state" event data is not JSON' });
    expect(events[1]?.data).toMatchObject({ error: expect.stringMatching(/^"state" event field "status"/) });
    expect(events[2]?.data).toEqual({ error: 'CVM is being recreated', elapsed: 2 });
    expect(srv.requests).toHaveLength(2);
  });

  it('checks interval and timeout before sending anything', async () => {
    const srv = await sseServer((_, res) => res.end());
    const cases: Array<[Record<string, number>, string, RegExp]> = [
      [{ interval: 4 }, 'interval', /interval must be a whole number of seconds from 5 to 30 \(got 4\)/],
      [{ interval: 31 }, 'interval', /from 5 to 30/],
      [{ interval: 5.5 }, 'interval', /from 5 to 30/],
      [{ timeout: 9 }, 'timeout', /timeout must be a whole number of seconds from 10 to 600 \(got 9\)/],
      [{ timeout: 601 }, 'timeout', /from 10 to 600/],
      [{ maxRetries: -1 }, 'maxRetries', /maxRetries/],
      [{ retryDelay: -5 }, 'retryDelay', /retryDelay/],
    ];
    for (const [opts, field, message] of cases) {
      let thrown: unknown;
      try {
        watchCvmState(srv.client, UUID_BARE, { target: 'running', ...opts });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(PhalaUsageError);
      expect(thrown).toMatchObject({ field, code: 'PHALA_INVALID_ARGUMENT' });
      expect((thrown as Error).message).toMatch(message);
    }
    expect(() => watchCvmState(srv.client, UUID_BARE, { target: '' })).toThrow(PhalaUsageError);
    expect(() => watchCvmState(srv.client, '', { target: 'running' })).toThrow(PhalaUsageError);
    await new Promise((r) => setTimeout(r, 50));
    expect(srv.requests).toHaveLength(0);
  });

  it('an abort stops reading at once and closes the connection', async () => {
    const srv = await sseServer((_, res) => {
      open(res);
      send(res, 'state', { name: 'web-1', status: 'starting' });
      // and then silence: the CVM takes its time
    });
    const ctrl = new AbortController();
    const reason = new Error('activity cancelled');
    const events: WatchEvent[] = [];
    const started = Date.now();
    const err = await rejection(
      (async () => {
        for await (const ev of watchCvmState(srv.client, UUID_BARE, { target: 'running', signal: ctrl.signal })) {
          events.push(ev);
          setTimeout(() => ctrl.abort(reason), 20);
        }
      })(),
    );
    expect(err).toBe(reason);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(events).toHaveLength(1);
    await srv.closed(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(srv.requests).toHaveLength(1);
  });

  it('an abort during the wait before a reconnect ends it promptly', async () => {
    const srv = await sseServer((_, res) => {
      open(res);
      res.end();
    });
    const ctrl = new AbortController();
    const pending = collect(
      watchCvmState(srv.client, UUID_BARE, { target: 'running', retryDelay: 60_000, signal: ctrl.signal }),
    );
    await until(() => srv.requests.length === 1);
    const started = Date.now();
    ctrl.abort(new Error('stop'));
    expect((await rejection(pending)).message).toBe('stop');
    expect(Date.now() - started).toBeLessThan(500);
    expect(srv.requests).toHaveLength(1);
  });

  it('closes the connection when complete arrives on a stream the server keeps open', async () => {
    const srv = await sseServer((_, res) => {
      open(res);
      send(res, 'state', { name: 'web-1', status: 'running' });
      send(res, 'complete', { status: 'running' });
    });
    await collect(watchCvmState(srv.client, UUID_BARE, { target: 'running' }));
    await srv.closed(0);
  });

  it('leaks no sockets over many watches the consumer stops early', async () => {
    const srv = await sseServer((_, res) => {
      open(res);
      send(res, 'state', { name: 'web-1', status: 'starting' });
    });
    for (let i = 0; i < 30; i++) {
      for await (const ev of watchCvmState(srv.client, UUID_BARE, { target: 'running' })) {
        expect(ev.type).toBe('state');
        break;
      }
    }
    await Promise.all(srv.requests.map((_, n) => srv.closed(n)));
    expect(srv.requests).toHaveLength(30);
    // After an aborted response undici dials a fresh idle keep-alive socket for the pool; those are reused, so
    // the count stays at the pool's idle sockets instead of growing with every watch.
    await new Promise((r) => setTimeout(r, 100));
    expect(srv.openSockets()).toBeLessThanOrEqual(2);
  });
});

describe('waitForCvmState', () => {
  it('returns the last state, with every field the server sent', async () => {
    const srv = await sseServer((_, res) => {
      open(res);
      send(res, 'state', { name: 'web-1', status: 'stopping' });
      send(res, 'state', { name: 'web-1', status: 'stopped', uptime: '0s', derived_status: 'stopped' });
      send(res, 'complete', { status: 'stopped', elapsed: 4, target: 'stopped' });
      res.end();
    });
    const state = await waitForCvmState(srv.client, { uuid: UUID_DASHED }, { target: 'stopped' });
    expect(state).toEqual({ name: 'web-1', status: 'stopped', uptime: '0s', derived_status: 'stopped' });
  });

  it('falls back to the complete payload when no state preceded it', async () => {
    const srv = await sseServer((_, res) => {
      open(res);
      send(res, 'complete', { status: 'running', elapsed: 0 });
      res.end();
    });
    expect(await waitForCvmState(srv.client, UUID_BARE, { target: 'running' })).toEqual({ status: 'running' });
  });
});

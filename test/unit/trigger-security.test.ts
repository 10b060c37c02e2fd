// Security review of the trigger endpoint (src/trigger), one property per test: authentication is required,
// signatures and tokens are compared in constant time, a captured signed delivery cannot be replayed under a new
// delivery id, bodies are capped, the default address is loopback, and neither secrets nor internal errors are
// echoed back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safeEqual } from '../../src/router/signing';
import { bodySignature } from '../../src/trigger/auth';
import { startTriggerServer, type TriggerRequest, type TriggerServer } from '../../src/trigger/server';

const TOKEN = 'security-token-0123456789abcdef';
const HMAC = 'security-hmac-key-0123456789abcdef';
const calls: TriggerRequest[] = [];
let server: TriggerServer;
let logLines: string[];

beforeAll(async () => {
  logLines = [];
  server = await startTriggerServer({
    port: 0,
    auth: { token: TOKEN, hmacSecret: HMAC },
    apps: ['web', 'boom'],
    maxBodyBytes: 1024,
    log: (l) => logLines.push(l),
    handle: async (req) => {
      if (req.app === 'boom') throw new Error(`temporal said no; token was ${TOKEN}`);
      calls.push(req);
      return { status: 202, body: { replayKey: req.replayKey } };
    },
  });
});
afterAll(() => server?.close());

async function post(path: string, body: string, headers: Record<string, string>) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, text: await res.text() };
}

describe('trigger endpoint security', () => {
  it('listens on loopback unless told otherwise', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('requires authentication before reading what the body asks for', async () => {
    calls.length = 0;
    const none = await post('/v1/bluegreen/web', '{}', { 'x-cvmflow-delivery': 'd1' });
    expect(none.status).toBe(401);
    // An unauthenticated caller cannot even learn which apps exist.
    const unknownApp = await post('/v1/bluegreen/secret-app', '{}', { 'x-cvmflow-delivery': 'd1' });
    expect(unknownApp.status).toBe(401);
    expect(calls).toEqual([]);
  });

  it('compares in constant time: digests of equal length whatever the input', () => {
    expect(safeEqual(TOKEN, TOKEN)).toBe(true);
    expect(safeEqual(TOKEN, `${TOKEN}x`)).toBe(false);
    expect(safeEqual(TOKEN, '')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
    // Different lengths must not throw (timingSafeEqual would) nor short-circuit on length.
    expect(() => safeEqual('a', 'a'.repeat(10_000))).not.toThrow();
  });

  it('a captured signed delivery replayed under a new delivery id maps to the same trigger (no second deployment)', async () => {
    calls.length = 0;
    const body = '{"reason":"release 9"}';
    const sig = bodySignature(HMAC, body);
    const first = await post('/v1/bluegreen/web', body, { 'x-hub-signature-256': sig, 'x-github-delivery': 'orig-1' });
    const replay = await post('/v1/bluegreen/web', body, {
      'x-hub-signature-256': sig,
      'x-github-delivery': 'fresh-2',
    });
    expect([first.status, replay.status]).toEqual([202, 202]);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.replayKey).toBe(calls[1]!.replayKey);
    expect(calls[0]!.replayKey).not.toContain('orig-1');
    // A different body is a different trigger.
    const other = '{"reason":"release 10"}';
    await post('/v1/bluegreen/web', other, {
      'x-hub-signature-256': bodySignature(HMAC, other),
      'x-github-delivery': 'orig-1',
    });
    expect(calls[2]!.replayKey).not.toBe(calls[0]!.replayKey);
    // Bearer-token triggers are keyed by their delivery id (the token itself is the secret a replay would need).
    await post('/v1/bluegreen/web', body, { authorization: `Bearer ${TOKEN}`, 'x-cvmflow-delivery': 'ci-77' });
    expect(calls[3]!.replayKey).toBe('ci-77');
  });

  it('caps the body: 413 from the declared length, and from the bytes when none is declared', async () => {
    const big = JSON.stringify({ reason: 'x'.repeat(5000) });
    const declared = await post('/v1/bluegreen/web', big, {
      authorization: `Bearer ${TOKEN}`,
      'x-cvmflow-delivery': 'b1',
    });
    expect(declared.status).toBe(413);
    const bytes = Buffer.from(big);
    const res = await fetch(`${server.url}/v1/bluegreen/web`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'x-cvmflow-delivery': 'b2' },
      body: new ReadableStream({
        start(c) {
          c.enqueue(bytes);
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  it('echoes no secret: not the token tried, not an internal error, and logs no query string', async () => {
    const wrong = await post('/v1/bluegreen/web', '{}', {
      authorization: `Bearer ${TOKEN.slice(0, -1)}`,
      'x-cvmflow-delivery': 'e1',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.text).not.toContain(TOKEN.slice(0, -1));
    const boom = await post('/v1/bluegreen/boom?token=leaked-in-url', '{}', {
      authorization: `Bearer ${TOKEN}`,
      'x-cvmflow-delivery': 'e2',
    });
    expect(boom.status).toBe(500);
    expect(boom.text).not.toContain(TOKEN);
    expect(boom.text).toMatch(/internal error/);
    expect(logLines.join('\n')).not.toContain('leaked-in-url');
  });
});

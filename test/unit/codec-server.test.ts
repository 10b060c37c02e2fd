// The codec server over real HTTP on loopback, with the real AES-GCM codec: Temporal's protocol (encode → decode
// round trip, proto-JSON payloads, X-Namespace and the /<namespace>/ form), CORS only for the UI's origins, the token
// when one is set (header or path), body limits, and logs and errors that never carry a payload or the token.
import { request } from 'node:http';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterEach, describe, expect, it } from 'vitest';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, parseKeyRing } from '../../src/temporal/codec';
import { type CodecServer, type CodecServerOptions, startCodecServer } from '../../src/temporal/codec-server';

const KEY = parseKeyRing('k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=');
const UI = 'http://127.0.0.1:8233';
const TOKEN = 'a-codec-server-token-0123456789';
const SECRET = 'plaintext-spec-name-7f3a';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

/** node:http rather than fetch: a test must be free to send the Origin header a browser would. */
function call(
  url: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${opts.path}`,
      { method: opts.method ?? 'POST', headers: { 'content-type': 'application/json', ...opts.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const jsonPayloads = (values: unknown[]) =>
  JSON.stringify({
    payloads: values.map((v) => {
      const p = defaultPayloadConverter.toPayload(v)!;
      return {
        metadata: Object.fromEntries(
          Object.entries(p.metadata!).map(([k, b]) => [k, Buffer.from(b!).toString('base64')]),
        ),
        data: Buffer.from(p.data!).toString('base64'),
      };
    }),
  });

type JsonPayload = { metadata: Record<string, string>; data: string };
const b64text = (s: string) => Buffer.from(s, 'base64').toString('utf8');

let server: CodecServer | undefined;
let logs: string[] = [];
async function start(extra: Partial<CodecServerOptions> = {}): Promise<CodecServer> {
  server = await startCodecServer({
    codec: new AesGcmPayloadCodec(KEY),
    port: 0,
    uiOrigins: [UI],
    log: (l) => logs.push(l),
    ...extra,
  });
  return server;
}

afterEach(async () => {
  await server?.close();
  server = undefined;
  logs = [];
});

describe('codec server protocol', () => {
  it('encodes to ciphertext and decodes back, through HTTP, in proto-JSON', async () => {
    const { url } = await start();
    const enc = await call(url, { path: '/encode', body: jsonPayloads([{ name: SECRET }, 42]) });
    expect(enc.status, enc.text).toBe(200);
    expect(enc.headers['cache-control']).toBe('no-store');
    const encoded = enc.json<{ payloads: JsonPayload[] }>().payloads;
    expect(encoded).toHaveLength(2);
    expect(b64text(encoded[0]!.metadata.encoding!)).toBe(ENCRYPTED_ENCODING);
    expect(b64text(encoded[0]!.metadata['encryption-key-id']!)).toBe('k1');
    expect(enc.text).not.toContain(SECRET);
    expect(Buffer.from(encoded[0]!.data, 'base64').includes(SECRET)).toBe(false);

    const dec = await call(url, {
      path: '/decode',
      headers: { 'x-namespace': 'default' },
      body: JSON.stringify({ payloads: encoded }),
    });
    expect(dec.status, dec.text).toBe(200);
    const decoded = dec.json<{ payloads: JsonPayload[] }>().payloads;
    expect(b64text(decoded[0]!.metadata.encoding!)).toBe('json/plain');
    expect(JSON.parse(b64text(decoded[0]!.data))).toEqual({ name: SECRET });
    expect(JSON.parse(b64text(decoded[1]!.data))).toBe(42);
    // The worker's own codec reads what the server encoded: one format.
    const [viaSdk] = await new AesGcmPayloadCodec(KEY).decode([
      {
        metadata: Object.fromEntries(
          Object.entries(encoded[0]!.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
        ),
        data: Buffer.from(encoded[0]!.data, 'base64'),
      },
    ]);
    expect(defaultPayloadConverter.fromPayload(viaSdk!)).toEqual({ name: SECRET });
  });

  it('serves the /<namespace>/ path form of the CLI, and passes unencrypted payloads through on decode', async () => {
    const { url } = await start();
    const dec = await call(url, { path: '/default/decode', body: jsonPayloads(['not encrypted']) });
    expect(dec.status, dec.text).toBe(200);
    expect(JSON.parse(b64text(dec.json<{ payloads: JsonPayload[] }>().payloads[0]!.data))).toBe('not encrypted');
  });

  it('keeps to its namespace allow-list', async () => {
    const { url } = await start({ namespaces: ['default'] });
    const body = jsonPayloads([1]);
    expect((await call(url, { path: '/decode', headers: { 'x-namespace': 'default' }, body })).status).toBe(200);
    expect((await call(url, { path: '/default/decode', body })).status).toBe(200);
    const other = await call(url, { path: '/decode', headers: { 'x-namespace': 'prod' }, body });
    expect(other.status).toBe(403);
    expect(other.json().error).toMatch(/namespace prod is not served here/);
    const none = await call(url, { path: '/decode', body });
    expect(none.status).toBe(400);
    expect(none.json().error).toMatch(/X-Namespace/);
  });

  it('answers bad requests with what is wrong, never with the content', async () => {
    const { url } = await start();
    const notJson = await call(url, { path: '/decode', body: `{"payloads": "${SECRET}` });
    expect(notJson.status).toBe(400);
    const badData = await call(url, { path: '/decode', body: JSON.stringify({ payloads: [{ data: `${SECRET}!` }] }) });
    expect(badData.status).toBe(400);
    expect(badData.json().error).toBe('payloads[0].data must be base64');
    const wrongShape = await call(url, { path: '/encode', body: JSON.stringify({ items: [SECRET] }) });
    expect(wrongShape.status).toBe(400);
    const [foreign] = await new AesGcmPayloadCodec(
      parseKeyRing('k9:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA='),
    ).encode([defaultPayloadConverter.toPayload(SECRET)!]);
    const unknownKey = await call(url, {
      path: '/decode',
      body: JSON.stringify({
        payloads: [
          {
            metadata: Object.fromEntries(
              Object.entries(foreign!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
            ),
            data: Buffer.from(foreign!.data!).toString('base64'),
          },
        ],
      }),
    });
    expect(unknownKey.status).toBe(400);
    expect(unknownKey.json().error).toMatch(/key id "k9"/);
    expect((await call(url, { path: '/elsewhere', body: '{}' })).status).toBe(404);
    expect((await call(url, { path: '/%E0%A4%A/decode', body: '{}' })).status).toBe(404);
    expect((await call(url, { method: 'GET', path: '/decode' })).status).toBe(405);
    for (const answer of [notJson, badData, wrongShape, unknownKey]) expect(answer.text).not.toContain(SECRET);
    expect(logs.join('\n')).not.toContain(SECRET);
  });

  it('refuses bodies over the limit with 413', async () => {
    const { url } = await start({ maxBodyBytes: 64 * 1024 });
    const big = jsonPayloads(['x'.repeat(100 * 1024)]);
    const declared = await call(url, { path: '/encode', body: big });
    expect(declared.status).toBe(413);
    // Chunked, with no Content-Length to refuse up front: counted as it arrives.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(`${url}/encode`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(Buffer.alloc(16 * 1024, 'a'));
      req.end();
    });
    expect(chunked).toBe(413);
    expect((await call(url, { path: '/encode', body: jsonPayloads(['small']) })).status).toBe(200);
  });
});

describe('codec server CORS', () => {
  const preflight = (url: string, origin: string) =>
    call(url, {
      method: 'OPTIONS',
      path: '/decode',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace',
      },
    });

  it('answers the UI origin preflight and request, with credentials allowed', async () => {
    const { url } = await start();
    const pre = await preflight(url, UI);
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(UI);
    expect(pre.headers['access-control-allow-credentials']).toBe('true');
    expect(String(pre.headers['access-control-allow-methods'])).toContain('POST');
    expect(String(pre.headers['access-control-allow-headers'])).toMatch(/x-namespace/);
    expect(String(pre.headers['access-control-allow-headers'])).toMatch(/content-type/);
    const post = await call(url, {
      path: '/decode',
      headers: { origin: UI, 'x-namespace': 'default' },
      body: '{"payloads":[]}',
    });
    expect(post.status).toBe(200);
    expect(post.headers['access-control-allow-origin']).toBe(UI);
    expect(post.headers.vary).toBe('Origin');
  });

  it('gives any other origin no CORS answer and does not decode for it', async () => {
    const { url } = await start();
    for (const origin of ['http://evil.example', 'http://127.0.0.1:9999', 'null']) {
      const pre = await preflight(url, origin);
      expect(pre.status, origin).toBe(403);
      expect(pre.headers['access-control-allow-origin']).toBeUndefined();
      const post = await call(url, { path: '/decode', headers: { origin }, body: jsonPayloads([SECRET]) });
      expect(post.status, origin).toBe(403);
      expect(post.headers['access-control-allow-origin']).toBeUndefined();
      expect(post.text).not.toContain(Buffer.from(JSON.stringify(SECRET)).toString('base64'));
    }
  });
});

describe('codec server access', () => {
  it('refuses to bind beyond loopback without a token, and takes no short token', async () => {
    await expect(start({ host: '0.0.0.0' })).rejects.toThrow(/beyond loopback.*CVMFLOW_CODEC_SERVER_TOKEN/);
    await expect(start({ token: 'short' })).rejects.toThrow(/shorter than 16/);
  });

  it('requires the token once one is set: 401 without it, as a bearer header or the first path segment', async () => {
    const { url } = await start({ token: TOKEN });
    const body = jsonPayloads([SECRET]);
    const without = await call(url, { path: '/encode', body });
    expect(without.status).toBe(401);
    expect(without.json().error).toMatch(/Authorization: Bearer/);
    const wrong = await call(url, { path: '/encode', headers: { authorization: `Bearer ${TOKEN}x` }, body });
    expect(wrong.status).toBe(401);
    expect((await call(url, { path: '/wrong-token-0123456789/encode', body })).status).toBe(401);
    const bearer = await call(url, { path: '/encode', headers: { authorization: `Bearer ${TOKEN}` }, body });
    expect(bearer.status).toBe(200);
    // The Web UI appends /decode to its endpoint and cannot add our header: the token may lead the path.
    const viaPath = await call(url, {
      path: `/${TOKEN}/decode`,
      headers: { 'x-namespace': 'default' },
      body: JSON.stringify(bearer.json()),
    });
    expect(viaPath.status, viaPath.text).toBe(200);
    // Both at once: the path's token is still not taken for a namespace (which an allow-list error would repeat).
    await server!.close();
    const strict = await start({ token: TOKEN, namespaces: ['default'] });
    const both = await call(strict.url, {
      path: `/${TOKEN}/decode`,
      headers: { authorization: `Bearer ${TOKEN}`, 'x-namespace': 'default' },
      body: JSON.stringify(bearer.json()),
    });
    expect(both.status, both.text).toBe(200);
    const noNamespace = await call(strict.url, {
      path: `/${TOKEN}/decode`,
      headers: { authorization: `Bearer ${TOKEN}` },
      body: '{"payloads":[]}',
    });
    expect(noNamespace.status).toBe(400);
    expect(noNamespace.text).not.toContain(TOKEN);
    // Preflights carry no credentials; they are answered for the UI origin all the same.
    const pre = await call(strict.url, { method: 'OPTIONS', path: `/${TOKEN}/decode`, headers: { origin: UI } });
    expect(pre.status).toBe(204);
    const all = logs.join('\n');
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain(SECRET);
    expect(all).toMatch(/decode 1 payload\(s\), \d+ bytes, namespace default/);
  });
});

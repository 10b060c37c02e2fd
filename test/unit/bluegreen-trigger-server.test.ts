import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodySignature } from '../../src/trigger/auth';
import { startTriggerServer, type TriggerRequest, type TriggerServer } from '../../src/trigger/server';

const TOKEN = 'tok-0123456789';
const HMAC = 'hmac-key-0123456789';

describe('trigger server', () => {
  let server: TriggerServer;
  const calls: TriggerRequest[] = [];

  beforeAll(async () => {
    server = await startTriggerServer({
      port: 0,
      auth: { token: TOKEN, hmacSecret: HMAC },
      apps: ['web'],
      maxBodyBytes: 1024,
      handle: async (req) => {
        calls.push(req);
        return { status: 202, body: { workflowId: `bluegreen-${req.app}` } };
      },
    });
  });
  afterAll(() => server?.close());

  async function post(path: string, body: string | Buffer, headers: Record<string, string>) {
    const res = await request(`${server.url}${path}`, { method: 'POST', headers, body });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }

  it('accepts a bearer token and a GitHub-style body signature, and says who triggered how', async () => {
    calls.length = 0;
    const body = JSON.stringify({ compose: 'services: {}', reason: 'release 7', by: 'gh\u0007-actions' });
    const bearer = await post('/v1/bluegreen/web', body, {
      authorization: `Bearer ${TOKEN}`,
      'x-cvmflow-delivery': 'd-1',
    });
    expect(bearer).toEqual({ status: 202, body: { workflowId: 'bluegreen-web' } });
    const signed = await post('/v1/bluegreen/web', body, {
      'x-hub-signature-256': bodySignature(HMAC, body),
      'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    });
    expect(signed.status).toBe(202);
    expect(calls.map((c) => [c.deliveryId, c.by, c.reason, c.compose])).toEqual([
      ['d-1', 'gh-actions via webhook (bearer)', 'release 7', 'services: {}'],
      ['72d3162e-cc78-11e3-81ab-4c9367dc0958', 'gh-actions via webhook (hmac)', 'release 7', 'services: {}'],
    ]);
  });

  it('answers 401 and calls nothing for a wrong token, a wrong or missing signature', async () => {
    calls.length = 0;
    const body = '{"reason":"x"}';
    const results = await Promise.all([
      post('/v1/bluegreen/web', body, { authorization: 'Bearer nope', 'x-cvmflow-delivery': 'd' }),
      post('/v1/bluegreen/web', body, {
        'x-hub-signature-256': bodySignature('other-key', body),
        'x-cvmflow-delivery': 'd',
      }),
      post('/v1/bluegreen/web', body, {
        'x-hub-signature-256': bodySignature(HMAC, `${body} `),
        'x-cvmflow-delivery': 'd',
      }),
      post('/v1/bluegreen/web', body, { 'x-cvmflow-delivery': 'd' }),
    ]);
    expect(results.map((r) => r.status)).toEqual([401, 401, 401, 401]);
    expect(JSON.stringify(results)).not.toContain(TOKEN);
    expect(calls).toEqual([]);
  });

  it('authenticates before it tells anything: an unknown app or a missing delivery id is 401 without credentials', async () => {
    expect((await post('/v1/bluegreen/other', '{}', {})).status).toBe(401);
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await post('/v1/bluegreen/other', '{}', { ...auth, 'x-cvmflow-delivery': 'd' })).status).toBe(404);
    expect((await post('/v1/bluegreen/web', '{}', auth)).status).toBe(400);
    expect(
      (await post('/v1/bluegreen/web', '{}', { ...auth, 'x-cvmflow-delivery': 'bad id with spaces' })).status,
    ).toBe(400);
    expect((await post('/v1/bluegreen/web', 'not json', { ...auth, 'x-cvmflow-delivery': 'd' })).status).toBe(400);
    expect((await post('/v1/bluegreen/web', '{"compose": 7}', { ...auth, 'x-cvmflow-delivery': 'd' })).status).toBe(
      400,
    );
  });

  it('caps the body: 413 by Content-Length before reading, and for a chunked body past the cap', async () => {
    calls.length = 0;
    const auth = { authorization: `Bearer ${TOKEN}`, 'x-cvmflow-delivery': 'd-big' };
    const declared = await post('/v1/bluegreen/web', Buffer.alloc(2048, 'a'), auth);
    expect(declared.status).toBe(413);
    const res = await request(`${server.url}/v1/bluegreen/web`, {
      method: 'POST',
      headers: auth,
      body: Readable.from(Array.from({ length: 4 }, () => Buffer.alloc(512, 'a'))),
    });
    expect(res.statusCode).toBe(413);
    await res.body.dump();
    expect(calls).toEqual([]);
  });
});

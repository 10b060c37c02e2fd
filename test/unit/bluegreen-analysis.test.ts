import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillTemplate } from '../../src/activities/bluegreen-activities';
import { emptyTally, joinUrl, type Measurement, measure, probe, tally, verdict } from '../../src/activities/http-check';

const LIMITS = { count: 3, failureLimit: 1, errorLimit: 2, inconclusiveLimit: 0 };
const run = (ms: Measurement[]) => {
  let t = emptyTally();
  for (const m of ms) {
    const v = verdict(t, LIMITS);
    if (v) return v;
    t = tally(t, m);
  }
  return verdict(t, LIMITS);
};

describe('analysis verdicts', () => {
  it('passes after count measurements within the failure limit', () => {
    expect(run(['pass', 'fail', 'pass'])).toBe('pass');
    expect(run(['pass', 'pass'])).toBeUndefined();
  });

  it('fails once failures exceed failureLimit, even before count is reached', () => {
    expect(run(['fail', 'fail'])).toBe('fail');
  });

  it('retries errors without counting them as measurements; too many in a row end it as error', () => {
    expect(run(['error', 'error', 'pass', 'pass', 'pass'])).toBe('pass');
    expect(run(['pass', 'error', 'error', 'error'])).toBe('error');
    const t = tally(tally(emptyTally(), 'error'), 'pass');
    expect(t).toMatchObject({ taken: 1, errors: 1, consecutiveErrors: 0 });
  });

  it('is inconclusive past inconclusiveLimit', () => {
    expect(run(['pass', 'inconclusive'])).toBe('inconclusive');
  });
});

describe('web checks', () => {
  let base = '';
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path.startsWith('/health')) {
      res.writeHead(path.includes('sick') ? 503 : 200);
      return res.end();
    }
    const answers: Record<string, [number, string]> = {
      '/pass': [200, '{"result":"pass"}'],
      '/fail': [200, '{"status":"FAIL","message":"p99 1.2s"}'],
      '/unsure': [200, '{"verdict":"inconclusive"}'],
      '/broken': [500, 'oops'],
      '/html': [200, '<html>'],
      '/other': [200, '{"ok":true}'],
    };
    const [status, body] = answers[path] ?? [404, ''];
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('reads pass / fail / inconclusive; anything else is an error, not a failure', async () => {
    const m = (path: string) => measure(`${base}${path}`, { method: 'GET', timeoutMs: 2000 }).then((r) => r.value);
    expect(await Promise.all(['/pass', '/fail', '/unsure', '/broken', '/html', '/other'].map(m))).toEqual([
      'pass',
      'fail',
      'inconclusive',
      'error',
      'error',
      'error',
    ]);
    expect((await measure(`${base}/fail`, { method: 'POST', timeoutMs: 2000 })).detail).toBe('fail: p99 1.2s');
    expect((await measure('http://127.0.0.1:1/x', { method: 'GET', timeoutMs: 500 })).value).toBe('error');
  });

  it('probes health by expected status, joining endpoint prefixes and paths', async () => {
    expect(joinUrl('http://h/app/x/', '/health')).toBe('http://h/app/x/health');
    const ok = await probe(`${base}/health`, { expectStatus: [200], timeoutMs: 1000 });
    expect(ok).toMatchObject({ ok: true, status: 200 });
    expect(await probe(`${base}/health/sick`, { expectStatus: [200], timeoutMs: 1000 })).toMatchObject({
      ok: false,
      status: 503,
    });
    expect((await probe('http://127.0.0.1:1/health', { expectStatus: [200], timeoutMs: 500 })).error).toBeTruthy();
  });

  it('fills URL templates, encoding values but not the endpoint URLs', () => {
    expect(
      fillTemplate('{greenUrl}/metrics?app={app}&v={version}&x={unknown}', {
        greenUrl: 'http://h/app/1',
        app: 'a b',
        version: 'v&1',
      }),
    ).toBe('http://h/app/1/metrics?app=a%20b&v=v%261&x={unknown}');
  });
});

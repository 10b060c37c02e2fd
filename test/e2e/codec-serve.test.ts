// `cvmflow codec serve` as a user runs it: its own process, the key ring from the environment, the URL on stdout, a
// round trip through /encode and /decode, one log line per request that names neither the content nor the token,
// and Ctrl-C; bad settings exit 2 with one line naming the flag or variable.
import { afterAll, describe, expect, it } from 'vitest';
import { generateCodecKey } from '../../src/temporal/codec';
import { type Background, cleanEnv, expectUserError, runCli, runInBackground } from './cli';

const KEY_ENV = { CVMFLOW_CODEC_KEY: `e2e:${generateCodecKey()}` };
const TOKEN = 'e2e-codec-token-0123456789abcdef';
const SECRET = 'plaintext-never-logged-5d1e';

let server: Background | undefined;

afterAll(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
});

describe('cvmflow codec serve', () => {
  it('serves encode and decode with a token, logs without content, and stops on SIGINT', async () => {
    server = runInBackground(['codec', 'serve', '--port', '0', '--ui-origin', 'http://127.0.0.1:8233'], {
      env: cleanEnv({ ...KEY_ENV, CVMFLOW_CODEC_SERVER_TOKEN: TOKEN }),
    });
    await server.waitFor('http://127.0.0.1:', 90_000);
    const url = server.stdout().trim().split('\n')[0]!;
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
    const plain = { payloads: [{ metadata: { encoding: btoa('json/plain') }, data: btoa(JSON.stringify(SECRET)) }] };
    expect((await fetch(`${url}/encode`, { method: 'POST', body: JSON.stringify(plain) })).status).toBe(401);
    const enc = await fetch(`${url}/encode`, { method: 'POST', headers, body: JSON.stringify(plain) });
    expect(enc.status).toBe(200);
    const encoded = await enc.text();
    expect(encoded).not.toContain(btoa(JSON.stringify(SECRET)));
    const dec = await fetch(`${url}/decode`, { method: 'POST', headers, body: encoded });
    expect(await dec.json()).toEqual(plain);

    server.child.kill('SIGINT');
    expect(await server.exited).toBe(0);
    const log = server.stderr();
    expect(log).toMatch(/POST → 200 \(decode 1 payload\(s\)/);
    expect(log).toMatch(/POST → 401/);
    expect(log).not.toContain(TOKEN);
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain(btoa(JSON.stringify(SECRET)));
  });

  it('refuses bad settings with exit 2 and one line that names what to fix', async () => {
    const cases: [string[], Record<string, string>, string | RegExp][] = [
      [['codec', 'serve', '--port', '0'], {}, 'CVMFLOW_CODEC_KEY'],
      [
        ['codec', 'serve', '--host', '0.0.0.0', '--port', '0'],
        KEY_ENV,
        /--host 0\.0\.0\.0.*CVMFLOW_CODEC_SERVER_TOKEN/,
      ],
      [['codec', 'serve', '--ui-origin', 'http://localhost:8233/ui'], KEY_ENV, '--ui-origin'],
      [['codec', 'serve', '--port', 'x'], KEY_ENV, '--port'],
      [['codec', 'serve', '--token-file', '/nonexistent/token'], KEY_ENV, '--token-file'],
    ];
    const results = await Promise.all(cases.map(([args, env]) => runCli(args, { env: cleanEnv(env) })));
    results.forEach((r, i) => {
      expect(expectUserError(r, cases[i]![2]), cases[i]![0].join(' ')).toBeUndefined();
    });
  });
});

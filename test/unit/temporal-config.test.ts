import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateCodecKey } from '../../src/temporal/codec';
import { ConfigError, loadTemporalConfig } from '../../src/temporal/config';

const key = generateCodecKey();
const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadTemporalConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
};

describe('loadTemporalConfig', () => {
  it('applies defaults for a local server', () => {
    const cfg = loadTemporalConfig({ CVMFLOW_CODEC_KEY: key });
    expect(cfg).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'cvmflow' });
    expect(cfg.tls).toBeUndefined();
    expect(cfg.codecKeys).toHaveLength(1);
  });

  it('requires a codec key unless encryption is explicitly off', () => {
    expect(problemsOf({})).toEqual([expect.stringMatching(/^CVMFLOW_CODEC_KEY: not set.*CVMFLOW_CODEC=off/)]);
    expect(loadTemporalConfig({ CVMFLOW_CODEC: 'off' }).codecKeys).toBeUndefined();
  });

  it.each([
    [{ TEMPORAL_ADDRESS: 'localhost' }, /^TEMPORAL_ADDRESS: must be host:port/],
    [{ TEMPORAL_ADDRESS: '' }, /^TEMPORAL_ADDRESS:/],
    [{ TEMPORAL_NAMESPACE: 'bad ns' }, /^TEMPORAL_NAMESPACE: may contain/],
    [{ TEMPORAL_TASK_QUEUE: '  ' }, /^TEMPORAL_TASK_QUEUE:/],
    [{ TEMPORAL_TLS: 'maybe' }, /^TEMPORAL_TLS: must be true or false/],
    [{ CVMFLOW_CODEC: 'disabled' }, /^CVMFLOW_CODEC: must be on or off/],
    [
      { TEMPORAL_TLS_CLIENT_CERT_PATH: '/tmp/x.crt' },
      /^TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: set both/,
    ],
    [
      { TEMPORAL_TLS_CLIENT_CERT_PATH: '/nonexistent/c', TEMPORAL_TLS_CLIENT_KEY_PATH: '/nonexistent/k' },
      /^TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read \/nonexistent\/c/,
    ],
    [{ TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nonexistent/ca' }, /^TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read/],
    [{ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'abc' }, /^TEMPORAL_TLS: is false but/],
    [{ CVMFLOW_CODEC_KEY: 'nope' }, /^CVMFLOW_CODEC_KEY entry 1: a codec key must be 32 bytes/],
    [
      { CVMFLOW_CODEC_KEY: key, CVMFLOW_CODEC_KEY_FILE: '/x' },
      /^CVMFLOW_CODEC_KEY and CVMFLOW_CODEC_KEY_FILE: set only one/,
    ],
    [
      { CVMFLOW_CODEC_KEY: undefined, CVMFLOW_CODEC_KEY_FILE: '/nonexistent/key' },
      /^CVMFLOW_CODEC_KEY_FILE: cannot read/,
    ],
  ])('names the variable for %j', (env, message) => {
    const problems = problemsOf({ CVMFLOW_CODEC_KEY: key, ...env });
    expect(problems.some((p) => message.test(p))).toBe(true);
  });

  it('reports several problems at once', () => {
    expect(problemsOf({ TEMPORAL_ADDRESS: 'x', TEMPORAL_TLS: 'maybe' })).toHaveLength(2);
  });

  it('reads mTLS files and turns on TLS for an API key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cvmflow-cfg-'));
    writeFileSync(join(dir, 'c.pem'), 'CERT');
    writeFileSync(join(dir, 'k.pem'), 'KEY');
    writeFileSync(join(dir, 'codec.key'), `${key}\n`);
    const mtls = loadTemporalConfig({
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'c.pem'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'k.pem'),
      CVMFLOW_CODEC_KEY_FILE: join(dir, 'codec.key'),
    });
    expect(mtls.tls).toEqual({ clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') } });
    expect(loadTemporalConfig({ TEMPORAL_API_KEY: 'k', CVMFLOW_CODEC_KEY: key }).tls).toBe(true);
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allowedEnvs, type DeploymentSpec, resolveEnv, SpecError } from '../../src/spec';

const dir = mkdtempSync(join(tmpdir(), 'cvmflow-env-'));
writeFileSync(join(dir, 'tls.key'), '-----BEGIN KEY-----\nabc\n-----END KEY-----\n');
writeFileSync(join(dir, 'token.txt'), 'tok-123\r\n');
writeFileSync(join(dir, 'blank-line.txt'), 'value\n\n');

function failure(run: () => unknown): SpecError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return err as SpecError;
  }
  throw new Error('expected a SpecError');
}

describe('resolveEnv', () => {
  it('reads variables and files, sorted by key, dropping one trailing newline', () => {
    const env: DeploymentSpec['env'] = {
      TOKEN: { fromFile: 'token.txt' },
      DB_PASSWORD: { fromEnv: 'PROD_DB_PASSWORD' },
      TLS_KEY: { fromFile: join(dir, 'tls.key') },
      KEEPS_BLANK: { fromFile: 'blank-line.txt' },
    };
    expect(resolveEnv(env, { env: { PROD_DB_PASSWORD: 'pw' }, baseDir: dir })).toEqual([
      { key: 'DB_PASSWORD', value: 'pw' },
      { key: 'KEEPS_BLANK', value: 'value\n' },
      { key: 'TLS_KEY', value: '-----BEGIN KEY-----\nabc\n-----END KEY-----' },
      { key: 'TOKEN', value: 'tok-123' },
    ]);
  });

  it('reads the process environment by default', () => {
    process.env.CVMFLOW_SPEC_TEST_VAR = 'from-process';
    try {
      expect(resolveEnv({ X: { fromEnv: 'CVMFLOW_SPEC_TEST_VAR' } })).toEqual([{ key: 'X', value: 'from-process' }]);
    } finally {
      delete process.env.CVMFLOW_SPEC_TEST_VAR;
    }
  });

  it('reports every missing variable and file, naming env.KEY and never a value', () => {
    const secret = 'correct-horse-battery-staple';
    const err = failure(() =>
      resolveEnv(
        {
          API_KEY: { fromEnv: 'API_KEY' },
          EMPTY: { fromEnv: 'CI_SECRET' },
          PRESENT: { fromEnv: 'PRESENT' },
          TLS_CERT: { fromFile: 'missing.pem' },
        },
        { env: { CI_SECRET: '', PRESENT: secret }, baseDir: dir, source: 'deploy.yaml' },
      ),
    );
    expect(err.problems).toEqual([
      { path: 'env.API_KEY', message: 'environment variable API_KEY is not set' },
      { path: 'env.EMPTY', message: 'environment variable CI_SECRET is set but empty' },
      { path: 'env.TLS_CERT.fromFile', message: `cannot read ${join(dir, 'missing.pem')}: no such file` },
    ]);
    expect(err.message.split('\n')[0]).toBe('deploy.yaml: env.API_KEY: environment variable API_KEY is not set');
    expect(err.message).not.toContain(secret);
  });

  it('refuses a file that is not a regular file', () => {
    const err = failure(() => resolveEnv({ DIR: { fromFile: dir } }, { env: {} }));
    expect(err.problems).toEqual([{ path: 'env.DIR.fromFile', message: `cannot read ${dir}: it is a folder` }]);
  });
});

describe('allowedEnvs', () => {
  it('lists the keys sorted', () => {
    expect(allowedEnvs({ env: { ZED: { fromEnv: 'Z' }, ALPHA: { fromFile: '/a' }, MID: { fromEnv: 'M' } } })).toEqual([
      'ALPHA',
      'MID',
      'ZED',
    ]);
    expect(allowedEnvs({ env: {} })).toEqual([]);
  });
});

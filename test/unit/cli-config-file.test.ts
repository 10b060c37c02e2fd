// The optional config file: validated with messages that name the setting, merged under the environment, secrets
// only through files.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyConfigFile, ConfigFileError, configFileEnv, loadConfigFile } from '../../src/cli/config-file';
import { loadTemporalConfig } from '../../src/temporal/config';

const dir = mkdtempSync(join(tmpdir(), 'cvmflow-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('config file', () => {
  it('maps settings to the environment variables, resolving paths against the file and reading secret files', () => {
    file('phala.key', 'phak_from_file\n');
    file('codec.key', `k1:${Buffer.alloc(32, 1).toString('base64')}\n`);
    const path = file(
      'ok.yaml',
      `temporal:
  address: temporal.internal:7233
  namespace: prod
  taskQueue: cvmflow-prod
codec:
  keyFile: codec.key
phala:
  apiPrefix: https://cloud-api.phala.network/api/v1
  apiKeyFile: phala.key
  apiVersion: 2026-01-21
worker:
  shutdownGrace: 45s
`,
    );
    const env = configFileEnv(loadConfigFile(path), path, {});
    expect(env).toEqual({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'prod',
      TEMPORAL_TASK_QUEUE: 'cvmflow-prod',
      CVMFLOW_CODEC_KEY_FILE: join(dir, 'codec.key'),
      PHALA_CLOUD_API_PREFIX: 'https://cloud-api.phala.network/api/v1',
      PHALA_CLOUD_API_KEY: 'phak_from_file',
      PHALA_CLOUD_API_VERSION: '2026-01-21',
      CVMFLOW_SHUTDOWN_GRACE: '45s',
    });
    // What the file provides is exactly what the loaders read.
    expect(loadTemporalConfig(env)).toMatchObject({ address: 'temporal.internal:7233', namespace: 'prod' });
  });

  it('lets the environment win, including a codec key given directly instead of as a file', () => {
    const path = file('env.yaml', 'temporal:\n  address: from-file:7233\n  namespace: file-ns\ncodec:\n  keyFile: k\n');
    const env: NodeJS.ProcessEnv = { TEMPORAL_ADDRESS: 'from-env:7233', CVMFLOW_CODEC_KEY: 'x:y' };
    expect(applyConfigFile(path, env)).toBe(path);
    expect(env).toEqual({ TEMPORAL_ADDRESS: 'from-env:7233', TEMPORAL_NAMESPACE: 'file-ns', CVMFLOW_CODEC_KEY: 'x:y' });
  });

  it('does not read a secret file whose variable is already set', () => {
    const path = file('unread.yaml', 'phala:\n  apiKeyFile: does-not-exist\n');
    expect(configFileEnv(loadConfigFile(path), path, { PHALA_CLOUD_API_KEY: 'k' })).toEqual({});
    expect(() => configFileEnv(loadConfigFile(path), path, {})).toThrow(/phala\.apiKeyFile: cannot read/);
  });

  it.each([
    ['temporal:\n  adress: x:1\n', /temporal\.adress: unknown setting/],
    ['temporal:\n  address: nope\n', /temporal\.address: must be host:port.*got "nope"/],
    ['phala:\n  apiKey: phak_inline\n', /phala\.apiKey: secrets are not written in the config file.*phala\.apiKeyFile/],
    ['codec:\n  key: abc\n', /codec\.key: .*codec\.keyFile/],
    ['worker:\n  watchPollMs: -5\n', /worker\.watchPollMs/],
    ['phala:\n  apiVersion: 2025-10-28\n', /phala\.apiVersion: .*2026-06-23.*got "2025-10-28"/],
    ['temporal: [1\n', /invalid YAML at line \d+, column \d+/],
  ])('rejects %j naming the setting', (text, message) => {
    const path = file('bad.yaml', text);
    expect(() => loadConfigFile(path)).toThrow(ConfigFileError);
    expect(() => loadConfigFile(path)).toThrow(message);
  });

  it('names the flag when the file is missing, and uses ./cvmflow.config.yaml only when it exists', () => {
    expect(() => applyConfigFile(join(dir, 'missing.yaml'), {})).toThrow(/--config: cannot read .*missing\.yaml/);
    expect(applyConfigFile(undefined, {})).toBeUndefined();
    expect(() => applyConfigFile(undefined, { CVMFLOW_CONFIG: join(dir, 'gone.yaml') })).toThrow(/CVMFLOW_CONFIG/);
  });
});

// The optional configuration file (`cvmflow.config.yaml` in the working directory, `--config <file>`, or
// $CVMFLOW_CONFIG): the same settings as the environment variables, grouped, validated with zod and merged UNDER the
// environment — a variable that is set always wins. Secrets are never written inline: the file names files that
// hold them (apiKeyFile, keyFile, privateKeyFile), read only when the variable is not already set.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { CVM_INFO_VERSIONS, type CvmInfoVersion } from '../phala/schemas';
import { parseYaml } from '../spec/yaml';

export const DEFAULT_CONFIG_FILE = 'cvmflow.config.yaml';

export class ConfigFileError extends Error {
  readonly code = 'CONFIG_INVALID';
}

const text = z.string().trim().min(1, 'must not be empty');
const path = text;
const port = z.number().int().min(0).max(65535);

// Keys that would put a secret in the file; each points at its file-based form.
const INLINE_SECRETS: Record<string, string> = {
  'temporal.apiKey': 'temporal.apiKeyFile',
  'codec.key': 'codec.keyFile',
  'phala.apiKey': 'phala.apiKeyFile',
  'chain.privateKey': 'chain.privateKeyFile',
};

const schema = z.strictObject({
  temporal: z
    .strictObject({
      address: text.regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233').optional(),
      namespace: text.optional(),
      taskQueue: text.optional(),
      tls: z.boolean().optional(),
      tlsClientCertPath: path.optional(),
      tlsClientKeyPath: path.optional(),
      tlsServerCaCertPath: path.optional(),
      tlsServerName: text.optional(),
      apiKeyFile: path.optional(),
    })
    .optional(),
  codec: z.strictObject({ enabled: z.boolean().optional(), keyFile: path.optional() }).optional(),
  phala: z
    .strictObject({
      apiPrefix: text.regex(/^https?:\/\//, 'must be an http(s) URL').optional(),
      apiKeyFile: path.optional(),
      apiVersion: z.enum(CVM_INFO_VERSIONS as [CvmInfoVersion, ...CvmInfoVersion[]]).optional(),
    })
    .optional(),
  chain: z
    .strictObject({
      rpcUrl: text.regex(/^https?:\/\//, 'must be an http(s) URL').optional(),
      chainId: z.number().int().positive().optional(),
      privateKeyFile: path.optional(),
    })
    .optional(),
  worker: z
    .strictObject({
      shutdownGrace: text.regex(/^\d+(ms|s|m)$/, 'must be a duration like 30s').optional(),
      watchPollMs: z.number().int().positive().optional(),
      metricsPort: port.optional(),
      maxCachedWorkflows: z.number().int().min(0).optional(),
    })
    .optional(),
});

export type ConfigFile = z.output<typeof schema>;

/** Which variable each setting becomes; `path` settings are resolved against the file, `contents` ones read. */
const VARIABLES: { key: string; variable: string; file?: 'contents' | 'path' }[] = [
  { key: 'temporal.address', variable: 'TEMPORAL_ADDRESS' },
  { key: 'temporal.namespace', variable: 'TEMPORAL_NAMESPACE' },
  { key: 'temporal.taskQueue', variable: 'TEMPORAL_TASK_QUEUE' },
  { key: 'temporal.tls', variable: 'TEMPORAL_TLS' },
  { key: 'temporal.tlsClientCertPath', variable: 'TEMPORAL_TLS_CLIENT_CERT_PATH', file: 'path' },
  { key: 'temporal.tlsClientKeyPath', variable: 'TEMPORAL_TLS_CLIENT_KEY_PATH', file: 'path' },
  { key: 'temporal.tlsServerCaCertPath', variable: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', file: 'path' },
  { key: 'temporal.tlsServerName', variable: 'TEMPORAL_TLS_SERVER_NAME' },
  { key: 'temporal.apiKeyFile', variable: 'TEMPORAL_API_KEY', file: 'contents' },
  { key: 'codec.enabled', variable: 'CVMFLOW_CODEC' },
  { key: 'codec.keyFile', variable: 'CVMFLOW_CODEC_KEY_FILE', file: 'path' },
  { key: 'phala.apiPrefix', variable: 'PHALA_CLOUD_API_PREFIX' },
  { key: 'phala.apiKeyFile', variable: 'PHALA_CLOUD_API_KEY', file: 'contents' },
  { key: 'phala.apiVersion', variable: 'PHALA_CLOUD_API_VERSION' },
  { key: 'chain.rpcUrl', variable: 'ETH_RPC_URL' },
  { key: 'chain.chainId', variable: 'ETH_CHAIN_ID' },
  { key: 'chain.privateKeyFile', variable: 'PRIVATE_KEY_FILE', file: 'path' },
  { key: 'worker.shutdownGrace', variable: 'CVMFLOW_SHUTDOWN_GRACE' },
  { key: 'worker.watchPollMs', variable: 'CVMFLOW_WATCH_POLL_MS' },
  { key: 'worker.metricsPort', variable: 'CVMFLOW_METRICS_PORT' },
  { key: 'worker.maxCachedWorkflows', variable: 'CVMFLOW_MAX_CACHED_WORKFLOWS' },
];

/** The setting → variable table (the README documents the same). */
export const CONFIG_VARIABLES: readonly { key: string; variable: string }[] = VARIABLES;

/** A variable whose value stands for another one's: setting either one in the environment wins over the file. */
const ALTERNATIVES: Record<string, string[]> = {
  CVMFLOW_CODEC_KEY_FILE: ['CVMFLOW_CODEC_KEY'],
  PRIVATE_KEY_FILE: ['PRIVATE_KEY'],
};

function lookup(config: ConfigFile, key: string): unknown {
  let value: unknown = config;
  for (const part of key.split('.')) value = (value as Record<string, unknown> | undefined)?.[part];
  return value;
}

function problemsOf(error: z.ZodError, raw: unknown): string[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys
        .map((k) => {
          const key = [...issue.path, k].join('.');
          const secret = INLINE_SECRETS[key];
          return secret
            ? `${key}: secrets are not written in the config file; put the value in a file and set ${secret}, or use the environment variable`
            : `${key}: unknown setting`;
        })
        .join('; ');
    }
    const key = issue.path.join('.') || '(top level)';
    const got = issue.path.reduce<unknown>((v, p) => (v as Record<PropertyKey, unknown> | undefined)?.[p], raw);
    const shown = got === undefined ? '' : ` (got ${JSON.stringify(got)})`;
    return `${key}: ${issue.message}${shown}`;
  });
}

/** Reads and validates a config file; every problem names its setting. */
export function loadConfigFile(file: string, source = '--config'): ConfigFile {
  let textContent: string;
  try {
    textContent = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(
      `${source}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); fix the path`,
    );
  }
  const parsed = parseYaml(textContent);
  if (!parsed.ok) throw new ConfigFileError(`${file}: ${parsed.problem}`);
  const result = schema.safeParse(parsed.value ?? {});
  if (!result.success) throw new ConfigFileError(`${file}: ${problemsOf(result.error, parsed.value).join('; ')}`);
  return result.data;
}

/**
 * The variables a config file provides, for those the environment does not set. Paths are resolved against the
 * file's folder; files holding a secret are read here, only when their variable is missing.
 */
export function configFileEnv(config: ConfigFile, file: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const base = dirname(resolve(file));
  const out: Record<string, string> = {};
  for (const { key, variable, file: kind } of VARIABLES) {
    const value = lookup(config, key);
    if (value === undefined) continue;
    if (env[variable] !== undefined || ALTERNATIVES[variable]?.some((v) => env[v] !== undefined)) continue;
    if (key === 'codec.enabled') out[variable] = value ? 'on' : 'off';
    else if (kind === 'path') out[variable] = resolve(base, String(value));
    else if (kind === 'contents') {
      const secretFile = resolve(base, String(value));
      try {
        out[variable] = readFileSync(secretFile, 'utf8').trim();
      } catch (err) {
        throw new ConfigFileError(
          `${file}: ${key}: cannot read ${secretFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
    } else out[variable] = String(value);
  }
  return out;
}

/** The config file to use: --config, then $CVMFLOW_CONFIG, then ./cvmflow.config.yaml if it exists. */
export function configFilePath(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd = process.cwd(),
): { file: string; source: string } | undefined {
  if (flag) return { file: flag, source: '--config' };
  if (env.CVMFLOW_CONFIG) return { file: env.CVMFLOW_CONFIG, source: 'CVMFLOW_CONFIG' };
  const local = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(local) ? { file: local, source: DEFAULT_CONFIG_FILE } : undefined;
}

/** Fills `env` (in place) from the config file, under what it already holds. Returns the file used, if any. */
export function applyConfigFile(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const found = configFilePath(flag, env);
  if (!found) return undefined;
  Object.assign(env, configFileEnv(loadConfigFile(found.file, found.source), found.file, env));
  return found.file;
}

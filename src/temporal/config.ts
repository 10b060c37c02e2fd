// Connection settings for workers and clients, from the environment with Temporal's usual variable names, validated
// field by field so a bad deployment fails at start with a message that names the variable.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { type CodecKey, parseKeyRing } from './codec';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

const nonEmpty = z.string().trim().min(1);
const hostPort = nonEmpty.regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233');
const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'], { message: 'must be true or false' })
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const envSchema = z.object({
  TEMPORAL_ADDRESS: hostPort.default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: nonEmpty.regex(/^[A-Za-z0-9._-]+$/, 'may contain letters, digits, . _ -').default('default'),
  TEMPORAL_TASK_QUEUE: nonEmpty.default('cvmflow'),
  TEMPORAL_TLS: bool.optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: nonEmpty.optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: nonEmpty.optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: nonEmpty.optional(),
  TEMPORAL_TLS_SERVER_NAME: nonEmpty.optional(),
  TEMPORAL_API_KEY: nonEmpty.optional(),
  CVMFLOW_CODEC: z.enum(['on', 'off'], { message: 'must be on or off' }).default('on'),
  CVMFLOW_CODEC_KEY: nonEmpty.optional(),
  CVMFLOW_CODEC_KEY_FILE: nonEmpty.optional(),
});

export interface TlsSettings {
  clientCertPair?: { crt: Buffer; key: Buffer };
  serverRootCACertificate?: Buffer;
  serverNameOverride?: string;
}

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  tls?: TlsSettings | true;
  apiKey?: string;
  /** undefined only when encryption was explicitly disabled with CVMFLOW_CODEC=off. */
  codecKeys?: CodecKey[];
}

function readFile(variable: string, path: string, problems: string[]): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    problems.push(`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}); fix the path`);
    return undefined;
  }
}

/** The key ring of CVMFLOW_CODEC_KEY or CVMFLOW_CODEC_KEY_FILE; what is wrong goes to `problems`, naming the variable. */
function readCodecKeys(
  e: { CVMFLOW_CODEC_KEY?: string; CVMFLOW_CODEC_KEY_FILE?: string },
  problems: string[],
  missing = 'CVMFLOW_CODEC_KEY: not set; payloads are encrypted so secrets stay out of Temporal history. Generate a key with `cvmflow codec keygen`, or set CVMFLOW_CODEC=off to disable encryption explicitly',
): CodecKey[] | undefined {
  if (e.CVMFLOW_CODEC_KEY && e.CVMFLOW_CODEC_KEY_FILE) {
    problems.push('CVMFLOW_CODEC_KEY and CVMFLOW_CODEC_KEY_FILE: set only one');
    return undefined;
  }
  if (!e.CVMFLOW_CODEC_KEY && !e.CVMFLOW_CODEC_KEY_FILE) {
    problems.push(missing);
    return undefined;
  }
  const text =
    e.CVMFLOW_CODEC_KEY ?? readFile('CVMFLOW_CODEC_KEY_FILE', e.CVMFLOW_CODEC_KEY_FILE!, problems)?.toString('utf8');
  if (text === undefined) return undefined;
  try {
    return parseKeyRing(text, e.CVMFLOW_CODEC_KEY ? 'CVMFLOW_CODEC_KEY' : 'CVMFLOW_CODEC_KEY_FILE');
  } catch (err) {
    problems.push((err as Error).message);
    return undefined;
  }
}

/**
 * The codec key ring alone, for processes that only encrypt and decrypt (the codec server): the Temporal connection
 * variables are not read, so a setting that only a client needs cannot stop it. Throws ConfigError naming the variable.
 */
export function loadCodecKeys(env: NodeJS.ProcessEnv = process.env): CodecKey[] {
  const problems: string[] = [];
  const keys = readCodecKeys(
    {
      CVMFLOW_CODEC_KEY: env.CVMFLOW_CODEC_KEY?.trim() || undefined,
      CVMFLOW_CODEC_KEY_FILE: env.CVMFLOW_CODEC_KEY_FILE?.trim() || undefined,
    },
    problems,
    "CVMFLOW_CODEC_KEY: not set; the codec server decrypts with the workers' key ring: set CVMFLOW_CODEC_KEY or CVMFLOW_CODEC_KEY_FILE",
  );
  if (!keys) throw new ConfigError(problems);
  return keys;
}

/** Reads and validates the Temporal connection config; throws ConfigError listing every problem. */
export function loadTemporalConfig(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message} (got "${String(env[String(i.path[0])])}")`),
    );
  }
  const e = parsed.data;
  const problems: string[] = [];

  let tls: TemporalConfig['tls'];
  if (Boolean(e.TEMPORAL_TLS_CLIENT_CERT_PATH) !== Boolean(e.TEMPORAL_TLS_CLIENT_KEY_PATH)) {
    problems.push(
      'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: set both (mTLS needs the certificate and its key) or neither',
    );
  }
  if (e.TEMPORAL_TLS === false && (e.TEMPORAL_TLS_CLIENT_CERT_PATH || e.TEMPORAL_API_KEY)) {
    problems.push(
      'TEMPORAL_TLS: is false but a client certificate or TEMPORAL_API_KEY is set; those need TLS, so remove TEMPORAL_TLS=false',
    );
  }
  if (e.TEMPORAL_TLS_CLIENT_CERT_PATH && e.TEMPORAL_TLS_CLIENT_KEY_PATH) {
    const crt = readFile('TEMPORAL_TLS_CLIENT_CERT_PATH', e.TEMPORAL_TLS_CLIENT_CERT_PATH, problems);
    const key = readFile('TEMPORAL_TLS_CLIENT_KEY_PATH', e.TEMPORAL_TLS_CLIENT_KEY_PATH, problems);
    if (crt && key) tls = { clientCertPair: { crt, key } };
  }
  if (e.TEMPORAL_TLS_SERVER_CA_CERT_PATH) {
    const ca = readFile('TEMPORAL_TLS_SERVER_CA_CERT_PATH', e.TEMPORAL_TLS_SERVER_CA_CERT_PATH, problems);
    if (ca) tls = { ...(tls === true ? {} : tls), serverRootCACertificate: ca };
  }
  if (e.TEMPORAL_TLS_SERVER_NAME)
    tls = { ...(tls === true ? {} : tls), serverNameOverride: e.TEMPORAL_TLS_SERVER_NAME };
  // Temporal Cloud API keys always travel over TLS.
  if (!tls && (e.TEMPORAL_TLS || e.TEMPORAL_API_KEY)) tls = true;

  const codecKeys = e.CVMFLOW_CODEC === 'on' ? readCodecKeys(e, problems) : undefined;
  if (problems.length) throw new ConfigError(problems);
  return {
    address: e.TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.TEMPORAL_TASK_QUEUE,
    tls,
    apiKey: e.TEMPORAL_API_KEY,
    codecKeys,
  };
}

// Env values travel from the caller to the worker sealed with the codec key ring, so their plaintext is never a
// workflow input, output or activity argument — even with the payload codec switched off. Only the encryptEnv
// activity unseals them, and at once re-encrypts them for the CVM's KMS key.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EnvVar } from '../phala/env-encryption';
import type { CodecKey } from '../temporal/codec';

const PREFIX = 'cvmflow-sealed-v1';

export class SealedEnvError extends Error {
  readonly code = 'SEALED_ENV';
}

export function sealEnv(vars: EnvVar[], ring: CodecKey[] | undefined): string {
  const key = ring?.[0];
  if (!key) {
    throw new SealedEnvError(
      'env values need CVMFLOW_CODEC_KEY to stay out of Temporal history; set it (cvmflow codec keygen) or remove env from the spec',
    );
  }
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(Buffer.from(`${PREFIX}:${key.id}`));
  const body = Buffer.concat([cipher.update(JSON.stringify(vars), 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${PREFIX}.${key.id}.${Buffer.concat([iv, body]).toString('base64')}`;
}

export function unsealEnv(sealed: string, ring: CodecKey[] | undefined): EnvVar[] {
  const [prefix, keyId, data] = sealed.split('.');
  if (prefix !== PREFIX || !keyId || !data)
    throw new SealedEnvError('sealed env is malformed (not produced by this cvmflow version)');
  const key = ring?.find((k) => k.id === keyId);
  if (!key)
    throw new SealedEnvError(
      `sealed env uses codec key id "${keyId}", which this worker's CVMFLOW_CODEC_KEY does not hold; give the worker that key`,
    );
  const buf = Buffer.from(data, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key.key, buf.subarray(0, 12));
  decipher.setAAD(Buffer.from(`${PREFIX}:${keyId}`));
  decipher.setAuthTag(buf.subarray(buf.length - 16));
  try {
    const plain = Buffer.concat([decipher.update(buf.subarray(12, buf.length - 16)), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as EnvVar[];
  } catch {
    throw new SealedEnvError(`sealed env failed authentication with codec key id "${keyId}"`);
  }
}

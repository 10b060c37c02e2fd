// Identifier formats of the real API: 40-hex app and instance ids, dashed v4 vm_uuids, `cvm_…` hashids.
import { createHash, randomBytes, randomUUID } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

export const randomHex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** A hashid-looking opaque id; the prefix keeps it apart from names, which may not contain `_`. */
export function hashid(prefix: string, length = 12): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return `${prefix}_${out}`;
}

export const newAppId = (): string => randomHex(20);
export const newInstanceId = (): string => randomHex(20);
export const newVmUuid = (): string => randomUUID();
export const newCorrelationId = (): string => randomUUID();

/** A stable, non-secret id for an API key: request logs and admin views carry this, never the key. */
export function apiKeyId(apiKey: string): string {
  return `key_${createHash('sha256').update(apiKey, 'utf8').digest('hex').slice(0, 12)}`;
}

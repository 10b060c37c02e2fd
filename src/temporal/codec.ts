// AES-256-GCM payload codec with key ids, so secrets never reach Temporal history in plaintext. The whole Payload
// proto (metadata + data) is encrypted; the envelope keeps only `encoding` and the key id. Several keys may be
// configured for rotation: the first one encrypts, every one of them decrypts.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec, ValueError } from '@temporalio/common';
import proto from '@temporalio/proto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface CodecKey {
  id: string;
  key: Buffer;
}

export class CodecKeyError extends Error {
  readonly code = 'CODEC_KEY';
}

/** A stable, non-secret id for a key without one: the first 8 hex chars of sha256(key). */
export const fingerprint = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 8);

function decodeKeyMaterial(text: string, label: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) {
    throw new CodecKeyError(
      `${label}: a codec key must be 32 bytes, as 64 hex characters or base64 (generate one with \`cvmflow codec keygen\`)`,
    );
  }
  return key;
}

/**
 * Parses a key ring: comma-separated entries `id:key` or `key` (newest first). Example:
 * `CVMFLOW_CODEC_KEY="2026-11:BASE64,2026-05:BASE64"`. The error names the entry's position, never the key.
 */
export function parseKeyRing(text: string, label = 'CVMFLOW_CODEC_KEY'): CodecKey[] {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new CodecKeyError(`${label} is empty: set it to one or more keys (newest first)`);
  const ring = entries.map((entry, i) => {
    const sep = entry.indexOf(':');
    const where = `${label} entry ${i + 1}`;
    if (sep > 0) {
      const id = entry.slice(0, sep);
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(id))
        throw new CodecKeyError(`${where}: key id may use letters, digits, . _ - (1-64 chars)`);
      return { id, key: decodeKeyMaterial(entry.slice(sep + 1), where) };
    }
    const key = decodeKeyMaterial(entry, where);
    return { id: fingerprint(key), key };
  });
  const ids = new Set<string>();
  for (const { id } of ring) {
    if (ids.has(id)) throw new CodecKeyError(`${label}: key id "${id}" appears twice`);
    ids.add(id);
  }
  return ring;
}

export function generateCodecKey(): string {
  return randomBytes(32).toString('base64');
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys: Map<string, Buffer>;
  private readonly current: CodecKey;

  constructor(ring: CodecKey[]) {
    const [current] = ring;
    if (!current) throw new CodecKeyError('the codec needs at least one key');
    this.current = current;
    this.keys = new Map(ring.map((k) => [k.id, k.key]));
  }

  get keyId(): string {
    return this.current.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const plain = proto.temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
      cipher.setAAD(Buffer.from(this.current.id));
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
          [KEY_ID_METADATA]: Buffer.from(this.current.id),
        },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || Buffer.from(encoding).toString() !== ENCRYPTED_ENCODING) return payload;
      const idBytes = payload.metadata?.[KEY_ID_METADATA];
      const keyId = idBytes ? Buffer.from(idBytes).toString() : '';
      const key = this.keys.get(keyId);
      if (!key) {
        throw new ValueError(
          `payload was encrypted with codec key id "${keyId}", which is not in CVMFLOW_CODEC_KEY (known ids: ${[...this.keys.keys()].join(', ')}); add that key to the ring`,
        );
      }
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new ValueError('encrypted payload is truncated');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(keyId));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new ValueError(
          `payload failed authentication with codec key id "${keyId}" (corrupted, or the key under that id changed)`,
        );
      }
      return proto.temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

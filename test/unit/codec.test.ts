import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { AesGcmPayloadCodec, fingerprint, generateCodecKey, parseKeyRing } from '../../src/temporal/codec';

const toPayload = (value: unknown) => defaultPayloadConverter.toPayload(value)!;
const fromPayload = (p: Parameters<typeof defaultPayloadConverter.fromPayload>[0]) =>
  defaultPayloadConverter.fromPayload(p);

describe('AesGcmPayloadCodec', () => {
  const k1 = generateCodecKey();
  const k2 = generateCodecKey();

  it('round-trips and hides the plaintext', async () => {
    const codec = new AesGcmPayloadCodec(parseKeyRing(`k1:${k1}`));
    const [enc] = await codec.encode([toPayload({ password: 'hunter2-secret' })]);
    expect(Buffer.from(enc!.data!).includes('hunter2-secret')).toBe(false);
    const [dec] = await codec.decode([enc!]);
    expect(fromPayload(dec!)).toEqual({ password: 'hunter2-secret' });
  });

  it('decrypts a payload encrypted with an old key after rotation, and encrypts with the newest', async () => {
    const old = new AesGcmPayloadCodec(parseKeyRing(`k1:${k1}`));
    const [enc] = await old.encode([toPayload('before rotation')]);
    const rotated = new AesGcmPayloadCodec(parseKeyRing(`k2:${k2},k1:${k1}`));
    expect(fromPayload((await rotated.decode([enc!]))[0]!)).toBe('before rotation');
    const [fresh] = await rotated.encode([toPayload('after')]);
    expect(Buffer.from(fresh!.metadata!['encryption-key-id']!).toString()).toBe('k2');
  });

  it('fails clearly for an unknown key id, without printing any key', async () => {
    const [enc] = await new AesGcmPayloadCodec(parseKeyRing(`k1:${k1}`)).encode([toPayload(1)]);
    const other = new AesGcmPayloadCodec(parseKeyRing(`k2:${k2}`));
    const err = await other.decode([enc!]).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/key id "k1".*not in CVMFLOW_CODEC_KEY.*known ids: k2/);
    expect((err as Error).message).not.toContain(k1);
    expect((err as Error).message).not.toContain(k2);
  });

  it('rejects a tampered payload', async () => {
    const codec = new AesGcmPayloadCodec(parseKeyRing(`k1:${k1}`));
    const [enc] = await codec.encode([toPayload('x')]);
    const data = Buffer.from(enc!.data!);
    data[20] = (data[20] ?? 0) ^ 0xff;
    await expect(codec.decode([{ ...enc!, data }])).rejects.toThrow(/failed authentication/);
  });

  it('passes through payloads that are not encrypted', async () => {
    const codec = new AesGcmPayloadCodec(parseKeyRing(k1));
    const plain = toPayload('plain');
    expect(await codec.decode([plain])).toEqual([plain]);
  });
});

describe('parseKeyRing', () => {
  it('accepts hex and base64, derives an id from the fingerprint when none is given', () => {
    const raw = randomBytes(32);
    const [a] = parseKeyRing(raw.toString('hex'));
    const [b] = parseKeyRing(raw.toString('base64'));
    expect(a!.key.equals(raw)).toBe(true);
    expect(b!.id).toBe(fingerprint(raw));
  });

  it.each([
    ['', /is empty/],
    ['short', /entry 1: a codec key must be 32 bytes/],
    [`a:${randomBytes(32).toString('hex')},bad id!:${randomBytes(32).toString('hex')}`, /entry 2: key id may use/],
    [`x:${randomBytes(32).toString('hex')},x:${randomBytes(32).toString('hex')}`, /key id "x" appears twice/],
  ])('rejects %j', (text, message) => {
    expect(() => parseKeyRing(text)).toThrow(message);
  });
});

// Env encryption in the wire format the Phala KMS expects (reference §9, @phala/dstack-sdk encryptEnvVars):
// hex( ephemeral x25519 public key (32) ‖ iv (12) ‖ AES-256-GCM ciphertext ‖ tag (16) ), where the AES key is the
// raw 32-byte X25519 shared secret (no KDF). Node's crypto does x25519 natively, so no extra dependency.
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
} from 'node:crypto';

export interface EnvVar {
  key: string;
  value: string;
}

// DER prefixes for raw 32-byte X25519 keys (RFC 8410).
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export class EnvEncryptionError extends Error {
  readonly code = 'ENV_ENCRYPTION';
}

function parseHexKey(hex: string, what: string): Buffer {
  const clean = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (!/^[0-9a-fA-F]{64}$/.test(clean)) {
    throw new EnvEncryptionError(`${what} must be 32 bytes of hex (64 hex characters, optional 0x)`);
  }
  return Buffer.from(clean, 'hex');
}

const publicKeyObject = (raw: Buffer) =>
  createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
const privateKeyObject = (raw: Buffer) =>
  createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });

export interface X25519KeyPair {
  publicKeyHex: string;
  privateKeyHex: string;
}

export function generateX25519KeyPair(): X25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
  const priv = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
  return { publicKeyHex: pub.toString('hex'), privateKeyHex: priv.toString('hex') };
}

/** Encrypts env vars for a CVM; later duplicates of a key win, as in the Phala CLI. */
export function encryptEnvVars(envs: EnvVar[], publicKeyHex: string): string {
  const deduped = new Map(envs.map((e) => [e.key, e.value]));
  const plaintext = Buffer.from(JSON.stringify({ env: [...deduped].map(([key, value]) => ({ key, value })) }), 'utf8');
  const ephemeral = generateKeyPairSync('x25519');
  const shared = diffieHellman({
    privateKey: ephemeral.privateKey,
    publicKey: publicKeyObject(parseHexKey(publicKeyHex, 'encryption public key')),
  });
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', shared, iv);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const ephPub = ephemeral.publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
  return Buffer.concat([ephPub, iv, body]).toString('hex');
}

/** Inverse of encryptEnvVars, as the KMS/simulator does it with the app's private key. */
export function decryptEnvVars(encryptedHex: string, privateKeyHex: string): EnvVar[] {
  const clean = encryptedHex.startsWith('0x') ? encryptedHex.slice(2) : encryptedHex;
  if (!/^[0-9a-fA-F]*$/.test(clean) || clean.length < (32 + 12 + 16) * 2) {
    throw new EnvEncryptionError('encrypted_env is not hex of pubkey‖iv‖ciphertext‖tag');
  }
  const buf = Buffer.from(clean, 'hex');
  const ephPub = buf.subarray(0, 32);
  const iv = buf.subarray(32, 44);
  const tag = buf.subarray(buf.length - 16);
  const ciphertext = buf.subarray(44, buf.length - 16);
  const shared = diffieHellman({
    privateKey: privateKeyObject(parseHexKey(privateKeyHex, 'private key')),
    publicKey: publicKeyObject(ephPub),
  });
  const decipher = createDecipheriv('aes-256-gcm', shared, iv);
  decipher.setAuthTag(tag);
  let plaintext: Buffer;
  try {
    plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new EnvEncryptionError('encrypted_env does not decrypt with this app key');
  }
  const parsed = JSON.parse(plaintext.toString('utf8')) as { env?: EnvVar[] };
  if (!Array.isArray(parsed.env)) throw new EnvEncryptionError('decrypted env has no "env" array');
  return parsed.env;
}

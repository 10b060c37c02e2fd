// Commit and env updates carry `encrypted_env` sealed to the app's x25519 key (reference §9). The real KMS only
// releases keys listed in the compose's `allowed_envs`; the simulator decrypts and enforces the same rule at the
// API, so a pipeline that would boot without its secrets fails here, with the offending keys named.
import { decryptEnvVars, EnvEncryptionError } from '../phala/env-encryption';
import { structuredError } from './http/errors';

export function checkEncryptedEnv(encryptedEnv: string, privateKeyHex: string, allowedEnvs: string[]): string[] {
  let keys: string[];
  try {
    keys = decryptEnvVars(encryptedEnv, privateKeyHex).map((e) => e.key);
  } catch (err) {
    const reason = err instanceof EnvEncryptionError ? err.message : 'decrypted env is not valid JSON';
    throw structuredError(400, 'ERR-02-008', `encrypted_env cannot be decrypted with this app's key: ${reason}`, {
      details: [{ field: 'encrypted_env', value: null, message: reason }],
      suggestions: [
        "Encrypt with the app_env_encrypt_pubkey returned by provision (or the CVM's encrypted_env_pubkey)",
      ],
    });
  }
  checkKeysAllowed(keys, allowedEnvs, 'encrypted_env');
  return keys;
}

export function checkKeysAllowed(keys: string[], allowedEnvs: string[], field: string): void {
  const allowed = new Set(allowedEnvs);
  const rejected = [...new Set(keys.filter((k) => !allowed.has(k)))];
  if (rejected.length === 0) return;
  throw structuredError(400, 'ERR-02-008', `Environment variables not listed in allowed_envs: ${rejected.join(', ')}`, {
    details: [
      { field, value: rejected, message: 'not in compose_file.allowed_envs' },
      { field: 'allowed_envs', value: [...allowed], message: null },
    ],
    suggestions: ['Add the keys to compose_file.allowed_envs and provision again, or drop them from the env'],
  });
}

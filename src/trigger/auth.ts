// Who may trigger a deployment over HTTP: a CI job holding the bearer token, or a webhook signed with the shared
// HMAC key (GitHub's `X-Hub-Signature-256: sha256=<hex of HMAC-SHA256(key, raw body)>`). Both are compared in
// constant time; neither secret is ever echoed, logged or put in an error.
import { createHmac } from 'node:crypto';
import { safeEqual } from '../router/signing';

export interface TriggerAuth {
  /** `Authorization: Bearer <token>`. */
  token?: string;
  /** Key of `X-Hub-Signature-256` (alias `X-Cvmflow-Signature-256`) over the raw body. */
  hmacSecret?: string;
}

export const SIGNATURE_256_HEADERS = ['x-hub-signature-256', 'x-cvmflow-signature-256'] as const;

export type AuthResult = { ok: true; method: 'bearer' | 'hmac' } | { ok: false; problem: string };

export function bodySignature(secret: string, rawBody: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

export function authenticate(
  auth: TriggerAuth,
  headers: Record<string, string | string[] | undefined>,
  rawBody: Buffer,
): AuthResult {
  const header = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const signature = SIGNATURE_256_HEADERS.map(header).find((v) => v !== undefined);
  if (signature !== undefined) {
    if (!auth.hmacSecret) return { ok: false, problem: 'signed requests are not accepted here (no HMAC key set)' };
    return safeEqual(signature, bodySignature(auth.hmacSecret, rawBody))
      ? { ok: true, method: 'hmac' }
      : { ok: false, problem: 'signature does not match the body' };
  }
  const authorization = header('authorization');
  if (authorization?.startsWith('Bearer ')) {
    if (!auth.token) return { ok: false, problem: 'bearer tokens are not accepted here (no token set)' };
    return safeEqual(authorization.slice(7), auth.token)
      ? { ok: true, method: 'bearer' }
      : { ok: false, problem: 'unknown token' };
  }
  return { ok: false, problem: 'send Authorization: Bearer <token> or X-Hub-Signature-256' };
}

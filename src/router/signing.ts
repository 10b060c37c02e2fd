// HMAC-SHA256 signatures on route changes. The signed text is `<timestamp>.<body>`, so a captured request cannot be
// replayed later (receivers reject timestamps outside a tolerance) nor its body altered.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-cvmflow-signature';
export const TIMESTAMP_HEADER = 'x-cvmflow-timestamp';
/** How far a request's timestamp may be from the receiver's clock. */
export const DEFAULT_TOLERANCE_MS = 5 * 60_000;

export function sign(secret: string, timestampMs: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampMs}.${body}`).digest('hex')}`;
}

export function signedHeaders(secret: string, body: string, nowMs = Date.now()): Record<string, string> {
  return { [TIMESTAMP_HEADER]: String(nowMs), [SIGNATURE_HEADER]: sign(secret, nowMs, body) };
}

type HeaderValue = string | string[] | undefined;

/** Why a request's signature is not acceptable, or undefined when it is. */
export function signatureProblem(
  secret: string,
  headers: Record<string, HeaderValue>,
  body: string,
  opts: { nowMs?: number; toleranceMs?: number } = {},
): string | undefined {
  const timestamp = single(headers[TIMESTAMP_HEADER]);
  const signature = single(headers[SIGNATURE_HEADER]);
  if (!timestamp || !signature) return `missing ${TIMESTAMP_HEADER} or ${SIGNATURE_HEADER}`;
  const ts = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || !Number.isSafeInteger(ts)) return `${TIMESTAMP_HEADER} is not a number`;
  const skew = Math.abs((opts.nowMs ?? Date.now()) - ts);
  if (skew > (opts.toleranceMs ?? DEFAULT_TOLERANCE_MS)) return `${TIMESTAMP_HEADER} is ${skew} ms off`;
  return safeEqual(signature, sign(secret, ts, body)) ? undefined : 'signature does not match';
}

/**
 * Constant-time comparison of two strings: both are hashed first, so the time taken depends on neither where they
 * differ nor how long the expected one is.
 */
export function safeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a, 'utf8').digest();
  const y = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(x, y);
}

function single(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

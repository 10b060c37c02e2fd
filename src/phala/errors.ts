// Everything the Phala client throws about the API is a PhalaApiError: what failed (`endpoint`, `status`, the
// server's `errorCode` and words) and whether the same call may succeed later (`retryable`, `retryAfterMs`). The client
// never retries by itself; Temporal activities read this classification to set nonRetryable / nextRetryDelay.
// Caller mistakes caught before any request (bad identifier, out-of-range watch option, no API key) are
// PhalaUsageErrors instead: they carry no HTTP status and retrying them can never help.

export type PhalaErrorCode =
  /** No HTTP response: connection refused or reset, DNS, TLS, connect/headers/body timeout. */
  | 'PHALA_NETWORK'
  | 'PHALA_BAD_REQUEST'
  | 'PHALA_UNAUTHORIZED'
  | 'PHALA_FORBIDDEN'
  | 'PHALA_NOT_FOUND'
  /** 409 without error_code: another operation is in progress on the CVM; transient. */
  | 'PHALA_BUSY'
  /** 409 with an error_code (e.g. ERR-03-007 app id conflict): deterministic. */
  | 'PHALA_CONFLICT'
  | 'PHALA_VALIDATION'
  | 'PHALA_RATE_LIMITED'
  /** 465–468, see `kind`. */
  | 'PHALA_ON_CHAIN'
  | 'PHALA_SERVER'
  /** A 2xx answer that is not what the API contract promises (see PhalaResponseValidationError). */
  | 'PHALA_INVALID_RESPONSE'
  /** An event stream ended before its terminal event and no reconnect was left. */
  | 'PHALA_STREAM_ENDED'
  /** The server's watch `timeout` elapsed before the CVM reached the target (waitForCvmState only). */
  | 'PHALA_WATCH_TIMEOUT';

/** The on-chain compose-hash flow's own HTTP statuses (reference §7.2, §10.2). */
export type OnChainErrorKind =
  | 'hash_registration_required'
  | 'hash_invalid_or_expired'
  | 'tx_verification_failed'
  | 'hash_not_allowed';

const ON_CHAIN_KINDS: Record<number, OnChainErrorKind> = {
  465: 'hash_registration_required',
  466: 'hash_invalid_or_expired',
  467: 'tx_verification_failed',
  468: 'hash_not_allowed',
};

/** One entry of a structured error's `details`, or one FastAPI 422 issue (`field` = its dotted `loc`). */
export interface PhalaErrorDetail {
  field?: string;
  value?: unknown;
  message?: string | null;
  type?: string;
}

export interface PhalaErrorLink {
  url: string;
  label?: string;
}

export interface PhalaApiErrorInit {
  message: string;
  /** Method and path template, e.g. `GET /cvms/{id}`; never a query string. */
  endpoint: string;
  status?: number;
  code?: PhalaErrorCode;
  errorCode?: string;
  details?: PhalaErrorDetail[];
  suggestions?: string[];
  links?: PhalaErrorLink[];
  requestId?: string;
  /** Overrides the classification derived from status and errorCode. */
  retryable?: boolean;
  retryAfterMs?: number;
  cause?: unknown;
}

export class PhalaApiError extends Error {
  override readonly name: string = 'PhalaApiError';
  readonly endpoint: string;
  /** HTTP status; undefined when no response arrived. */
  readonly status?: number;
  readonly code: PhalaErrorCode;
  /** The API's structured `ERR-xx-yyy` code, when it sent one. */
  readonly errorCode?: string;
  readonly kind?: OnChainErrorKind;
  readonly details: PhalaErrorDetail[];
  readonly suggestions: string[];
  readonly links: PhalaErrorLink[];
  readonly requestId?: string;
  readonly retryable: boolean;
  /** The server's Retry-After, in ms, when it sent one on a retryable answer. */
  readonly retryAfterMs?: number;

  constructor(init: PhalaApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.endpoint = init.endpoint;
    this.status = init.status;
    this.errorCode = init.errorCode;
    this.code = init.code ?? codeFor(init.status, init.errorCode);
    this.kind = init.status === undefined ? undefined : ON_CHAIN_KINDS[init.status];
    this.details = init.details ?? [];
    this.suggestions = init.suggestions ?? [];
    this.links = init.links ?? [];
    this.requestId = init.requestId;
    this.retryable = init.retryable ?? isRetryable(init.status, init.errorCode);
    this.retryAfterMs = this.retryable ? init.retryAfterMs : undefined;
  }

  /**
   * The structured details keyed by field: the 465 flow reads `compose_hash`, `app_id`, `device_id` and `kms_info`
   * from here to register the hash on chain.
   */
  detailMap(): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    for (const d of this.details) if (d.field !== undefined) map[d.field] = d.value;
    return map;
  }
}

/** A 2xx response whose body does not match the schema of the endpoint (or is not JSON at all). */
export class PhalaResponseValidationError extends PhalaApiError {
  override readonly name = 'PhalaResponseValidationError';
  /** Dotted JSON path of the first mismatch, e.g. `resource.vcpu`; empty for the whole body. */
  readonly path: string;

  constructor(init: Omit<PhalaApiErrorInit, 'code' | 'retryable'> & { path: string }) {
    // A contract mismatch is deterministic: the same request gets the same body again.
    super({ ...init, code: 'PHALA_INVALID_RESPONSE', retryable: false });
    this.path = init.path;
  }
}

export type PhalaUsageErrorCode = 'PHALA_INVALID_ARGUMENT' | 'PHALA_MISSING_API_KEY';

/** The caller passed something the API would reject anyway; nothing was sent. Never retryable. */
export class PhalaUsageError extends Error {
  override readonly name = 'PhalaUsageError';
  readonly retryable = false;
  constructor(
    readonly code: PhalaUsageErrorCode,
    /** The option or field at fault, e.g. `interval` or `PHALA_CLOUD_API_KEY`. */
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function codeFor(status: number | undefined, errorCode: string | undefined): PhalaErrorCode {
  if (status === undefined) return 'PHALA_NETWORK';
  if (ON_CHAIN_KINDS[status]) return 'PHALA_ON_CHAIN';
  switch (status) {
    case 401:
      return 'PHALA_UNAUTHORIZED';
    case 403:
      return 'PHALA_FORBIDDEN';
    case 404:
      return 'PHALA_NOT_FOUND';
    case 409:
      return errorCode ? 'PHALA_CONFLICT' : 'PHALA_BUSY';
    case 422:
      return 'PHALA_VALIDATION';
    case 429:
      return 'PHALA_RATE_LIMITED';
  }
  return status >= 500 ? 'PHALA_SERVER' : 'PHALA_BAD_REQUEST';
}

/**
 * 409 is transient only when unstructured ("another operation is in progress"); a structured 409 such as ERR-03-007
 * answers the same way every time. 408/425 are the HTTP-level "try again" answers. 501 and 505 say the server will
 * never do it. Everything else in 4xx (incl. 465–468, which need an on-chain step first) is the caller's to fix.
 */
function isRetryable(status: number | undefined, errorCode: string | undefined): boolean {
  if (status === undefined) return true;
  if (status === 409) return !errorCode;
  if (status === 408 || status === 425 || status === 429) return true;
  return status >= 500 && status !== 501 && status !== 505;
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined when absent or unparsable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Removes every occurrence of the secrets from text the server or a library wrote, before it reaches a message. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out;
}

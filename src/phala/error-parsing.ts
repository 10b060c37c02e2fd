// Builds PhalaApiErrors from what came over the wire: the three error body formats of reference §10.1 (FastAPI
// `{"detail": "…"}`, 422 `{"detail": [{loc, msg, type}]}`, structured `{error_code, message, details, …}` at the top
// level or nested in `detail`), bodies that are not JSON at all, transport failures and schema mismatches.
// Every text that came from the server or a library goes through `redact` with the caller's secrets.
import type { z } from 'zod';
import {
  PhalaApiError,
  type PhalaErrorDetail,
  type PhalaErrorLink,
  PhalaResponseValidationError,
  parseRetryAfter,
  redact,
} from './errors';

export interface ResponseInfo {
  endpoint: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bodyText: string;
  /** Strings that must never appear in a message (the API key). */
  secrets: readonly string[];
}

interface ParsedBody {
  text: string;
  errorCode?: string;
  details?: PhalaErrorDetail[];
  suggestions?: string[];
  links?: PhalaErrorLink[];
  requestId?: string;
}

const MAX_ISSUES_IN_MESSAGE = 5;
const SNIPPET_CHARS = 160;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export function header(headers: ResponseInfo['headers'], name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function structured(obj: Record<string, unknown>): ParsedBody | undefined {
  const errorCode = str(obj.error_code);
  if (!errorCode) return undefined;
  return {
    text: str(obj.message) ?? str(obj.detail) ?? 'no message',
    errorCode,
    details: Array.isArray(obj.details) ? obj.details.filter(isRecord).map(toDetail) : undefined,
    suggestions: Array.isArray(obj.suggestions) ? obj.suggestions.filter((s) => typeof s === 'string') : undefined,
    links: Array.isArray(obj.links)
      ? obj.links.filter(isRecord).flatMap((l) => (str(l.url) ? [{ url: l.url as string, label: str(l.label) }] : []))
      : undefined,
    requestId: str(obj.request_id),
  };
}

function toDetail(d: Record<string, unknown>): PhalaErrorDetail {
  return {
    field: str(d.field),
    value: d.value,
    message: typeof d.message === 'string' ? d.message : null,
    type: str(d.type),
  };
}

/** FastAPI's 422 issues, named by their full `loc` (e.g. `body.name: field required`) so the field is findable. */
function validationIssues(items: unknown[]): ParsedBody {
  const details: PhalaErrorDetail[] = items.filter(isRecord).map((item) => ({
    field: Array.isArray(item.loc) ? item.loc.map(String).join('.') : undefined,
    message: str(item.msg) ?? null,
    type: str(item.type),
  }));
  const shown = details
    .slice(0, MAX_ISSUES_IN_MESSAGE)
    .map((d) => `${d.field ?? '(request)'}: ${d.message ?? d.type ?? 'invalid'}`);
  const more = details.length > MAX_ISSUES_IN_MESSAGE ? ` (and ${details.length - MAX_ISSUES_IN_MESSAGE} more)` : '';
  return { text: `validation failed: ${shown.join('; ')}${more}`, details };
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > SNIPPET_CHARS ? `${flat.slice(0, SNIPPET_CHARS)}…` : flat;
}

function parseBody(bodyText: string, contentType: string | undefined): ParsedBody {
  if (bodyText.trim() === '') return { text: 'empty response body' };
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch {
    return { text: `non-JSON response body (${contentType ?? 'no content-type'}): "${snippet(bodyText)}"` };
  }
  if (!isRecord(json)) return { text: `unexpected JSON response body: ${snippet(bodyText)}` };
  const top = structured(json);
  if (top) return top;
  const detail = json.detail;
  if (isRecord(detail)) {
    const nested = structured(detail);
    if (nested) return { ...nested, requestId: nested.requestId ?? str(json.request_id) };
    if (str(detail.message)) return { text: detail.message as string, requestId: str(json.request_id) };
  }
  if (Array.isArray(detail)) return validationIssues(detail);
  const text = str(detail) ?? str(json.message) ?? str(json.error);
  return { text: text ?? `unrecognised error body: ${snippet(bodyText)}`, requestId: str(json.request_id) };
}

function hint(err: PhalaApiError): string {
  switch (err.kind) {
    case 'hash_registration_required':
      return 'register the compose hash on the app contract, then repeat with compose_hash and transaction_hash';
    case 'hash_invalid_or_expired':
      return 'provision again for a fresh compose hash';
    case 'tx_verification_failed':
      return 'check that the transaction is confirmed on the KMS chain and is the one that added this compose hash';
    case 'hash_not_allowed':
      return 'the compose hash is not allowed on the app contract; add it with addComposeHash';
  }
  switch (err.code) {
    case 'PHALA_UNAUTHORIZED':
      return 'check the API key (PHALA_CLOUD_API_KEY)';
    case 'PHALA_FORBIDDEN':
      return "the API key's workspace has no access to this resource";
    case 'PHALA_BUSY':
      return 'another operation is in progress; retry once it finishes';
    default:
      return '';
  }
}

export function errorFromResponse(res: ResponseInfo): PhalaApiError {
  // Redacted before parsing, so that no detail, suggestion or truncated snippet can carry a secret either.
  const parsed = parseBody(redact(res.bodyText, res.secrets), header(res.headers, 'content-type'));
  const base = {
    endpoint: res.endpoint,
    status: res.status,
    errorCode: parsed.errorCode,
    details: parsed.details,
    suggestions: parsed.suggestions,
    links: parsed.links,
    requestId: parsed.requestId ?? header(res.headers, 'x-request-id'),
    retryAfterMs: parseRetryAfter(header(res.headers, 'retry-after')),
  };
  // Classify first (the constructor knows the rules), then word the message from the classification.
  const draft = new PhalaApiError({ ...base, message: '' });
  const parts = [`${res.endpoint}: HTTP ${res.status}`];
  if (draft.errorCode) parts.push(`[${draft.errorCode}]`);
  parts.push(parsed.text);
  let message = parts.join(' ');
  const todo = hint(draft);
  if (todo) message += ` — ${todo}`;
  if (draft.suggestions.length > 0) message += ` (suggestions: ${draft.suggestions.join('; ')})`;
  if (draft.retryAfterMs !== undefined) message += ` (retry after ${Math.ceil(draft.retryAfterMs / 1000)} s)`;
  if (draft.requestId) message += ` (request id ${draft.requestId})`;
  return new PhalaApiError({ ...base, message });
}

/** Transport failures worth another try: the peer went away, was not there yet, or was too slow. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'EAI_AGAIN',
  // DNS answers "no such host" during resolver hiccups too; a wrong host shows up in the message on every try.
  'ENOTFOUND',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
]);

export function networkErrorCode(err: unknown): string | undefined {
  if (!isRecord(err) && !(err instanceof Error)) return undefined;
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return str(e.code) ?? str(e.cause?.code);
}

export function errorFromNetwork(endpoint: string, err: unknown, secrets: readonly string[]): PhalaApiError {
  const code = networkErrorCode(err) ?? 'UNKNOWN';
  const text = redact(err instanceof Error ? err.message : String(err), secrets);
  return new PhalaApiError({
    endpoint,
    message: `${endpoint}: no response from the Phala Cloud API (${code}): ${text}`,
    retryable: TRANSIENT_NETWORK_CODES.has(code),
    cause: err,
  });
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (field missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => {
    if (typeof key === 'number') return `${acc}[${key}]`;
    return acc ? `${acc}.${String(key)}` : String(key);
  }, '');
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur = data;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

export interface InvalidBodyInfo {
  endpoint: string;
  status: number;
  requestId?: string;
  secrets: readonly string[];
}

export function validationErrorFromZod(info: InvalidBodyInfo, error: z.ZodError, data: unknown): PhalaApiError {
  const issue = error.issues[0];
  const path = issue ? formatPath(issue.path) : '';
  const where = path ? `response field "${path}"` : 'response body';
  let what = issue?.message ?? 'does not match the expected shape';
  if (issue?.code === 'invalid_type') {
    const got = path || data !== undefined ? describeValue(valueAt(data, issue.path)) : 'an empty body';
    what = `expected ${issue.expected}, got ${got}`;
  }
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more mismatches)` : '';
  return new PhalaResponseValidationError({
    endpoint: info.endpoint,
    status: info.status,
    requestId: info.requestId,
    path,
    message: redact(`${info.endpoint}: ${where} ${what}${more}`, info.secrets),
    details: error.issues.map((i) => ({ field: formatPath(i.path), message: i.message, type: i.code })),
  });
}

export function notJsonError(info: InvalidBodyInfo, bodyText: string, contentType: string | undefined) {
  const body = snippet(redact(bodyText, info.secrets));
  return new PhalaResponseValidationError({
    endpoint: info.endpoint,
    status: info.status,
    requestId: info.requestId,
    path: '',
    message: `${info.endpoint}: response body is not JSON (${contentType ?? 'no content-type'}): "${body}"`,
  });
}

// The three error body formats of the Phala Cloud API (reference §10.1): FastAPI `{"detail": "…"}`, FastAPI
// validation `{"detail": [{loc, msg, type, …}]}` and the top-level structured `{error_code, message, details, …}`.
// Handlers throw HttpError anywhere; the server turns it into a response and fills in request_id.

export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
  input?: unknown;
  ctx?: Record<string, unknown>;
}

export interface StructuredDetail {
  field: string;
  value: unknown;
  message: string | null;
}

export interface StructuredErrorBody {
  error_code: string;
  message: string;
  details: StructuredDetail[];
  suggestions: string[];
  links: { url: string; label: string }[];
  request_id?: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body === 'object' && body && 'message' in body ? String(body.message) : `HTTP ${status}`);
  }
}

/** FastAPI's plain form, used for 401/404/409-busy and other unstructured errors. */
export function detailError(status: number, detail: string, headers?: Record<string, string>): HttpError {
  return new HttpError(status, { detail }, headers);
}

export function validationError(issues: ValidationIssue[]): HttpError {
  return new HttpError(422, { detail: issues });
}

export function structuredError(
  status: number,
  errorCode: string,
  message: string,
  opts: { details?: StructuredDetail[]; suggestions?: string[] } = {},
): HttpError {
  const body: StructuredErrorBody = {
    error_code: errorCode,
    message,
    details: opts.details ?? [],
    suggestions: opts.suggestions ?? [],
    links: [],
  };
  return new HttpError(status, body);
}

export const notFound = (what = 'CVM') => detailError(404, `${what} not found`);

/** The unstructured 409 the real API answers while a CVM has an operation running (reference §5.2). */
export const busy = () => detailError(409, 'Another operation is in progress');

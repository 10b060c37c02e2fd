// Request body reading and JSON responses for node:http, with the FastAPI error shapes for bad bodies.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { detailError, type HttpError, type ValidationIssue, validationError } from './errors';

const MAX_BODY_BYTES = 1024 * 1024;

export async function readRawBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw detailError(413, 'Request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses a JSON body; an empty body is `undefined` because the SDK posts actions with no body at all. */
export function parseJsonBody(raw: string): unknown {
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw validationError([
      {
        type: 'json_invalid',
        loc: ['body', 0],
        msg: 'JSON decode error',
        input: {},
        ctx: { error: (err as Error).message },
      },
    ]);
  }
}

const ZOD_TO_FASTAPI: Record<string, string> = {
  invalid_type: 'type_error',
  too_small: 'too_short',
  too_big: 'too_long',
  invalid_value: 'enum',
  custom: 'value_error',
};

/** Validates with zod and reports failures the way FastAPI does (422, `loc` starting at "body"). */
export function validateBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body ?? {}, { reportInput: true });
  if (result.success) return result.data;
  const issues: ValidationIssue[] = result.error.issues.map((issue) => {
    const missing = issue.code === 'invalid_type' && issue.input === undefined;
    return {
      type: missing ? 'missing' : (ZOD_TO_FASTAPI[issue.code] ?? issue.code),
      loc: ['body', ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
      msg: missing ? 'Field required' : issue.message,
      input: issue.input ?? null,
    };
  });
  throw validationError(issues);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (status === 204) {
    res.writeHead(204, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Sends an HttpError, stamping structured bodies with the request id as the real API does. */
export function sendError(res: ServerResponse, err: HttpError, requestId: string): void {
  const body =
    err.body && typeof err.body === 'object' && 'error_code' in err.body
      ? { ...err.body, request_id: requestId }
      : err.body;
  sendJson(res, err.status, body, err.headers);
}

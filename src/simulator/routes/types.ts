// What a route handler gets and returns. Handlers stay free of node:http details except SSE, which writes itself.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimCore } from '../core';
import type { RouteFault } from '../faults';
import type { Router } from '../http/router';
import type { ApiVersion, Workspace } from '../model';

export interface ApiRequest {
  req: IncomingMessage;
  res: ServerResponse;
  core: SimCore;
  params: Record<string, string>;
  query: URLSearchParams;
  version: ApiVersion;
  ws: Workspace;
  requestId: string;
  /** SSE effects of injected faults that fired on this request. */
  sseFault: RouteFault['sse'];
  rawBody(): Promise<string>;
  json(): Promise<unknown>;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** `'streaming'`: the handler owns the response (SSE). */
export type Handler = (r: ApiRequest) => Promise<Reply | 'streaming'> | Reply | 'streaming';

export type ApiRouter = Router<Handler>;

export const ok = (body: unknown, status = 200): Reply => ({ status, body });

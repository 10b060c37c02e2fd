// The admin API, on its own port and behind its own bearer token so it can never be reached with an API key:
// inspection (CVMs + history, request log, SSE streams), fault injection at run time, and reset.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { splitUrl } from './api-server';
import { addAppEndpointRoutes } from './app-endpoints';
import type { SimCore } from './core';
import { FaultProfileError } from './faults';
import { detailError, HttpError } from './http/errors';
import { parseJsonBody, readRawBody, sendError, sendJson } from './http/io';
import { Router } from './http/router';
import { listCvms, statusCounts } from './inspect';
import type { RequestLogFilter } from './request-log';
import { resolveCvm } from './resolve';

interface AdminRequest {
  core: SimCore;
  params: Record<string, string>;
  query: URLSearchParams;
  body(): Promise<unknown>;
}
type AdminHandler = (r: AdminRequest) => Promise<[number, unknown?]> | [number, unknown?];

const num = (v: string | null) => (v === null ? undefined : Number(v));

function routes(): Router<AdminHandler> {
  return new Router<AdminHandler>()
    .add('GET', '/admin/state', ({ core }) => [
      200,
      {
        timeScale: core.opts.timeScale,
        delays: core.opts.delays,
        sseStreamsPerKey: core.opts.sseStreamsPerKey,
        apiKeyIds: [...core.store.workspaces.values()].map((w) => w.keyId),
        nodes: core
          .allNodes()
          .map((n) => ({ id: n.id, name: n.name, region: n.region, images: n.images.map((i) => i.name) })),
        cvmCount: core.store.cvms.size,
        statusCounts: statusCounts(core),
        sseStreams: core.streams.counts(),
        lastRequestSeq: core.log.lastSeq(),
      },
    ])
    .add('GET', '/admin/cvms', ({ core, query }) => [
      200,
      { cvms: listCvms(core, { includeDeleted: query.get('include_deleted') === 'true' }) },
    ])
    .add('GET', '/admin/cvms/:id', ({ core, params }) => {
      const all = listCvms(core, { includeDeleted: true });
      const live = resolveCvm(core.store.cvms.values(), params.id!);
      const found = live ? all.find((v) => v.id === live.id) : resolveDeleted(core, params.id!, all);
      if (!found) throw detailError(404, 'CVM not found');
      return [200, found];
    })
    .add('GET', '/admin/requests', ({ core, query }) => {
      const filter: RequestLogFilter = {
        sinceSeq: num(query.get('since')),
        method: query.get('method') ?? undefined,
        pathPrefix: query.get('path_prefix') ?? undefined,
        route: query.get('route') ?? undefined,
        apiKeyId: query.get('api_key_id') ?? undefined,
      };
      return [200, { requests: core.log.list(filter), lastSeq: core.log.lastSeq() }];
    })
    .add('DELETE', '/admin/requests', ({ core }) => {
      core.log.clear();
      return [204];
    })
    .add('GET', '/admin/faults', ({ core }) => [200, core.faults.list()])
    .add('POST', '/admin/faults', async ({ core, body }) => {
      try {
        return [201, core.faults.add((await body()) as never)];
      } catch (err) {
        if (err instanceof FaultProfileError) throw detailError(400, err.message);
        throw err;
      }
    })
    .add('DELETE', '/admin/faults', ({ core }) => {
      core.faults.clear();
      return [204];
    })
    .add('DELETE', '/admin/faults/:id', ({ core, params }) => {
      if (!core.faults.remove(params.id!)) throw detailError(404, `No fault with id ${params.id}`);
      return [204];
    })
    .add('GET', '/admin/sse', ({ core }) => [200, { streams: core.streams.counts() }])
    .add('POST', '/admin/reset', ({ core }) => {
      core.reset();
      return [204];
    });
}

function resolveDeleted(core: SimCore, ident: string, all: ReturnType<typeof listCvms>) {
  const cvm = resolveCvm(core.deleted, ident);
  return cvm && all.find((v) => v.id === cvm.id);
}

/** Compares digests, so neither where the tokens differ nor the token's length shows in the time taken. */
function authorised(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(header.startsWith('Bearer ') ? header.slice(7) : ''), digest(token));
}

export function createAdminHandler(core: SimCore): RequestListener {
  const router = addAppEndpointRoutes(routes());
  return (req: IncomingMessage, res: ServerResponse) => {
    const { path, query } = splitUrl(req.url ?? '/');
    const run = async () => {
      if (path === '/health') return sendJson(res, 200, { status: 'ok' });
      if (!authorised(req, core.opts.adminToken)) {
        throw detailError(401, 'Invalid admin token: send Authorization: Bearer <adminToken>', {
          'WWW-Authenticate': 'Bearer',
        });
      }
      const match = router.match(req.method ?? 'GET', path);
      if (match === undefined) throw detailError(404, 'Not Found');
      if (match === 'method') throw detailError(405, 'Method Not Allowed');
      const [status, body] = await match.handler({
        core,
        params: match.params,
        query,
        body: async () => parseJsonBody(await readRawBody(req)),
      });
      sendJson(res, status, body);
    };
    run().catch((err: unknown) => {
      if (err instanceof HttpError) return sendError(res, err, 'admin');
      sendJson(res, 500, { detail: (err as Error).message });
    });
  };
}

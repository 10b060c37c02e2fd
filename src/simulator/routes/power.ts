// Power actions and deletion (reference §4 rows 6–10, §5.2). Actions answer the `VM` object with the transient
// status. While an operation runs, start/shutdown/restart answer 409; stop and delete cancel it. An action whose
// result already holds (start on a running CVM, stop on a stopped one) is a no-op, so client retries are safe.
import { z } from 'zod';
import { busy, detailError } from '../http/errors';
import { validateBody } from '../http/io';
import { STOPPED_STATUSES } from '../lifecycle';
import type { Cvm, OpKind } from '../model';
import { vmFor } from '../shapes';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';

function target(r: ApiRequest): Cvm {
  const cvm = r.core.resolve(r.ws, r.params.id!);
  if (cvm.status === 'deleting') throw detailError(409, 'CVM is being deleted');
  return cvm;
}

function act(r: ApiRequest, cvm: Cvm, kind: OpKind): Reply {
  r.core.lifecycle.begin(cvm, kind);
  return ok(vmFor(r.version, r.core, cvm));
}

function start(r: ApiRequest): Reply {
  const cvm = target(r);
  if (r.core.lifecycle.isBusy(cvm)) throw busy();
  if (cvm.status === 'running') return ok(vmFor(r.version, r.core, cvm));
  return act(r, cvm, 'start');
}

/** Force stop: always allowed, cancels the running operation (reference §4 row 7). */
function stop(r: ApiRequest): Reply {
  const cvm = target(r);
  if (cvm.op === null && STOPPED_STATUSES.has(cvm.status)) return ok(vmFor(r.version, r.core, cvm));
  return act(r, cvm, 'stop');
}

function shutdown(r: ApiRequest): Reply {
  const cvm = target(r);
  if (r.core.lifecycle.isBusy(cvm)) throw busy();
  if (STOPPED_STATUSES.has(cvm.status)) return ok(vmFor(r.version, r.core, cvm));
  return act(r, cvm, 'shutdown');
}

const RestartBody = z.object({ force: z.boolean().nullish() }).passthrough();

async function restart(r: ApiRequest): Promise<Reply> {
  validateBody(RestartBody, await r.json());
  const cvm = target(r);
  if (r.core.lifecycle.isBusy(cvm)) throw busy();
  return act(r, cvm, 'restart');
}

/** 204 at once; the CVM stays visible as `deleting` for `delays.delete`, then 404 (reference §4 row 10). */
function remove(r: ApiRequest): Reply {
  const cvm = r.core.resolve(r.ws, r.params.id!);
  if (cvm.status !== 'deleting') r.core.lifecycle.begin(cvm, 'delete');
  return { status: 204 };
}

export function registerPowerRoutes(router: ApiRouter): void {
  router
    .add('POST', '/cvms/:id/start', start)
    .add('POST', '/cvms/:id/stop', stop)
    .add('POST', '/cvms/:id/shutdown', shutdown)
    .add('POST', '/cvms/:id/restart', restart)
    .add('DELETE', '/cvms/:id', remove);
}

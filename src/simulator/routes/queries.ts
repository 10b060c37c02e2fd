// Reads: CVM detail and lists (versioned shapes), JSON state, batch status, and the app views the CLI's
// `cvms list` is built on (`/apps` + `/status/batch`, reference §11).
import { z } from 'zod';
import { INSTANCE_TYPES } from '../catalog';
import { notFound, validationError } from '../http/errors';
import { validateBody } from '../http/io';
import type { AppRecord, Cvm } from '../model';
import { normaliseAppId } from '../resolve';
import { appFor, batchStatus, cvmDetailFor, cvmListItemFor, cvmState, hashids } from '../shapes';
import { pageParams, paginate } from './resources';
import { streamState } from './sse';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';

/** 2026-05-22 adds the `family` and `instance_types` list filters and removes `node_id`/`teepod_id`/`user_id` (the
 * Python SDK refuses them as "removed filters"): a request still sending one learns it instead of getting everything. */
const REMOVED_LIST_FILTERS = ['node_id', 'teepod_id', 'user_id'];
const FAMILIES = ['all', 'cpu', 'gpu'];

function listFilter(r: ApiRequest): (c: Cvm) => boolean {
  if (!hashids(r.version)) {
    const nodeFilter = Number(r.query.get('node_id') ?? r.query.get('teepod_id') ?? Number.NaN);
    return (c) => Number.isNaN(nodeFilter) || c.nodeId === nodeFilter;
  }
  const issues = REMOVED_LIST_FILTERS.filter((k) => r.query.has(k)).map((k) => ({
    type: 'extra_forbidden',
    loc: ['query', k],
    msg: `The ${k} filter was removed in API version 2026-05-22; filter by family or instance_types`,
    input: r.query.get(k),
  }));
  const family = r.query.get('family');
  if (family !== null && !FAMILIES.includes(family)) {
    issues.push({
      type: 'literal_error',
      loc: ['query', 'family'],
      msg: `Input should be ${FAMILIES.map((f) => `'${f}'`).join(', ')}`,
      input: family,
    });
  }
  if (issues.length > 0) throw validationError(issues);
  // Repeated (`instance_types=a&instance_types=b`, what httpx sends for a list) or comma-separated.
  const types = new Set(r.query.getAll('instance_types').flatMap((v) => v.split(',').filter(Boolean)));
  const familyOf = (c: Cvm) => INSTANCE_TYPES.find((t) => t.id === c.instanceType)?.family ?? 'cpu';
  return (c) =>
    (family === null || family === 'all' || familyOf(c) === family) &&
    (types.size === 0 || (c.instanceType !== null && types.has(c.instanceType)));
}

function workspaceCvms(r: ApiRequest): Cvm[] {
  const keep = listFilter(r);
  return [...r.core.store.cvmsOf(r.ws.id)].filter(keep).sort((a, b) => b.id - a.id);
}

function cvmPage(r: ApiRequest): Reply {
  const { page, pageSize } = pageParams(r, 30);
  const items = workspaceCvms(r).map((c) => cvmListItemFor(r.version, r.core, c));
  return ok(paginate(items, page, pageSize));
}

function cvmArray(r: ApiRequest): Reply {
  return ok(workspaceCvms(r).map((c) => cvmListItemFor(r.version, r.core, c)));
}

function cvmDetail(r: ApiRequest): Reply {
  return ok(cvmDetailFor(r.version, r.core, r.core.resolve(r.ws, r.params.id!)));
}

/** `target` switches the endpoint from JSON to SSE (reference §6.1). */
function state(r: ApiRequest): Reply | 'streaming' {
  if (r.query.has('target')) return streamState(r);
  return ok(cvmState(r.core, r.core.resolve(r.ws, r.params.id!)));
}

const BatchBody = z.object({ vm_uuids: z.array(z.string()) });

/** Keyed by the uuid as the client sent it, so it finds its own keys; unknown uuids are left out. */
async function statusBatch(r: ApiRequest): Promise<Reply> {
  const { vm_uuids } = validateBody(BatchBody, await r.json());
  const out: Record<string, unknown> = {};
  for (const raw of vm_uuids) {
    const cvm = r.core.store.cvmByUuid(r.ws.id, raw);
    if (cvm) out[raw] = batchStatus(r.core, cvm);
  }
  return ok(out);
}

function appsOfWorkspace(r: ApiRequest): { app: AppRecord; cvms: Cvm[] }[] {
  return [...r.core.store.apps.values()]
    .filter((a) => a.workspaceId === r.ws.id)
    .map((app) => ({ app, cvms: r.core.store.cvmsOfApp(r.ws.id, app.appId) }))
    .filter((a) => a.cvms.length > 0)
    .sort((a, b) => b.app.createdAt.getTime() - a.app.createdAt.getTime());
}

function matchesAppFilters(r: ApiRequest, { app, cvms }: { app: AppRecord; cvms: Cvm[] }): boolean {
  const q = r.query;
  const search = q.get('search')?.toLowerCase();
  const statuses = q.getAll('status').map((s) => s.toLowerCase());
  const listed = q.get('listed');
  const eq = (key: string, value: (c: Cvm) => string | null) => {
    const want = q.get(key);
    return want === null || cvms.some((c) => value(c)?.toLowerCase() === want.toLowerCase());
  };
  return (
    (!search ||
      app.name.toLowerCase().includes(search) ||
      cvms.some((c) => [c.appId, c.vmUuid, c.instanceId, c.name].some((v) => v.toLowerCase().includes(search)))) &&
    (statuses.length === 0 || cvms.some((c) => statuses.includes(c.status))) &&
    (listed === null || cvms.some((c) => c.listed === (listed === 'true'))) &&
    eq('kms_type', (c) => c.kmsType) &&
    eq('base_image', (c) => c.image) &&
    eq('instance_type', (c) => c.instanceType) &&
    eq('node', (c) => r.core.nodeOf(c).name) &&
    eq('region', (c) => r.core.nodeOf(c).region)
  );
}

function appList(r: ApiRequest): Reply {
  const { page, pageSize } = pageParams(r, 20);
  const apps = appsOfWorkspace(r).filter((a) => matchesAppFilters(r, a));
  const { items, total, pages } = paginate(apps, page, pageSize);
  return ok({
    dstack_apps: items.map(({ app, cvms }) => appFor(r.version, r.core, app, cvms)),
    page,
    page_size: pageSize,
    total,
    total_pages: pages,
  });
}

function findApp(r: ApiRequest): AppRecord {
  const appId = normaliseAppId(r.params.appId!);
  const app = appId ? r.core.store.apps.get(appId) : undefined;
  if (!app || app.workspaceId !== r.ws.id) throw notFound('App');
  return app;
}

function appDetail(r: ApiRequest): Reply {
  const app = findApp(r);
  return ok(appFor(r.version, r.core, app, r.core.store.cvmsOfApp(r.ws.id, app.appId)));
}

function appCvms(r: ApiRequest): Reply {
  const app = findApp(r);
  return ok(r.core.store.cvmsOfApp(r.ws.id, app.appId).map((c) => cvmListItemFor(r.version, r.core, c)));
}

export function registerQueryRoutes(router: ApiRouter): void {
  router
    .add('GET', '/cvms/paginated', cvmPage)
    .add('GET', '/cvms', cvmArray)
    .add('GET', '/cvms/:id', cvmDetail)
    .add('GET', '/cvms/:id/state', state)
    .add('POST', '/status/batch', statusBatch)
    .add('GET', '/apps', appList)
    .add('GET', '/apps/:appId', appDetail)
    .add('GET', '/apps/:appId/cvms', appCvms);
}

// App revisions (reference §11): every compose or env change of a CVM is a revision of its app, listed newest
// first and readable in full (compose, encrypted env, user config). `POST /apps/{id}/revisions/{rev}/redeploy`
// with `vm_uuids` moves those CVMs of the app onto the revision's compose and env in place — same vm_uuid, name
// and instance id, through the `update` operation — which is how Terraform's members mode fans an update out
// (terraform-provider-phala resource_app_members_update.go; Go SDK RedeployAppRevision, 202 on accept). For
// on-chain KMS apps the revision's compose hash must be allowed on chain first (465, then 468).
import { z } from 'zod';
import { canonicalJson } from '../compose';
import { busy, detailError, structuredError, validationError } from '../http/errors';
import { validateBody } from '../http/io';
import type { AppRecord, Cvm } from '../model';
import { normaliseAppId } from '../resolve';
import { type Revision, revisionsOf } from '../side-state';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';
import { applyUpdate, onChainDetails } from './update-common';

/** The caller's app, by any id form the API accepts (`app_…`, `0x…`, bare hex). */
export function findApp(r: ApiRequest): AppRecord {
  const appId = normaliseAppId(r.params.appId!);
  const app = appId ? r.core.store.apps.get(appId) : undefined;
  if (!app || app.workspaceId !== r.ws.id) throw detailError(404, 'App not found');
  return app;
}

function revisionSummary(r: ApiRequest, rev: Revision) {
  const ws = r.core.store.workspace(rev.workspaceId);
  return {
    revision_id: rev.revisionId,
    app_id: rev.appId,
    vm_uuid: rev.vmUuid,
    compose_hash: rev.composeHash,
    created_at: rev.createdAt.toISOString(),
    trace_id: rev.traceId,
    operation_type: rev.operationType,
    triggered_by: { object_type: 'user' as const, id: String(ws.userId), username: ws.username, avatar_url: null },
    cvm: { object_type: 'cvm' as const, id: rev.cvmHashid, name: rev.cvmName, app_id: rev.appId, vm_uuid: rev.vmUuid },
    workspace: { object_type: 'workspace' as const, id: ws.id, name: ws.name, slug: ws.slug, avatar_url: null },
  };
}

function listRevisions(r: ApiRequest): Reply {
  const app = findApp(r);
  const page = Number(r.query.get('page') ?? 1);
  const pageSize = Number(r.query.get('page_size') ?? 20);
  for (const [field, v, max] of [
    ['page', page, Number.POSITIVE_INFINITY],
    ['page_size', pageSize, 1000],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > max) {
      throw validationError([
        {
          type: 'value_error',
          loc: ['query', field],
          msg: `Value error, ${field} must be an integer from 1${Number.isFinite(max) ? ` to ${max}` : ''}`,
          input: r.query.get(field),
        },
      ]);
    }
  }
  const all = revisionsOf(r.core, app.appId);
  return ok({
    revisions: all.slice((page - 1) * pageSize, page * pageSize).map((rev) => revisionSummary(r, rev)),
    total: all.length,
    page,
    page_size: pageSize,
    total_pages: Math.max(1, Math.ceil(all.length / pageSize)),
  });
}

function findRevision(r: ApiRequest, app: AppRecord): Revision {
  const rev = revisionsOf(r.core, app.appId).find((x) => x.revisionId === r.params.rev);
  if (!rev) throw detailError(404, `Revision ${r.params.rev} not found for app ${app.appId}`);
  return rev;
}

/** `raw_compose_file=true` answers the compose as the exact JSON string that was hashed. */
function revisionDetail(r: ApiRequest): Reply {
  const app = findApp(r);
  const rev = findRevision(r, app);
  const raw = r.query.get('raw_compose_file') === 'true';
  return ok({
    ...revisionSummary(r, rev),
    compose_file: raw ? canonicalJson(rev.appCompose) : rev.appCompose,
    encrypted_env: rev.encryptedEnv,
    user_config: JSON.stringify({ hostname: rev.cvmName, ssh_authorized_keys: [] }),
  });
}

const RedeployBody = z.object({ vm_uuids: z.array(z.string().min(1)).nullish() });

async function redeploy(r: ApiRequest): Promise<Reply> {
  const body = validateBody(RedeployBody, await r.json());
  const { core } = r;
  const app = findApp(r);
  const rev = findRevision(r, app);
  const appCvms = core.store.cvmsOfApp(r.ws.id, app.appId);
  const targets: Cvm[] = [];
  for (const uuid of body.vm_uuids ?? appCvms.map((c) => c.vmUuid)) {
    const cvm = core.store.cvmByUuid(r.ws.id, uuid);
    if (!cvm || cvm.appId !== app.appId) {
      throw structuredError(400, 'ERR-02-008', `vm_uuid ${uuid} is not a CVM of app ${app.appId}`, {
        details: [{ field: 'vm_uuids', value: uuid, message: 'not a CVM of this app' }],
        suggestions: ['List the app CVMs with GET /apps/{app_id}/cvms'],
      });
    }
    targets.push(cvm);
  }
  if (targets.length === 0) throw detailError(400, 'No CVMs to redeploy: vm_uuids is empty and the app has none');
  // All or nothing: one busy or deleting CVM refuses the whole request before any CVM is touched.
  for (const cvm of targets) {
    if (cvm.status === 'deleting') throw detailError(409, `CVM ${cvm.vmUuid} is being deleted`);
    if (core.lifecycle.isBusy(cvm)) throw busy();
  }
  if (app.kmsType !== 'phala') {
    const allowed = await core.opts.onChainVerifier!.isComposeHashAllowed(app.appId, rev.composeHash);
    if (!allowed) {
      const status = r.query.get('transaction_hash') ? 468 : 465;
      throw structuredError(
        status,
        status === 465 ? 'ERR-01-005' : 'ERR-01-008',
        status === 465
          ? 'Compose hash registration required on-chain'
          : `Compose hash ${rev.composeHash} is not allowed on-chain for app 0x${app.appId}`,
        {
          details: onChainDetails(core, targets[0]!, rev.composeHash),
          suggestions: ['Call addComposeHash on the app contract, then retry with ?transaction_hash='],
        },
      );
    }
  }
  const items = targets.map((cvm) => ({
    vm_uuid: cvm.vmUuid,
    correlation_id: applyUpdate(core, cvm, {
      appCompose: rev.appCompose,
      encryptedEnv: rev.encryptedEnv === '' ? undefined : rev.encryptedEnv,
      envKeys: rev.envKeys,
    }),
  }));
  return {
    status: 202,
    body: { status: 'in_progress', message: 'Redeploy in progress', revision_id: rev.revisionId, items },
  };
}

export function registerAppRevisionRoutes(router: ApiRouter): void {
  router
    .add('GET', '/apps/:appId/revisions', listRevisions)
    .add('GET', '/apps/:appId/revisions/:rev', revisionDetail)
    .add('POST', '/apps/:appId/revisions/:rev/redeploy', redeploy);
}

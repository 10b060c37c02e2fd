// The single-purpose updates of a CVM (reference §4 rows 17–23): docker compose (raw YAML) and pre-launch script
// (raw text), visibility, resources and OS image, the instance-id refresh, and the metadata-only listing flag and
// rename. Each change goes through the same
// `update` operation as the other updates (updating → restarting → running, 409 while an operation runs), so a
// resize or an OS upgrade reboots the CVM. Changes that move the compose hash of an on-chain-KMS CVM follow the
// two-phase flow of reference §7.2: 465 with the hash to register, then the same request with X-Compose-Hash and
// X-Transaction-Hash, applied once the chain allows the hash (466 wrong hash, 468 not allowed).
import { z } from 'zod';
import { DEFAULT_INSTANCE_TYPE, INSTANCE_TYPES } from '../catalog';
import { type AppCompose, composeHash, normaliseAppCompose } from '../compose';
import type { SimCore } from '../core';
import { busy, detailError, structuredError, validationError } from '../http/errors';
import { parseJsonBody, validateBody } from '../http/io';
import { STOPPED_STATUSES } from '../lifecycle';
import type { Cvm, UpdateChange } from '../model';
import { vmShape } from '../shapes';
import { cvmDetail } from '../shapes/v20251028';
import { checkComposeFile, checkName } from './checks';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';
import { applyUpdate, onChainDetails, requireHashAllowed, updatable } from './update-common';

const inProgress = (correlationId: string, message: string): Reply => ({
  status: 202,
  body: { status: 'in_progress', message, correlation_id: correlationId },
});

/** A CVM that can take an update now: not being deleted, no operation running (409 otherwise). */
function idle(r: ApiRequest): Cvm {
  const cvm = updatable(r);
  if (r.core.lifecycle.isBusy(cvm)) throw busy();
  return cvm;
}

const bareHash = (h: string) => h.toLowerCase().replace(/^0x/, '');

/**
 * The on-chain gate for a compose change: phala-KMS CVMs pass; on-chain ones need the new hash confirmed in the
 * X-Compose-Hash / X-Transaction-Hash headers and allowed on chain.
 */
async function gateOnChain(r: ApiRequest, cvm: Cvm, next: AppCompose): Promise<void> {
  const hash = composeHash(next);
  if (cvm.kmsType === 'phala' || hash === cvm.composeHash) return;
  const header = (name: string) => {
    const v = r.req.headers[name];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const claimed = header('x-compose-hash');
  const tx = header('x-transaction-hash');
  if (!claimed || !tx) {
    throw structuredError(465, 'ERR-01-005', 'Compose hash registration required on-chain', {
      details: onChainDetails(r.core, cvm, hash),
      suggestions: ['Call addComposeHash on the app contract, then retry with X-Compose-Hash and X-Transaction-Hash'],
    });
  }
  if (bareHash(claimed) !== hash) {
    throw structuredError(466, 'ERR-01-006', `Compose hash ${bareHash(claimed)} does not match this change`, {
      details: onChainDetails(r.core, cvm, hash),
    });
  }
  await requireHashAllowed(r.core, cvm, hash);
}

/** The raw body as text, or a JSON `{ [field]: string }` — the two forms clients send for file updates. */
async function textField(r: ApiRequest, field: string, allowEmpty: boolean): Promise<string> {
  const raw = await r.rawBody();
  const type = String(r.req.headers['content-type'] ?? '');
  let value: unknown = raw;
  if (type.includes('application/json')) {
    const body = parseJsonBody(raw);
    value = body && typeof body === 'object' ? (body as Record<string, unknown>)[field] : undefined;
  }
  if (typeof value !== 'string' || (!allowEmpty && value.trim() === '')) {
    throw validationError([
      {
        type: 'missing',
        loc: ['body', field],
        msg: `Field required: send ${field} as the request body (text) or as JSON {"${field}": "…"}`,
        input: null,
      },
    ]);
  }
  return value;
}

async function updateDockerCompose(r: ApiRequest): Promise<Reply> {
  const file = await textField(r, 'docker_compose_file', false);
  const cvm = idle(r);
  const input = checkComposeFile({ ...cvm.appCompose, docker_compose_file: file });
  const next = normaliseAppCompose(input, cvm.appCompose.name);
  await gateOnChain(r, cvm, next);
  return inProgress(applyUpdate(r.core, cvm, { appCompose: next }), 'Docker compose update in progress');
}

/** An empty script removes it (the compose then has no pre_launch_script key, as normalisation drops it). */
async function updatePreLaunchScript(r: ApiRequest): Promise<Reply> {
  const script = await textField(r, 'pre_launch_script', true);
  const cvm = idle(r);
  const next = normaliseAppCompose({ ...cvm.appCompose, pre_launch_script: script }, cvm.appCompose.name);
  await gateOnChain(r, cvm, next);
  return inProgress(applyUpdate(r.core, cvm, { appCompose: next }), 'Pre-launch script update in progress');
}

const VisibilityBody = z.object({
  public_sysinfo: z.boolean(),
  public_logs: z.boolean(),
  public_tcbinfo: z.boolean().nullish(),
});

/** Visibility flags live in the app compose, so changing them is a compose change (and a restart). */
async function updateVisibility(r: ApiRequest): Promise<Reply> {
  const body = validateBody(VisibilityBody, await r.json());
  const cvm = idle(r);
  const next = normaliseAppCompose(
    {
      ...cvm.appCompose,
      public_sysinfo: body.public_sysinfo,
      public_logs: body.public_logs,
      ...(typeof body.public_tcbinfo === 'boolean' ? { public_tcbinfo: body.public_tcbinfo } : {}),
    },
    cvm.appCompose.name,
  );
  await gateOnChain(r, cvm, next);
  if (composeHash(next) !== cvm.composeHash) applyUpdate(r.core, cvm, { appCompose: next });
  return ok(cvmDetail(r.core, cvm));
}

/**
 * The API validates with pydantic's lax booleans: 0/1 and "true"/"false" count too. `phala cvms resize` relies on
 * it — it sends `allow_restart` as 1 or 0.
 */
const laxBool = z.preprocess((v) => {
  if (v === 1 || v === '1' || v === 'true') return true;
  if (v === 0 || v === '0' || v === 'false') return false;
  return v;
}, z.boolean());

const ResourcesBody = z.object({
  vcpu: z.number().int().positive().nullish(),
  memory: z.number().int().positive().nullish(),
  disk_size: z.number().int().positive().nullish(),
  instance_type: z.string().min(1).nullish(),
  allow_restart: laxBool.nullish(),
});

function fieldError(field: string, value: unknown, message: string) {
  return structuredError(400, 'ERR-02-010', message, { details: [{ field, value, message: null }] });
}

/**
 * Resize: an instance type sets vCPUs and memory together; disks only grow. A running CVM reboots into the new
 * size; `allow_restart: false` refuses that instead of restarting it behind the caller's back.
 */
async function updateResources(r: ApiRequest): Promise<Reply> {
  const body = validateBody(ResourcesBody, await r.json());
  const cvm = idle(r);
  const res: NonNullable<UpdateChange['resources']> = {};
  if (body.instance_type) {
    const type = INSTANCE_TYPES.find((t) => t.id === body.instance_type);
    if (!type) {
      throw fieldError(
        'instance_type',
        body.instance_type,
        `Unknown instance_type '${body.instance_type}'; GET /instance-types lists them (e.g. ${DEFAULT_INSTANCE_TYPE})`,
      );
    }
    res.vcpu = type.vcpu;
    res.memoryMb = type.memory_mb;
  }
  if (body.vcpu) res.vcpu = body.vcpu;
  if (body.memory) res.memoryMb = body.memory;
  if (body.disk_size) {
    if (body.disk_size < cvm.diskGb) {
      throw fieldError('disk_size', body.disk_size, `disk_size can only grow: the CVM has ${cvm.diskGb} GB`);
    }
    res.diskGb = body.disk_size;
  }
  if (Object.keys(res).length === 0) {
    throw validationError([
      {
        type: 'value_error',
        loc: ['body'],
        msg: 'Value error, give at least one of vcpu, memory, disk_size, instance_type',
        input: body,
      },
    ]);
  }
  if (body.allow_restart === false && !STOPPED_STATUSES.has(cvm.status)) {
    throw fieldError(
      'allow_restart',
      false,
      'Resizing a running CVM restarts it: send allow_restart true, or stop it first',
    );
  }
  applyUpdate(r.core, cvm, { resources: res });
  if (body.instance_type) cvm.instanceType = body.instance_type;
  return { status: 202, body: { status: 'in_progress', message: 'Resource update in progress' } };
}

const OsImageBody = z.object({ os_image_name: z.string().min(1) });

async function updateOsImage(r: ApiRequest): Promise<Reply> {
  const body = validateBody(OsImageBody, await r.json());
  const cvm = idle(r);
  const node = r.core.nodeOf(cvm);
  if (!node.images.some((i) => i.name === body.os_image_name)) {
    throw fieldError(
      'os_image_name',
      body.os_image_name,
      `Image '${body.os_image_name}' is not available on node ${node.name}; GET /cvms/{id}/available-os-images lists them`,
    );
  }
  if (body.os_image_name === cvm.image) {
    throw fieldError('os_image_name', body.os_image_name, `The CVM already runs ${cvm.image}`);
  }
  applyUpdate(r.core, cvm, { resources: { image: body.os_image_name } });
  return { status: 202, body: { status: 'in_progress', message: 'OS image update in progress' } };
}

/** The node's images grouped by version, each with its prod and dev variant (newest first). */
function availableOsImages(r: ApiRequest): Reply {
  const cvm = r.core.resolve(r.ws, r.params.id!);
  const byVersion = new Map<string, { version: number[]; prod: unknown; dev: unknown }>();
  for (const img of r.core.nodeOf(cvm).images) {
    const key = img.version.join('.');
    const entry = byVersion.get(key) ?? { version: [...img.version], prod: null, dev: null };
    const variant = { name: img.name, os_image_hash: img.osImageHash, is_current: img.name === cvm.image };
    if (img.isDev) entry.dev = variant;
    else entry.prod = variant;
    byVersion.set(key, entry);
  }
  const list = [...byVersion.values()].sort((a, b) => {
    for (let i = 0; i < 4; i++)
      if ((a.version[i] ?? 0) !== (b.version[i] ?? 0)) return (b.version[i] ?? 0) - (a.version[i] ?? 0);
    return 0;
  });
  return ok(list);
}

/**
 * The real API re-reads instance ids from the node (or the gateway) when they went missing; the simulator always
 * knows them, so a refresh finds them unchanged — or skips a CVM that is not running, as the node has no state.
 */
function refreshResult(cvm: Cvm, identifier: string) {
  const running = cvm.status === 'running';
  return {
    cvm_id: cvm.id,
    identifier,
    status: running ? ('unchanged' as const) : ('skipped' as const),
    old_instance_id: cvm.instanceId,
    new_instance_id: running ? cvm.instanceId : null,
    source: running ? ('teepod_state' as const) : ('none' as const),
    verified_with_gateway: false,
    reason: running ? null : `CVM is ${cvm.status}`,
  };
}

const RefreshBody = z.object({ overwrite: z.boolean().nullish(), dry_run: z.boolean().nullish() });

async function refreshInstanceId(r: ApiRequest): Promise<Reply> {
  validateBody(RefreshBody, await r.json());
  const cvm = r.core.resolve(r.ws, r.params.id!);
  return ok(refreshResult(cvm, r.params.id!));
}

const RefreshManyBody = z.object({
  cvm_ids: z.array(z.string()).nullish(),
  running_only: z.boolean().nullish(),
  missing_only: z.boolean().nullish(),
  overwrite: z.boolean().nullish(),
  limit: z.number().int().min(1).max(500).nullish(),
  dry_run: z.boolean().nullish(),
});

async function refreshInstanceIds(r: ApiRequest): Promise<Reply> {
  const body = validateBody(RefreshManyBody, await r.json());
  const core: SimCore = r.core;
  const targets = body.cvm_ids
    ? body.cvm_ids.map((id) => ({ id, cvm: core.resolve(r.ws, id) }))
    : [...core.store.cvmsOf(r.ws.id)].sort((a, b) => a.id - b.id).map((c) => ({ id: c.vmUuid, cvm: c }));
  // No simulated CVM ever lacks an instance id, so `missing_only` scans nothing.
  const scanned = targets
    .filter((t) => !body.running_only || t.cvm.status === 'running')
    .filter(() => !body.missing_only)
    .slice(0, body.limit ?? 100);
  const items = scanned.map((t) => refreshResult(t.cvm, t.id));
  const count = (s: string) => items.filter((i) => i.status === s).length;
  return ok({
    total: targets.length,
    scanned: items.length,
    updated: 0,
    unchanged: count('unchanged'),
    skipped: count('skipped'),
    conflicts: 0,
    errors: 0,
    items,
  });
}

const ListedBody = z.object({ listed: z.boolean() });

/** Marketplace listing is metadata: no operation, no restart, allowed while one runs (Go SDK UpdateCVMListed). */
async function updateListed(r: ApiRequest): Promise<Reply> {
  const body = validateBody(ListedBody, await r.json());
  const cvm = updatable(r);
  cvm.listed = body.listed;
  return ok(vmShape(r.core, cvm));
}

const NameBody = z.object({ name: z.string() });

/**
 * Rename (terraform-provider-phala docs/design-notes/cvm-rename-endpoint.md): hostname rules (422), 400 with a
 * plain detail when another CVM of the workspace has the name, 204 on success. Metadata only, like `listed`.
 */
async function rename(r: ApiRequest): Promise<Reply> {
  const body = validateBody(NameBody, await r.json());
  checkName(body.name);
  const cvm = updatable(r);
  for (const other of r.core.store.cvmsOf(r.ws.id)) {
    if (other !== cvm && other.name === body.name) {
      throw detailError(400, `CVM name "${body.name}" is already in use in this workspace`);
    }
  }
  cvm.name = body.name;
  return { status: 204 };
}

export function registerFieldUpdateRoutes(router: ApiRouter): void {
  router
    .add('PATCH', '/cvms/instance-ids', refreshInstanceIds)
    .add('PATCH', '/cvms/:id/docker-compose', updateDockerCompose)
    .add('PATCH', '/cvms/:id/pre-launch-script', updatePreLaunchScript)
    .add('PATCH', '/cvms/:id/visibility', updateVisibility)
    .add('PATCH', '/cvms/:id/resources', updateResources)
    .add('PATCH', '/cvms/:id/os-image', updateOsImage)
    .add('GET', '/cvms/:id/available-os-images', availableOsImages)
    .add('PATCH', '/cvms/:id/instance-id', refreshInstanceId)
    .add('PATCH', '/cvms/:id/listed', updateListed)
    .add('PATCH', '/cvms/:id/name', rename);
}

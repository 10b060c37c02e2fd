// Unified PATCH /cvms/{id} (reference §7.3), what `phala deploy --cvm-id` and the SDK's patchCvm send: any subset of
// compose fields, visibility, env and size in one request → 202 {correlation_id}. For an on-chain CVM whose compose
// hash changes and is not yet approved, phase 1 answers 465 with the hash to register and keeps the change; phase 2
// is the same PATCH with an empty body and X-Compose-Hash / X-Transaction-Hash, applied once the verifier allows the
// hash (else 468). The transaction hash is not checked: the simulator verifies on-chain state, as the API does for
// the CLI's "already-registered" sentinel.
import { z } from 'zod';
import { composeHash, normaliseAppCompose } from '../compose';
import { checkEncryptedEnv } from '../env-check';
import { busy, detailError, structuredError } from '../http/errors';
import { validateBody } from '../http/io';
import { newCorrelationId } from '../ids';
import type { UpdateChange } from '../model';
import { commitTokenDetails } from './prepared-updates';
import type { ApiRequest, ApiRouter, Reply } from './types';
import { applyUpdate, onChainDetails, privateKey, requireHashAllowed, updatable } from './update-common';

const COMPOSE_FIELDS = [
  'docker_compose_file',
  'pre_launch_script',
  'allowed_envs',
  'public_logs',
  'public_sysinfo',
  'public_tcbinfo',
  'gateway_enabled',
  'secure_time',
] as const;

/** user_config, gpus, shutdown_timeout and allow_force_stop are accepted but have no simulated effect. */
const PatchBody = z
  .object({
    docker_compose_file: z.string().optional(),
    pre_launch_script: z.string().optional(),
    allowed_envs: z.array(z.string()).optional(),
    public_logs: z.boolean().optional(),
    public_sysinfo: z.boolean().optional(),
    public_tcbinfo: z.boolean().optional(),
    gateway_enabled: z.boolean().optional(),
    secure_time: z.boolean().optional(),
    encrypted_env: z.string().optional(),
    env_keys: z.array(z.string()).optional(),
    listed: z.boolean().optional(),
    vcpu: z.number().int().positive().optional(),
    memory: z.number().int().positive().optional(),
    disk_size: z.number().int().positive().optional(),
    image: z.string().optional(),
  })
  .passthrough();

const accepted = (correlationId: string): Reply => ({ status: 202, body: { correlation_id: correlationId } });

async function patchCvm(r: ApiRequest): Promise<Reply> {
  const { core } = r;
  const body = validateBody(PatchBody, await r.json());
  const cvm = updatable(r);
  const headerHash = r.req.headers['x-compose-hash'];
  const confirming = typeof headerHash === 'string' && typeof r.req.headers['x-transaction-hash'] === 'string';
  if (core.lifecycle.isBusy(cvm)) throw busy();

  if (confirming && Object.keys(body).length === 0) {
    const hash = headerHash.toLowerCase().replace(/^0x/, '');
    const pending = core.store.pendingUpdates.get(`${cvm.id}/${hash}`);
    if (!pending) {
      throw structuredError(466, 'ERR-01-006', `No pending update with compose hash ${hash} for this CVM`, {
        details: [{ field: 'compose_hash', value: hash, message: 'send the update again to get a fresh hash' }],
      });
    }
    await requireHashAllowed(core, cvm, hash);
    core.store.pendingUpdates.delete(`${cvm.id}/${hash}`);
    return accepted(applyUpdate(core, cvm, pending));
  }

  if (body.listed !== undefined) cvm.listed = body.listed;
  const change: UpdateChange = {};
  const composeInput: Record<string, unknown> = { ...cvm.appCompose };
  let composeTouched = false;
  for (const field of COMPOSE_FIELDS) {
    if (body[field] !== undefined) {
      composeInput[field] = body[field];
      composeTouched = true;
    }
  }
  if (body.env_keys && body.allowed_envs === undefined) {
    composeInput.allowed_envs = body.env_keys;
    composeTouched = true;
  }
  if (composeTouched) change.appCompose = normaliseAppCompose(composeInput, cvm.appCompose.name);
  const allowed = (change.appCompose ?? cvm.appCompose).allowed_envs;
  if (body.encrypted_env !== undefined) {
    change.envKeys = checkEncryptedEnv(body.encrypted_env, privateKey(core, cvm), allowed);
    change.encryptedEnv = body.encrypted_env;
  }
  if (body.image !== undefined && !core.nodeOf(cvm).images.some((i) => i.name === body.image)) {
    throw structuredError(
      400,
      'ERR-02-010',
      `Image '${body.image}' is not available on node ${core.nodeOf(cvm).name}`,
      {
        details: [{ field: 'image', value: body.image, message: null }],
      },
    );
  }
  if (body.vcpu ?? body.memory ?? body.disk_size ?? body.image) {
    change.resources = { vcpu: body.vcpu, memoryMb: body.memory, diskGb: body.disk_size, image: body.image };
  }
  if (!change.appCompose && !change.encryptedEnv && !change.resources) {
    // `listed` alone is metadata: no operation runs, but clients still expect a correlation id.
    if (body.listed !== undefined) return accepted(newCorrelationId());
    throw detailError(400, 'No updatable fields in the request body');
  }

  const newHash = change.appCompose ? composeHash(change.appCompose) : cvm.composeHash;
  const verifier = core.opts.onChainVerifier;
  // X-Prepare-Only (multisig): an on-chain compose change is never applied here, only prepared for commit-update.
  const prepareOnly = r.req.headers['x-prepare-only'] === 'true';
  const onChainChange = cvm.kmsType !== 'phala' && newHash !== cvm.composeHash;
  const hashAllowed = onChainChange && (await verifier!.isComposeHashAllowed(cvm.appId, newHash));
  if (onChainChange && (prepareOnly || !hashAllowed)) {
    core.store.pendingUpdates.set(`${cvm.id}/${newHash}`, change);
    const deviceAllowed = await verifier!.isDeviceAllowed(cvm.appId, core.nodeOf(cvm).deviceId);
    throw structuredError(465, 'ERR-01-005', 'Compose hash registration required on-chain', {
      details: [
        ...onChainDetails(core, cvm, newHash),
        {
          field: 'onchain_status',
          value: {
            compose_hash_allowed: hashAllowed,
            device_id_allowed: deviceAllowed,
            is_allowed: hashAllowed && deviceAllowed,
          },
          message: null,
        },
        ...(prepareOnly ? commitTokenDetails(core, cvm, newHash, change) : []),
      ],
      suggestions: [
        'Call addComposeHash on the app contract, then PATCH again with X-Compose-Hash and X-Transaction-Hash',
      ],
    });
  }
  return accepted(applyUpdate(core, cvm, change));
}

export function registerPatchRoutes(router: ApiRouter): void {
  router.add('PATCH', '/cvms/:id', patchCvm);
}

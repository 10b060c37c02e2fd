// Updates of a running app (reference §7): the legacy two-step compose update (GET compose_file → POST
// compose_file/provision → PATCH compose_file, 202) and PATCH /envs (202). Each restarts the CVM through the
// `update` operation (updating → restarting → running) and moves it to the new compose_hash.
import { z } from 'zod';
import { composeHash, normaliseAppCompose } from '../compose';
import { checkEncryptedEnv, checkKeysAllowed } from '../env-check';
import { busy, detailError, structuredError } from '../http/errors';
import { validateBody } from '../http/io';
import { kmsInfo } from '../shapes';
import { checkComposeFile } from './checks';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';
import { applyUpdate, onChainDetails, privateKey, requireHashAllowed, updatable } from './update-common';

function getComposeFile(r: ApiRequest): Reply {
  return ok(r.core.resolve(r.ws, r.params.id!).appCompose);
}

async function provisionComposeUpdate(r: ApiRequest): Promise<Reply> {
  const { core, ws } = r;
  const cvm = updatable(r);
  const body = await r.json();
  const input = checkComposeFile(body && typeof body === 'object' ? (body as Record<string, unknown>) : undefined);
  const appCompose = normaliseAppCompose(input, cvm.appCompose.name);
  const hash = composeHash(appCompose);
  core.store.putProvision(
    {
      workspaceId: ws.id,
      composeHash: hash,
      appId: cvm.appId,
      name: cvm.name,
      appCompose,
      nodeId: cvm.nodeId,
      instanceType: cvm.instanceType,
      vcpu: cvm.vcpu,
      memoryMb: cvm.memoryMb,
      diskGb: cvm.diskGb,
      image: cvm.image,
      kmsType: cvm.kmsType,
      kmsId: cvm.kmsId,
      listed: cvm.listed,
      expiresAt: Date.now() + core.store.provisionTtl(),
    },
    cvm.appId,
  );
  const onChain = cvm.kmsType !== 'phala';
  return ok({
    app_id: cvm.appId,
    device_id: core.nodeOf(cvm).deviceId,
    compose_hash: hash,
    kms_info: kmsInfo(core.kmsOf(cvm)),
    compose_hash_registered: onChain ? await core.opts.onChainVerifier!.isComposeHashAllowed(cvm.appId, hash) : false,
  });
}

const CommitComposeBody = z
  .object({
    compose_hash: z.string().min(1),
    encrypted_env: z.string().nullish(),
    env_keys: z.array(z.string()).nullish(),
    update_env_vars: z.boolean().nullish(),
  })
  .passthrough();

async function commitComposeUpdate(r: ApiRequest): Promise<Reply> {
  const { core, ws } = r;
  const body = validateBody(CommitComposeBody, await r.json());
  const cvm = updatable(r);
  const hash = body.compose_hash.toLowerCase().replace(/^0x/, '');
  const rec = core.store.getProvision(ws.id, hash, cvm.appId);
  if (!rec) {
    throw detailError(
      400,
      `Compose file provision not found or expired for compose_hash ${hash}: call POST /cvms/{id}/compose_file/provision first`,
    );
  }
  if (core.lifecycle.isBusy(cvm)) throw busy();
  if (cvm.kmsType !== 'phala') await requireHashAllowed(core, cvm, hash);
  const allowed = rec.appCompose.allowed_envs;
  const sealedKeys = body.encrypted_env
    ? checkEncryptedEnv(body.encrypted_env, privateKey(core, cvm), allowed)
    : undefined;
  if (body.env_keys) checkKeysAllowed(body.env_keys, allowed, 'env_keys');
  const correlationId = applyUpdate(core, cvm, {
    appCompose: rec.appCompose,
    encryptedEnv: body.encrypted_env ?? undefined,
    envKeys: body.env_keys ?? sealedKeys,
  });
  return {
    status: 202,
    body: { status: 'in_progress', message: 'Compose file update in progress', correlation_id: correlationId },
  };
}

const EnvsBody = z
  .object({
    encrypted_env: z.string().min(1),
    env_keys: z.array(z.string()).nullish(),
    compose_hash: z.string().nullish(),
    transaction_hash: z.string().nullish(),
  })
  .passthrough();

/**
 * Changing the key set changes allowed_envs, hence the compose hash: on-chain apps must approve the new hash first
 * (465 with the hash to register, then a retry with compose_hash + transaction_hash; reference §7.2).
 */
async function updateEnvs(r: ApiRequest): Promise<Reply> {
  const { core } = r;
  const body = validateBody(EnvsBody, await r.json());
  const cvm = updatable(r);
  if (core.lifecycle.isBusy(cvm)) throw busy();
  const current = cvm.appCompose.allowed_envs;
  const keys = body.env_keys ?? undefined;
  const changed =
    keys !== undefined && [...new Set(keys)].sort().join('\n') !== [...new Set(current)].sort().join('\n');
  const appCompose = changed ? { ...cvm.appCompose, allowed_envs: keys! } : undefined;
  if (appCompose && cvm.kmsType !== 'phala') {
    const hash = composeHash(appCompose);
    if (!body.compose_hash || !body.transaction_hash) {
      throw structuredError(465, 'ERR-01-005', 'Compose hash registration required on-chain', {
        details: onChainDetails(core, cvm, hash),
        suggestions: ['Register compose_hash on the app contract, then retry with compose_hash and transaction_hash'],
      });
    }
    if (body.compose_hash.toLowerCase().replace(/^0x/, '') !== hash) {
      throw structuredError(466, 'ERR-01-006', 'Compose hash invalid or expired for this env change', {
        details: onChainDetails(core, cvm, hash),
      });
    }
    await requireHashAllowed(core, cvm, hash);
  }
  const sealedKeys = checkEncryptedEnv(
    body.encrypted_env,
    privateKey(core, cvm),
    (appCompose ?? cvm.appCompose).allowed_envs,
  );
  const correlationId = applyUpdate(core, cvm, {
    appCompose,
    encryptedEnv: body.encrypted_env,
    envKeys: keys ?? sealedKeys,
  });
  return {
    status: 202,
    body: {
      status: 'in_progress',
      message: 'Environment update in progress',
      correlation_id: correlationId,
      allowed_envs_changed: changed,
    },
  };
}

export function registerUpdateRoutes(router: ApiRouter): void {
  router
    .add('GET', '/cvms/:id/compose_file', getComposeFile)
    .add('POST', '/cvms/:id/compose_file/provision', provisionComposeUpdate)
    .add('PATCH', '/cvms/:id/compose_file', commitComposeUpdate)
    .add('PATCH', '/cvms/:id/envs', updateEnvs);
}

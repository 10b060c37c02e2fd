// Two-step creation (reference §4.2–4.4): POST /cvms/provision validates, places and hashes the app-compose and
// caches the result for 7 days under its compose_hash; POST /cvms commits it into a CVM, idempotently on
// (app_id, compose_hash).
import { z } from 'zod';
import { type AppCompose, composeHash, normaliseAppCompose } from '../compose';
import type { SimCore } from '../core';
import { checkEncryptedEnv, checkKeysAllowed } from '../env-check';
import { createApp, createCvm, machineOf } from '../factory';
import { detailError, structuredError, validationError } from '../http/errors';
import { validateBody } from '../http/io';
import { newAppId } from '../ids';
import type { ProvisionRecord } from '../model';
import { normaliseAppId } from '../resolve';
import { commitFor, contractKms, findKmsContract, hashids, kmsInfo } from '../shapes';
import { checkComposeFile, checkName, checkNameFree, onChainUnsupported, parseKmsType } from './checks';
import { place } from './placement';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';

const ProvisionBody = z
  .object({
    name: z.string(),
    compose_file: z.record(z.string(), z.unknown()).nullish(),
    instance_type: z.string().nullish(),
    vcpu: z.number().int().positive().nullish(),
    memory: z.number().int().positive().nullish(),
    disk_size: z.number().int().positive().nullish(),
    image: z.string().nullish(),
    teepod_id: z.number().int().nullish(),
    node_id: z.number().int().nullish(),
    region: z.string().nullish(),
    listed: z.boolean().nullish(),
    kms: z.string().nullish(),
    kms_id: z.string().nullish(),
  })
  .passthrough();

const CommitBody = z
  .object({
    app_id: z.string().min(1),
    compose_hash: z.string().min(1),
    encrypted_env: z.string().nullish(),
    env_keys: z.array(z.string()).nullish(),
    kms_id: z.string().nullish(),
    contract_address: z.string().nullish(),
    deployer_address: z.string().nullish(),
  })
  .passthrough();

async function provision(r: ApiRequest): Promise<Reply> {
  const { core, ws } = r;
  const body = validateBody(ProvisionBody, await r.json());
  checkName(body.name);
  const composeInput = checkComposeFile(body.compose_file);
  const kmsType = parseKmsType(body.kms);
  const kms = core.kmsForType(kmsType);
  if (!kms) throw onChainUnsupported(kmsType);
  if (body.kms_id && !core.kmsByIdOrSlug(body.kms_id)) {
    throw structuredError(400, 'ERR-02-011', `KMS '${body.kms_id}' not found`, {
      details: [{ field: 'kms_id', value: body.kms_id, message: null }],
    });
  }
  const { node, image, ...res } = place(core, {
    nodeId: body.teepod_id ?? body.node_id,
    region: body.region,
    image: body.image,
    instanceType: body.instance_type,
    vcpu: body.vcpu,
    memoryMb: body.memory,
    diskGb: body.disk_size,
  });
  checkNameFree(core, ws, body.name);
  const appCompose: AppCompose = normaliseAppCompose(composeInput, body.name);
  const hash = composeHash(appCompose);
  const cached = core.store.getProvision(ws.id, hash);
  let appId: string | null = null;
  let pubkey: string | null = null;
  if (kmsType === 'phala') {
    const app = createApp(core, ws, { appId: cached?.appId ?? newAppId(), name: body.name, kmsType, kmsId: kms.id });
    appId = app.appId;
    pubkey = app.envPublicKey;
  }
  const rec: ProvisionRecord = {
    workspaceId: ws.id,
    composeHash: hash,
    appId,
    name: body.name,
    appCompose,
    nodeId: node.id,
    ...res,
    image,
    kmsType,
    kmsId: kms.id,
    listed: body.listed ?? true,
    expiresAt: Date.now() + core.store.provisionTtl(),
  };
  core.store.putProvision(rec);
  return ok({
    app_id: appId,
    app_env_encrypt_pubkey: pubkey,
    compose_hash: hash,
    kms_info: kmsInfo(kms),
    fmspc: node.fmspc,
    device_id: node.deviceId,
    os_image_hash: node.images.find((i) => i.name === image)!.osImageHash,
    instance_type: res.instanceType,
    teepod_id: node.id,
    kms_id: kms.id,
    // Newer SDK models name the node `node_id` and the KMS by its contract (kms_id names one KMS node).
    ...(hashids(r.version) ? { node_id: node.id } : {}),
    ...(contractKms(r.version) ? { kms_contract_id: findKmsContract(core, kms.id)?.id ?? null } : {}),
  });
}

/** On-chain apps: the verifier stands in for the KMS contract's registeredApps / allowlists (reference §8). */
async function verifyOnChain(core: SimCore, rec: ProvisionRecord, appId: string): Promise<void> {
  const v = core.opts.onChainVerifier!;
  const node = core.node(rec.nodeId)!;
  const details = [
    { field: 'app_id', value: `0x${appId}`, message: null },
    { field: 'compose_hash', value: rec.composeHash, message: null },
    { field: 'device_id', value: node.deviceId, message: null },
  ];
  if (!(await v.isAppRegistered(appId))) {
    throw structuredError(400, 'ERR-01-005', `App 0x${appId} is not registered on the KMS contract`, {
      details,
      suggestions: ['Deploy the app contract with deployAndRegisterApp before committing'],
    });
  }
  if (!(await v.isComposeHashAllowed(appId, rec.composeHash))) {
    throw structuredError(400, 'ERR-01-008', `Compose hash ${rec.composeHash} is not allowed by app 0x${appId}`, {
      details,
      suggestions: ['Call addComposeHash on the app contract with the provision compose_hash'],
    });
  }
  if (!(await v.isDeviceAllowed(appId, node.deviceId))) {
    throw structuredError(
      400,
      'ERR-01-008',
      `Device ${node.deviceId} of node ${node.name} is not allowed by app 0x${appId}`,
      {
        details,
        suggestions: ['Call addDevice on the app contract, or setAllowAnyDevice(true)'],
      },
    );
  }
}

async function commit(r: ApiRequest): Promise<Reply> {
  const { core, ws } = r;
  const body = validateBody(CommitBody, await r.json());
  const appId = normaliseAppId(body.app_id);
  if (!appId) {
    throw validationError([
      {
        type: 'value_error',
        loc: ['body', 'app_id'],
        msg: 'Value error, app_id must be 40 hex characters (optionally app_ or 0x prefixed)',
        input: body.app_id,
      },
    ]);
  }
  const hash = body.compose_hash.toLowerCase().replace(/^0x/, '');
  const live = core.store.cvmsOfApp(ws.id, appId).filter((c) => c.status !== 'deleting');
  const same = live.find((c) => c.composeHash === hash);
  if (same) return ok(commitFor(r.version, core, same));
  if (live.length > 0) {
    throw structuredError(409, 'ERR-03-007', `App ${appId} already has a CVM with another compose_hash`, {
      details: [
        { field: 'app_id', value: appId, message: null },
        { field: 'compose_hash', value: hash, message: `existing: ${live[0]!.composeHash}` },
      ],
      suggestions: ['Update the existing CVM (compose_file provision + PATCH), or provision a new app'],
    });
  }
  const rec = core.store.getProvision(ws.id, hash);
  if (!rec) throw detailError(400, `Provision data not found or expired for compose_hash ${hash}: provision again`);
  if (rec.appId !== null && rec.appId !== appId) {
    throw structuredError(
      400,
      'ERR-02-008',
      `app_id ${appId} does not belong to the provision of compose_hash ${hash}`,
      {
        details: [{ field: 'app_id', value: appId, message: `provisioned app_id: ${rec.appId}` }],
      },
    );
  }
  if (rec.appId === null) await verifyOnChain(core, rec, appId);
  checkNameFree(core, ws, rec.name, appId);
  const app = createApp(core, ws, { appId, name: rec.name, kmsType: rec.kmsType, kmsId: rec.kmsId });
  app.kmsType = rec.kmsType;
  if (rec.appId === null) {
    // The KMS pubkey request made the record before the name was known (it took the app id): the first CVM names it.
    if (app.name === appId) app.name = rec.name;
    app.contractAddress = `0x${appId}`;
    app.deployerAddress = body.deployer_address ?? null;
  }
  const allowed = rec.appCompose.allowed_envs;
  const sealedKeys = body.encrypted_env ? checkEncryptedEnv(body.encrypted_env, app.envPrivateKey, allowed) : [];
  if (body.env_keys) checkKeysAllowed(body.env_keys, allowed, 'env_keys');
  const cvm = createCvm(core, ws, {
    name: rec.name,
    appId,
    nodeId: rec.nodeId,
    ...machineOf(rec),
    appCompose: rec.appCompose,
    composeHash: hash,
    encryptedEnv: body.encrypted_env ?? null,
    envKeys: body.env_keys ?? sealedKeys,
    listed: rec.listed,
  });
  return ok(commitFor(r.version, core, cvm));
}

export function registerProvisionRoutes(router: ApiRouter): void {
  router.add('POST', '/cvms/provision', provision).add('POST', '/cvms', commit);
}

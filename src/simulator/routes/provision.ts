// Two-step creation (reference §4.2–4.4): POST /cvms/provision validates, places and hashes the app-compose and
// caches the result for 7 days under its compose_hash; POST /cvms commits it into a CVM, idempotently on
// (app_id, compose_hash).
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEFAULT_INSTANCE_TYPE, defaultImage, INSTANCE_TYPES, type SimNode } from '../catalog';
import { type AppCompose, composeHash, normaliseAppCompose } from '../compose';
import type { SimCore } from '../core';
import { checkEncryptedEnv, checkKeysAllowed } from '../env-check';
import { createApp, createCvm } from '../factory';
import { detailError, structuredError, validationError } from '../http/errors';
import { validateBody } from '../http/io';
import { newAppId } from '../ids';
import type { KmsType, ProvisionRecord, Workspace } from '../model';
import { normaliseAppId } from '../resolve';
import { commitShape, kmsInfo } from '../shapes';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';

const HOSTNAME = /^[a-zA-Z](?!.*--)([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const NAME_RULE = 'Name must be 5-63 characters, start with letter, and contain only letters/numbers/hyphens';

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

export function checkName(name: string): void {
  if (name.length < 5 || name.length > 63 || !HOSTNAME.test(name)) {
    throw validationError([
      { type: 'value_error', loc: ['body', 'name'], msg: `Value error, ${NAME_RULE}`, input: name },
    ]);
  }
}

/** The compose must be present and be YAML with a `services` mapping (ERR-01-002 / ERR-01-003). */
export function checkComposeFile(compose: Record<string, unknown> | null | undefined): Record<string, unknown> {
  const runner = compose?.runner ?? 'docker-compose';
  const file = compose?.docker_compose_file;
  if (!compose || (runner === 'docker-compose' && (typeof file !== 'string' || file.trim() === ''))) {
    throw structuredError(400, 'ERR-01-002', 'compose_file.docker_compose_file is required', {
      details: [{ field: 'compose_file.docker_compose_file', value: null, message: 'missing or empty' }],
      suggestions: ['Send the docker-compose YAML as compose_file.docker_compose_file'],
    });
  }
  if (typeof file === 'string') {
    let doc: unknown;
    let reason = 'it has no top-level `services` mapping';
    try {
      doc = parseYaml(file);
    } catch (err) {
      reason = `YAML error: ${(err as Error).message.split('\n')[0]}`;
    }
    const services = doc && typeof doc === 'object' ? (doc as Record<string, unknown>).services : undefined;
    if (!services || typeof services !== 'object' || Array.isArray(services)) {
      throw structuredError(400, 'ERR-01-003', `Invalid docker compose file: ${reason}`, {
        details: [{ field: 'compose_file.docker_compose_file', value: null, message: reason }],
      });
    }
  }
  return compose;
}

function parseKmsType(raw: string | null | undefined): KmsType {
  const kms = (raw ?? 'phala').toLowerCase();
  if (kms === 'phala' || kms === 'ethereum' || kms === 'base') return kms;
  throw validationError([
    {
      type: 'enum',
      loc: ['body', 'kms'],
      msg: "Input should be 'phala', 'ethereum' or 'base'",
      input: raw,
      ctx: { expected: "'phala', 'ethereum' or 'base'" },
    },
  ]);
}

export function nodeNotFound(id: number) {
  return structuredError(400, 'ERR-01-001', `Node ${id} not found`, {
    details: [{ field: 'teepod_id', value: id, message: 'no such node' }],
    suggestions: ['List nodes with GET /teepods/available'],
  });
}

function pickNode(
  core: SimCore,
  wanted: number | null | undefined,
  region: string | null | undefined,
  image: string | null | undefined,
): SimNode {
  if (wanted !== undefined && wanted !== null) {
    const node = core.node(wanted);
    if (!node) throw nodeNotFound(wanted);
    return node;
  }
  const candidates = core
    .allNodes()
    .filter(
      (n) =>
        (!region || n.region.toLowerCase() === region.toLowerCase()) &&
        (!image || n.images.some((i) => i.name === image)),
    )
    .sort((a, b) => b.slots - core.liveCvmsOnNode(b.id).length - (a.slots - core.liveCvmsOnNode(a.id).length));
  const node = candidates[0];
  if (!node) {
    throw structuredError(400, 'ERR-02-002', 'No node matches the requested region and image', {
      details: [
        { field: 'region', value: region ?? null, message: null },
        { field: 'image', value: image ?? null, message: null },
      ],
    });
  }
  return node;
}

function resources(body: z.infer<typeof ProvisionBody>): {
  instanceType: string | null;
  vcpu: number;
  memoryMb: number;
  diskGb: number;
} {
  const wanted = body.instance_type ?? (body.vcpu || body.memory ? null : DEFAULT_INSTANCE_TYPE);
  if (wanted) {
    const t = INSTANCE_TYPES.find((i) => i.id === wanted);
    if (!t) {
      throw structuredError(400, 'ERR-02-001', `Instance type '${wanted}' not found`, {
        details: [{ field: 'instance_type', value: wanted, message: null }],
        suggestions: ['List instance types with GET /instance-types'],
      });
    }
    return {
      instanceType: t.id,
      vcpu: t.vcpu,
      memoryMb: t.memory_mb,
      diskGb: body.disk_size ?? t.default_disk_size_gb,
    };
  }
  return { instanceType: null, vcpu: body.vcpu ?? 1, memoryMb: body.memory ?? 2048, diskGb: body.disk_size ?? 20 };
}

function checkCapacity(core: SimCore, node: SimNode, vcpu: number, memoryMb: number): void {
  const cvms = core.liveCvmsOnNode(node.id);
  const fail = (code: string, message: string) =>
    structuredError(400, code, message, { details: [{ field: 'teepod_id', value: node.id, message: null }] });
  if (cvms.length >= node.slots) throw fail('ERR-02-005', `Node ${node.name} has no free CVM slots`);
  if (cvms.reduce((s, c) => s + c.vcpu, 0) + vcpu > node.vcpu)
    throw fail('ERR-02-003', `Node ${node.name} lacks ${vcpu} free vCPUs`);
  if (cvms.reduce((s, c) => s + c.memoryMb, 0) + memoryMb > node.memoryMb) {
    throw fail('ERR-02-004', `Node ${node.name} lacks ${memoryMb} MB of free memory`);
  }
}

export function checkNameFree(core: SimCore, ws: Workspace, name: string, exceptAppId?: string): void {
  for (const c of core.store.cvmsOf(ws.id)) {
    if (c.name === name && c.appId !== exceptAppId) {
      throw structuredError(409, 'ERR-01-004', `A CVM named '${name}' already exists`, {
        details: [{ field: 'name', value: name, message: 'duplicate' }],
        suggestions: ['Pick another name, or update the existing CVM'],
      });
    }
  }
}

function onChainUnsupported(kms: KmsType) {
  return structuredError(
    400,
    'ERR-02-009',
    `On-chain KMS (${kms}) is not supported in this simulator configuration: no on-chain verifier is configured`,
    {
      details: [{ field: 'kms', value: kms.toUpperCase(), message: 'needs an onChainVerifier' }],
      suggestions: ['Use kms PHALA, or start the simulator with an onChainVerifier connected to a chain'],
    },
  );
}

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
  const imageMissing = (where: SimNode[]) => {
    const available = [...new Set(where.flatMap((n) => n.images.map((i) => i.name)))].join(', ');
    const place = where.length === 1 ? `node ${where[0]!.name}` : 'any node';
    return structuredError(400, 'ERR-02-010', `Image '${body.image}' is not available on ${place}`, {
      details: [{ field: 'image', value: body.image ?? null, message: `available: ${available}` }],
    });
  };
  if (body.image && !core.allNodes().some((n) => n.images.some((i) => i.name === body.image))) {
    throw imageMissing(core.allNodes());
  }
  const node = pickNode(core, body.teepod_id ?? body.node_id, body.region, body.image);
  const res = resources(body);
  const image = body.image ?? defaultImage(node);
  if (!image || !node.images.some((i) => i.name === image)) throw imageMissing([node]);
  checkCapacity(core, node, res.vcpu, res.memoryMb);
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
  if (same) return ok(commitShape(core, same));
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
    instanceType: rec.instanceType,
    vcpu: rec.vcpu,
    memoryMb: rec.memoryMb,
    diskGb: rec.diskGb,
    image: rec.image,
    kmsType: rec.kmsType,
    kmsId: rec.kmsId,
    appCompose: rec.appCompose,
    composeHash: hash,
    encryptedEnv: body.encrypted_env ?? null,
    envKeys: body.env_keys ?? sealedKeys,
    listed: rec.listed,
  });
  return ok(commitShape(core, cvm));
}

export function registerProvisionRoutes(router: ApiRouter): void {
  router.add('POST', '/cvms/provision', provision).add('POST', '/cvms', commit);
}

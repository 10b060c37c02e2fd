// App-level views and actions beyond the list/detail of queries.ts: every instance's attestation in one answer,
// the device allow-list and the on-chain "is it allowed" checks (answered from the OnChainVerifier, which stands in
// for the DstackApp contract), the filter options of the app list, and new named instances of an app
// (`POST /apps/{id}/instances`: a new CVM of the same app_id, optionally with its own compose or script, on a node
// of its choice). Shapes follow @phala/cloud 0.2.9's schemas.
import { z } from 'zod';
import { composeHash, normaliseAppCompose } from '../compose';
import type { SimCore } from '../core';
import { checkEncryptedEnv } from '../env-check';
import { createCvm, machineOf } from '../factory';
import { structuredError, validationError } from '../http/errors';
import { validateBody } from '../http/io';
import type { AppRecord, Cvm, Workspace } from '../model';
import { vmShape } from '../shapes';
import { imageVersion } from '../shapes/common';
import { findApp } from './app-revisions';
import { checkComposeFile, checkName, checkNameFree, nodeNotFound } from './checks';
import { attestationOf } from './runtime';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';
import { onChainDetails } from './update-common';

const NO_CONTRACT = `0x${'0'.repeat(40)}`;

function appAttestations(r: ApiRequest): Reply {
  const app = findApp(r);
  const { core } = r;
  const cvms = core.store.cvmsOfApp(r.ws.id, app.appId);
  const kms = core.kmsForType(app.kmsType) ?? core.kmsList()[0]!;
  const instances = cvms.map((cvm) => {
    const node = core.nodeOf(cvm);
    const base = {
      vm_uuid: cvm.vmUuid,
      name: cvm.name,
      instance_id: cvm.instanceId,
      status: cvm.status,
      image_version: imageVersion(core, cvm),
      ppid: node.ppid,
      device_id: node.deviceId,
    };
    if (cvm.status !== 'running') {
      return {
        ...base,
        quote: null,
        tcb_info: null,
        app_certificates: null,
        compose_file: null,
        error: 'CVM is not running',
      };
    }
    const att = attestationOf(core, cvm);
    return {
      ...base,
      quote: att.quote,
      tcb_info: att.tcbInfo,
      app_certificates: att.certificates,
      compose_file: att.tcbInfo.app_compose,
      error: null,
    };
  });
  const gatewayAppId = kms.gateway_app_id;
  return ok({
    app_id: app.appId,
    contract_address: app.contractAddress ?? `0x${app.appId}`,
    kms_info: {
      contract_address: kms.kms_contract_address ?? NO_CONTRACT,
      chain_id: kms.chain_id === null ? null : String(kms.chain_id),
      version: kms.version,
      url: kms.url,
      gateway_app_id: gatewayAppId,
      gateway_app_url: cvms[0] ? `https://gateway.${core.nodeOf(cvms[0]).gatewayDomain}` : kms.url,
      kms_type: app.kmsType,
    },
    instances,
    kms_guest_agent_info: { app_name: 'kms', device_id: cvms[0] ? core.nodeOf(cvms[0]).deviceId : undefined },
    gateway_guest_agent_info: gatewayAppId ? { app_id: gatewayAppId, app_name: 'gateway' } : null,
    qemu_version: '9.2.1',
  });
}

/** The nodes an app's CVMs run on (on-chain apps: each with its allow-list state on the app contract). */
async function deviceAllowlist(r: ApiRequest): Promise<Reply> {
  const app = findApp(r);
  const { core } = r;
  if (app.kmsType === 'phala') return ok({ is_onchain_kms: false, devices: [] });
  const verifier = core.opts.onChainVerifier!;
  const cvms = core.store.cvmsOfApp(r.ws.id, app.appId);
  const devices = await Promise.all(
    core.allNodes().map(async (node) => {
      const allowed = await verifier.isDeviceAllowed(app.appId, node.deviceId);
      return {
        device_id: node.deviceId,
        node_name: node.name,
        cvm_ids: cvms.filter((c) => c.nodeId === node.id).map((c) => c.id),
        allowed_onchain: allowed,
        status: allowed ? 'allowed' : 'not_allowed',
      };
    }),
  );
  return ok({
    is_onchain_kms: true,
    allow_any_device: false,
    chain_id: verifier.chainId,
    app_contract_address: app.contractAddress ?? `0x${app.appId}`,
    devices,
  });
}

function filterOptions(r: ApiRequest): Reply {
  const { core } = r;
  const cvms = [...core.store.cvmsOf(r.ws.id)];
  const distinct = (f: (c: Cvm) => string | null | undefined) =>
    [...new Set(cvms.map(f).filter((v): v is string => typeof v === 'string' && v !== ''))].sort();
  return ok({
    statuses: distinct((c) => c.status),
    image_versions: distinct((c) => imageVersion(core, c)),
    instance_types: distinct((c) => c.instanceType),
    kms_slugs: distinct((c) => core.kmsOf(c).slug),
    kms_types: distinct((c) => c.kmsType),
    regions: distinct((c) => core.nodeOf(c).region),
    nodes: distinct((c) => core.nodeOf(c).name),
  });
}

/** The on-chain answer for one (app, compose hash, device); `cvm_id` when asked about a CVM. */
async function isAllowed(core: SimCore, app: AppRecord, hash: string, deviceId: string, cvmId?: number) {
  const verifier = core.opts.onChainVerifier!;
  const [hashOk, deviceOk] = await Promise.all([
    verifier.isComposeHashAllowed(app.appId, hash),
    verifier.isDeviceAllowed(app.appId, deviceId),
  ]);
  return {
    ...(cvmId !== undefined ? { cvm_id: cvmId } : {}),
    app_contract_address: app.contractAddress ?? `0x${app.appId}`,
    compose_hash: hash,
    device_id: deviceId,
    compose_hash_allowed: hashOk,
    allow_any_device: false,
    device_id_allowed: deviceOk,
    is_allowed: hashOk && deviceOk,
    error: null,
  };
}

function notOnChain(app: AppRecord) {
  return structuredError(400, 'ERR-02-009', `App ${app.appId} uses Phala's KMS: allow-lists exist only on chain`, {
    details: [{ field: 'kms_type', value: app.kmsType, message: 'not an on-chain KMS app' }],
  });
}

const IsAllowedBody = z.object({
  compose_hash: z.string().min(1).nullish(),
  node_id: z.number().int().nullish(),
  device_id: z.string().min(1).nullish(),
  chain_id: z.number().int().nullish(),
});

function deviceFor(core: SimCore, body: z.infer<typeof IsAllowedBody>, fallback: string): string {
  if (body.device_id) return body.device_id.toLowerCase().replace(/^0x/, '');
  if (body.node_id !== null && body.node_id !== undefined) {
    const node = core.node(body.node_id);
    if (!node) throw nodeNotFound(body.node_id);
    return node.deviceId;
  }
  return fallback;
}

async function cvmIsAllowed(r: ApiRequest): Promise<Reply> {
  const body = validateBody(IsAllowedBody, await r.json());
  const cvm = r.core.resolve(r.ws, r.params.id!);
  const app = r.core.store.apps.get(cvm.appId)!;
  if (app.kmsType === 'phala') throw notOnChain(app);
  const hash = (body.compose_hash ?? cvm.composeHash).toLowerCase().replace(/^0x/, '');
  return ok(await isAllowed(r.core, app, hash, deviceFor(r.core, body, r.core.nodeOf(cvm).deviceId), cvm.id));
}

async function appIsAllowed(r: ApiRequest): Promise<Reply> {
  const body = validateBody(IsAllowedBody, await r.json());
  const app = findApp(r);
  if (app.kmsType === 'phala') throw notOnChain(app);
  if (!body.compose_hash) {
    throw validationError([{ type: 'missing', loc: ['body', 'compose_hash'], msg: 'Field required', input: null }]);
  }
  if (!body.device_id && (body.node_id === null || body.node_id === undefined)) {
    throw validationError([
      { type: 'missing', loc: ['body', 'device_id'], msg: 'Field required: give device_id or node_id', input: null },
    ]);
  }
  const hash = body.compose_hash.toLowerCase().replace(/^0x/, '');
  return ok(await isAllowed(r.core, app, hash, deviceFor(r.core, body, '')));
}

/** Phala-KMS apps have nothing on chain to check: `is_onchain: false`, every CVM skipped. */
async function appCvmsAreAllowed(r: ApiRequest): Promise<Reply> {
  const app = findApp(r);
  const cvms = r.core.store.cvmsOfApp(r.ws.id, app.appId);
  if (app.kmsType === 'phala') {
    return ok({
      is_onchain: false,
      results: [],
      total: cvms.length,
      allowed_count: 0,
      denied_count: 0,
      error_count: 0,
      skipped_cvm_ids: cvms.map((c) => c.id),
    });
  }
  const results = await Promise.all(
    cvms.map((c) => isAllowed(r.core, app, c.composeHash, r.core.nodeOf(c).deviceId, c.id)),
  );
  return ok({
    is_onchain: true,
    results,
    total: results.length,
    allowed_count: results.filter((x) => x.is_allowed).length,
    denied_count: results.filter((x) => !x.is_allowed).length,
    error_count: 0,
    skipped_cvm_ids: [],
  });
}

const InstanceBody = z.object({
  name: z.string().nullish(),
  node_id: z.number().int().nullish(),
  docker_compose_file: z.string().nullish(),
  pre_launch_script: z.string().nullish(),
  encrypted_env: z.string().nullish(),
  compose_hash: z.string().nullish(),
  token: z.string().nullish(),
  transaction_hash: z.string().nullish(),
});

/**
 * A new CVM of the app: the compose of its newest CVM unless the request brings its own docker compose or
 * pre-launch script; its env, unless `encrypted_env` is sent (sealed to the app's key, so it is checked here).
 */
async function createInstance(r: ApiRequest): Promise<Reply> {
  const body = validateBody(InstanceBody, await r.json());
  const { core } = r;
  const app = findApp(r);
  const ws: Workspace = r.ws;
  const source = core.store.cvmsOfApp(ws.id, app.appId).at(-1);
  if (!source) {
    throw structuredError(400, 'ERR-02-008', `App ${app.appId} has no CVM to take the compose from`, {
      details: [{ field: 'appId', value: app.appId, message: 'no CVMs' }],
      suggestions: ['Deploy the app first (POST /cvms/provision, POST /cvms)'],
    });
  }
  const nodeId = body.node_id ?? source.nodeId;
  const node = core.node(nodeId);
  if (!node) throw nodeNotFound(nodeId);
  if (!node.images.some((i) => i.name === source.image)) {
    throw structuredError(400, 'ERR-03-006', `Image ${source.image} is not available on node ${node.name}`, {
      details: [
        { field: 'node_id', value: nodeId, message: `available: ${node.images.map((i) => i.name).join(', ')}` },
      ],
    });
  }
  const name = body.name ?? source.name;
  if (body.name) {
    checkName(body.name);
    checkNameFree(core, ws, body.name, app.appId);
  }
  let appCompose = source.appCompose;
  if (body.docker_compose_file !== null && body.docker_compose_file !== undefined) {
    appCompose = normaliseAppCompose(
      checkComposeFile({ ...appCompose, docker_compose_file: body.docker_compose_file }),
      appCompose.name,
    );
  }
  if (body.pre_launch_script !== null && body.pre_launch_script !== undefined) {
    appCompose = normaliseAppCompose({ ...appCompose, pre_launch_script: body.pre_launch_script }, appCompose.name);
  }
  const hash = composeHash(appCompose);
  if (app.kmsType !== 'phala') {
    const verifier = core.opts.onChainVerifier!;
    const [hashOk, deviceOk] = await Promise.all([
      verifier.isComposeHashAllowed(app.appId, hash),
      verifier.isDeviceAllowed(app.appId, node.deviceId),
    ]);
    if (!hashOk || !deviceOk) {
      throw structuredError(465, 'ERR-01-005', 'Compose hash and device must be allowed on-chain', {
        details: [
          ...onChainDetails(core, { ...source, nodeId }, hash),
          {
            field: 'onchain_status',
            value: { compose_hash_allowed: hashOk, device_id_allowed: deviceOk, is_allowed: false },
            message: null,
          },
        ],
        suggestions: ['Call addComposeHash / addDevice on the app contract, then retry with transaction_hash'],
      });
    }
  }
  const envKeys = body.encrypted_env
    ? checkEncryptedEnv(body.encrypted_env, app.envPrivateKey, appCompose.allowed_envs)
    : source.envKeys;
  const cvm = createCvm(core, ws, {
    name,
    appId: app.appId,
    nodeId,
    ...machineOf(source),
    appCompose,
    composeHash: hash,
    encryptedEnv: body.encrypted_env ?? source.encryptedEnv,
    envKeys,
    listed: source.listed,
  });
  return ok(vmShape(core, cvm));
}

export function registerAppViewRoutes(router: ApiRouter): void {
  router
    .add('GET', '/apps/filter-options', filterOptions)
    .add('GET', '/apps/:appId/attestations', appAttestations)
    .add('GET', '/apps/:appId/device-allowlist', deviceAllowlist)
    .add('POST', '/apps/:appId/is-allowed', appIsAllowed)
    .add('POST', '/apps/:appId/cvms/is-allowed', appCvmsAreAllowed)
    .add('POST', '/apps/:appId/instances', createInstance)
    .add('POST', '/cvms/:id/is-allowed', cvmIsAllowed);
}

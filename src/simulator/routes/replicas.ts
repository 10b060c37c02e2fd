// Replicas (reference §11): a new CVM of the same app — same app_id, compose and compose_hash, hence the same KMS
// keys, so the source's encrypted_env is valid as is — with new ids, on the source's node or `node_id`.
import { z } from 'zod';
import type { SimCore } from '../core';
import { checkEncryptedEnv } from '../env-check';
import { createCvm, machineOf } from '../factory';
import { detailError, structuredError } from '../http/errors';
import { validateBody } from '../http/io';
import type { ApiVersion, Cvm, Workspace } from '../model';
import { normaliseAppId } from '../resolve';
import { kmsInfo, vmFor } from '../shapes';
import { nodeNotFound } from './checks';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';

const ReplicaBody = z
  .object({
    node_id: z.number().int().nullish(),
    teepod_id: z.number().int().nullish(),
    encrypted_env: z.string().nullish(),
  })
  .passthrough();

async function replicate(
  core: SimCore,
  ws: Workspace,
  version: ApiVersion,
  source: Cvm,
  body: z.infer<typeof ReplicaBody>,
): Promise<Reply> {
  if (source.status === 'deleting') throw detailError(409, 'CVM is being deleted');
  const nodeId = body.node_id ?? body.teepod_id ?? source.nodeId;
  const node = core.node(nodeId);
  if (!node) throw nodeNotFound(nodeId);
  if (!node.images.some((i) => i.name === source.image)) {
    throw structuredError(
      400,
      'ERR-03-006',
      `Image ${source.image} of the source CVM is not available on node ${node.name}`,
      {
        details: [
          { field: 'node_id', value: nodeId, message: `available: ${node.images.map((i) => i.name).join(', ')}` },
          { field: 'image', value: source.image, message: null },
        ],
        suggestions: ['Pick a node that carries the image (GET /teepods/available lists images per node)'],
      },
    );
  }
  if (source.kmsType !== 'phala' && !(await core.opts.onChainVerifier!.isDeviceAllowed(source.appId, node.deviceId))) {
    throw structuredError(
      465,
      'ERR-01-005',
      `Device ${node.deviceId} of node ${node.name} is not allowed by app 0x${source.appId}`,
      {
        details: [
          { field: 'compose_hash', value: source.composeHash, message: null },
          { field: 'app_id', value: source.appId, message: null },
          { field: 'device_id', value: node.deviceId, message: null },
          { field: 'kms_info', value: kmsInfo(core.kmsOf(source)), message: null },
        ],
        suggestions: ['Call addDevice on the app contract, then retry'],
      },
    );
  }
  const app = core.store.apps.get(source.appId)!;
  const sealedKeys = body.encrypted_env
    ? checkEncryptedEnv(body.encrypted_env, app.envPrivateKey, source.appCompose.allowed_envs)
    : source.envKeys;
  const replica = createCvm(core, ws, {
    name: source.name,
    appId: source.appId,
    nodeId,
    ...machineOf(source),
    appCompose: source.appCompose,
    composeHash: source.composeHash,
    encryptedEnv: body.encrypted_env ?? source.encryptedEnv,
    envKeys: sealedKeys,
    listed: source.listed,
  });
  return ok(vmFor(version, core, replica));
}

async function replicateCvm(r: ApiRequest): Promise<Reply> {
  const body = validateBody(ReplicaBody, await r.json());
  return replicate(r.core, r.ws, r.version, r.core.resolve(r.ws, r.params.id!), body);
}

/** App-scoped form (Terraform 0.2.x, Go SDK): the vm_uuid must belong to the app. */
async function replicateAppCvm(r: ApiRequest): Promise<Reply> {
  const body = validateBody(ReplicaBody, await r.json());
  const source = r.core.resolve(r.ws, r.params.vmUuid!);
  const appId = normaliseAppId(r.params.appId!);
  if (source.appId !== appId) {
    throw structuredError(400, 'ERR-02-008', `CVM ${source.vmUuid} does not belong to app ${r.params.appId}`, {
      details: [{ field: 'app_id', value: r.params.appId, message: `the CVM's app_id is ${source.appId}` }],
    });
  }
  return replicate(r.core, r.ws, r.version, source, body);
}

export function registerReplicaRoutes(router: ApiRouter): void {
  router
    .add('POST', '/cvms/:id/replicas', replicateCvm)
    .add('POST', '/apps/:appId/cvms/:vmUuid/replicas', replicateAppCvm);
}

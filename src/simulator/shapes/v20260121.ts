// API version 2026-01-21: the "CVMInfo" object with a `cvm_…` string id (reference §3.4). Busy-ness is
// `progress.target`; there is no `in_progress` key in this version.
import { INSTANCE_TYPES } from '../catalog';
import type { SimCore } from '../core';
import type { AppRecord, Cvm } from '../model';
import { appShape, endpoints, imageVersion, nodeInfo } from './common';

export function cvmInfo(core: SimCore, cvm: Cvm, detail = false) {
  const node = core.nodeOf(cvm);
  const ws = core.store.workspace(cvm.workspaceId);
  const kms = core.kmsOf(cvm);
  const app = core.store.apps.get(cvm.appId);
  const image = node.images.find((i) => i.name === cvm.image);
  const compose = cvm.appCompose;
  const info = {
    id: cvm.hashid,
    name: cvm.name,
    app_id: cvm.appId,
    vm_uuid: cvm.vmUuid,
    instance_id: cvm.instanceId,
    resource: {
      instance_type: cvm.instanceType,
      vcpu: cvm.vcpu,
      memory_in_gb: cvm.memoryMb / 1024,
      disk_in_gb: cvm.diskGb,
      gpus: 0,
      compute_billing_price: INSTANCE_TYPES.find((t) => t.id === cvm.instanceType)?.hourly_rate ?? null,
      billing_period: 'hourly' as const,
    },
    node_info: nodeInfo(node, imageVersion(core, cvm)),
    os: {
      name: cvm.image,
      version: imageVersion(core, cvm),
      is_dev: image?.isDev ?? false,
      os_image_hash: image?.osImageHash ?? null,
    },
    kms_type: cvm.kmsType,
    kms_info: {
      chain_id: kms.chain_id,
      dstack_kms_address: kms.kms_contract_address,
      dstack_app_address: app?.contractAddress ?? null,
      deployer_address: app?.deployerAddress ?? null,
      rpc_endpoint: cvm.kmsType === 'phala' ? null : (core.opts.onChainVerifier?.rpcEndpoint ?? null),
      encrypted_env_pubkey: core.envPublicKey(cvm),
    },
    status: cvm.status,
    progress: cvm.op
      ? { target: cvm.op.target, started_at: cvm.op.startedAt.toISOString(), correlation_id: cvm.op.correlationId }
      : null,
    compose_hash: cvm.composeHash,
    gateway: { base_domain: node.gatewayDomain, cname: null },
    services: [],
    endpoints: endpoints(core, cvm),
    public_logs: compose.public_logs !== false,
    public_sysinfo: compose.public_sysinfo !== false,
    public_tcbinfo: compose.public_tcbinfo !== false,
    gateway_enabled: compose.gateway_enabled !== false,
    secure_time: compose.secure_time === true,
    listed: cvm.listed,
    storage_fs: String(compose.storage_fs ?? 'zfs'),
    workspace: { object_type: 'workspace' as const, id: ws.id, name: ws.name, slug: ws.slug, avatar_url: null },
    creator: { object_type: 'user' as const, id: String(ws.userId), username: ws.username, avatar_url: null },
    created_at: cvm.createdAt.toISOString(),
  };
  return detail ? { ...info, compose_file: compose } : info;
}

export function appInfo(core: SimCore, app: AppRecord, cvms: Cvm[]) {
  return appShape(
    app,
    cvms.map((c) => cvmInfo(core, c)),
  );
}

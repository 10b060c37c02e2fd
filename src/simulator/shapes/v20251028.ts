// API version 2025-10-28 (legacy, integer ids), still pinned by `phala deploy` (reference §3.5, §3.6).
import type { SimCore } from '../core';
import type { AppRecord, Cvm } from '../model';
import { appShape, bootProgress, endpoints, imageVersion, inProgress, kmsInfo, uptime } from './common';

const machineInfo = (cvm: Cvm) => ({ vcpu: cvm.vcpu, memory: cvm.memoryMb, disk_size: cvm.diskGb, gpu_count: 0 });

const nodeRef = (core: SimCore, cvm: Cvm) => {
  const node = core.nodeOf(cvm);
  return { id: node.id, name: node.name, region_identifier: node.region };
};

export function cvmDetail(core: SimCore, cvm: Cvm) {
  const app = core.store.apps.get(cvm.appId);
  return {
    id: cvm.id,
    name: cvm.name,
    status: cvm.status,
    in_progress: inProgress(cvm),
    teepod_id: cvm.nodeId,
    teepod: nodeRef(core, cvm),
    app_id: cvm.appId,
    vm_uuid: cvm.vmUuid,
    instance_id: cvm.instanceId,
    vcpu: cvm.vcpu,
    memory: cvm.memoryMb,
    disk_size: cvm.diskGb,
    base_image: cvm.image,
    encrypted_env_pubkey: core.envPublicKey(cvm),
    listed: cvm.listed,
    project_id: null,
    project_type: null,
    instance_type: cvm.instanceType,
    public_sysinfo: cvm.appCompose.public_sysinfo !== false,
    public_logs: cvm.appCompose.public_logs !== false,
    dapp_dashboard_url: null,
    syslog_endpoint: null,
    kms_info: kmsInfo(core.kmsOf(cvm)),
    contract_address: app?.contractAddress ?? null,
    deployer_address: app?.deployerAddress ?? null,
    scheduled_delete_at: null,
    public_urls: endpoints(core, cvm),
    gateway_domain: core.nodeOf(cvm).gatewayDomain,
    machine_info: machineInfo(cvm),
    updated_at: cvm.updatedAt.toISOString(),
  };
}

/** `HostedCvm`: list items of /cvms/paginated and /apps/{id}/cvms in this version. */
export function hostedCvm(core: SimCore, cvm: Cvm) {
  const ws = core.store.workspace(cvm.workspaceId);
  const urls = endpoints(core, cvm);
  return {
    hosted: {
      id: cvm.vmUuid,
      name: cvm.name,
      status: cvm.status,
      uptime: uptime(core, cvm) ?? '',
      app_url: urls[0]?.app ?? null,
      app_id: cvm.appId,
      instance_id: cvm.instanceId,
      exited_at: cvm.exitedAt?.toISOString() ?? null,
      boot_progress: bootProgress(cvm) ?? null,
      boot_error: cvm.bootError,
      shutdown_progress: null,
      image_version: imageVersion(core, cvm),
    },
    name: cvm.name,
    managed_user: { id: ws.userId, username: ws.username },
    node: nodeRef(core, cvm),
    listed: cvm.listed,
    status: cvm.status,
    in_progress: inProgress(cvm),
    dapp_dashboard_url: null,
    syslog_endpoint: null,
    allow_upgrade: false,
    project_id: null,
    project_type: null,
    billing_period: 'hourly',
    kms_info: kmsInfo(core.kmsOf(cvm)),
    vcpu: cvm.vcpu,
    memory: cvm.memoryMb,
    disk_size: cvm.diskGb,
    gateway_domain: core.nodeOf(cvm).gatewayDomain,
    public_urls: urls,
    machine_info: machineInfo(cvm),
    updated_at: cvm.updatedAt.toISOString(),
  };
}

function cvmBasic(core: SimCore, cvm: Cvm) {
  const node = core.nodeOf(cvm);
  const kms = core.kmsOf(cvm);
  return {
    vm_uuid: cvm.vmUuid,
    app_id: cvm.appId,
    name: cvm.name,
    status: cvm.status,
    vcpu: cvm.vcpu,
    memory: cvm.memoryMb,
    disk_size: cvm.diskGb,
    teepod_id: node.id,
    teepod_name: node.name,
    region_identifier: node.region,
    kms_type: cvm.kmsType,
    instance_type: cvm.instanceType,
    listed: cvm.listed,
    base_image: cvm.image,
    kms_slug: kms.slug,
    kms_id: kms.id,
    instance_id: cvm.instanceId,
    machine_info: machineInfo(cvm),
    updated_at: cvm.updatedAt.toISOString(),
  };
}

export function appInfo(core: SimCore, app: AppRecord, cvms: Cvm[]) {
  return appShape(
    app,
    cvms.map((c) => cvmBasic(core, c)),
  );
}

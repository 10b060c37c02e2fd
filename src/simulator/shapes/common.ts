// Shapes shared by both API versions: the `VM` object of action responses, the commit response, CvmState, the
// status-batch entry and KmsInfo — exactly the keys the @phala/cloud 0.2.9 zod schemas require (reference §3).
import { localEndpoints } from '../app-endpoints';
import type { KmsEntry, SimNode } from '../catalog';
import type { SimCore } from '../core';
import type { AppRecord, Cvm } from '../model';

export const kmsInfo = (k: KmsEntry) => ({ ...k });

/** Whether the CVM counts as busy for clients (`in_progress`, `progress.target`). */
export const inProgress = (cvm: Cvm): boolean => cvm.op !== null;

export function endpoints(core: SimCore, cvm: Cvm): { app: string; instance: string }[] {
  const local = localEndpoints(core, cvm);
  if (local) return [local];
  const domain = core.nodeOf(cvm).gatewayDomain;
  return [{ app: `https://${cvm.appId}-8080.${domain}`, instance: `https://${cvm.instanceId}-8080.${domain}` }];
}

/** Uptime in simulated time (real time divided by timeScale), e.g. "1h 2m 3s". */
export function uptime(core: SimCore, cvm: Cvm): string | undefined {
  if (cvm.runningSince === null || cvm.status !== 'running') return undefined;
  let s = Math.floor((Date.now() - cvm.runningSince) / core.timeScale / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return [h ? `${h}h` : '', h || m ? `${m}m` : '', `${s}s`].filter(Boolean).join(' ');
}

export function bootProgress(cvm: Cvm): string | undefined {
  if (cvm.status === 'running') return 'done';
  if (cvm.status === 'creating' || cvm.status === 'starting' || cvm.status === 'restarting') return 'booting';
  return undefined;
}

export function imageVersion(core: SimCore, cvm: Cvm): string | null {
  const img = core.nodeOf(cvm).images.find((i) => i.name === cvm.image);
  return img ? img.version.join('.') : null;
}

/** A node as the newer API names it (a workspace's node list, a CVM's node_info), with the dstack version it runs. */
export function nodeInfo(node: SimNode, version: string | null) {
  return {
    object_type: 'node' as const,
    id: node.id,
    name: node.name,
    region: node.region,
    device_id: node.deviceId,
    ppid: node.ppid,
    status: 'ONLINE',
    version,
  };
}

/** `VM` (strip schema): the response of start/stop/shutdown/restart/replicas. */
export function vmShape(core: SimCore, cvm: Cvm) {
  const node = core.nodeOf(cvm);
  const ws = core.store.workspace(cvm.workspaceId);
  return {
    id: cvm.id,
    name: cvm.name,
    status: cvm.status,
    teepod_id: node.id,
    teepod: { id: node.id, name: node.name, region_identifier: node.region },
    user_id: ws.userId,
    app_id: cvm.appId,
    vm_uuid: cvm.vmUuid,
    instance_id: cvm.instanceId,
    app_url: endpoints(core, cvm)[0]!.app,
    base_image: cvm.image,
    vcpu: cvm.vcpu,
    memory: cvm.memoryMb,
    disk_size: cvm.diskGb,
    manifest_version: 2,
    version: '1.0.0',
    runner: String(cvm.appCompose.runner ?? 'docker-compose'),
    docker_compose_file: cvm.appCompose.docker_compose_file ?? null,
    features: (cvm.appCompose.features as string[] | undefined) ?? ['kms', 'tproxy-net'],
    created_at: cvm.createdAt.toISOString(),
    encrypted_env_pubkey: core.envPublicKey(cvm),
  };
}

/** `POST /cvms` response (passthrough schema): the VM keys plus the on-chain addresses. */
export function commitShape(core: SimCore, cvm: Cvm) {
  const app = core.store.apps.get(cvm.appId);
  return {
    ...vmShape(core, cvm),
    app_auth_contract_address: app?.contractAddress ?? null,
    deployer_address: app?.deployerAddress ?? null,
  };
}

/** `CvmState`: the optional strings must be absent rather than null (reference §3.7). */
export function cvmState(core: SimCore, cvm: Cvm) {
  const state: Record<string, unknown> = {
    id: cvm.hashid,
    instance_id: cvm.instanceId,
    name: cvm.name,
    status: cvm.status,
  };
  const up = uptime(core, cvm);
  if (up) state.uptime = up;
  if (cvm.exitedAt) state.exited_at = cvm.exitedAt.toISOString();
  const progress = bootProgress(cvm);
  if (progress) state.boot_progress = progress;
  if (cvm.bootError) state.boot_error = cvm.bootError;
  if (cvm.status === 'stopping' || cvm.status === 'shutting_down') state.shutdown_progress = 'in progress';
  return state;
}

/** The SSE `state` payload: CvmState plus what watchers need to tell replicas and operations apart. */
export function sseState(core: SimCore, cvm: Cvm) {
  return {
    ...cvmState(core, cvm),
    vm_uuid: cvm.vmUuid,
    app_id: cvm.appId,
    in_progress: inProgress(cvm),
    correlation_id: cvm.op?.correlationId ?? null,
  };
}

export function batchStatus(core: SimCore, cvm: Cvm) {
  return {
    vm_uuid: cvm.vmUuid,
    status: cvm.status,
    uptime: uptime(core, cvm) ?? null,
    in_progress: inProgress(cvm),
    boot_progress: bootProgress(cvm) ?? null,
    boot_error: cvm.bootError,
    operation_type: cvm.op?.kind ?? null,
    operation_started_at: cvm.op?.startedAt.toISOString() ?? null,
    correlation_id: cvm.op?.correlationId ?? null,
  };
}

/** The app object of every version; only the shape of its CVMs differs between versions. */
export function appShape<C>(app: AppRecord, cvms: C[]) {
  return {
    id: app.hashid,
    name: app.name,
    app_id: app.appId,
    app_provision_type: app.kmsType === 'phala' ? 'phala' : 'onchain',
    app_icon_url: null,
    created_at: app.createdAt.toISOString(),
    kms_type: app.kmsType,
    profile: null,
    current_cvm: cvms[0] ?? null,
    cvms,
    cvm_count: cvms.length,
  };
}

// What the real API reads from a CVM's guest agent (reference §4 rows 24–25): containers (`composition`, what
// `phala ps` shows), attestation (`phala cvms attestation`), system info (`stats`), network, the runtime user config
// (`phala runtime-config`), and the compose / pre-launch script as files. Answers follow @phala/cloud 0.2.9's zod
// schemas. A CVM that is not running has no agent to ask: `is_online: false` with an error and null data, as the
// real API answers, never a 4xx. Container ids, IPs and sizes are derived from the CVM's ids so they are stable.
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { buildAttestation, DSTACK_RUNTIME_EVENT_TYPE, runtimeEventDigest } from '../attestation';
import { quoteUserData } from '../catalog';
import { canonicalJson } from '../compose';
import type { SimCore } from '../core';
import { detailError } from '../http/errors';
import type { Cvm } from '../model';
import { endpoints } from '../shapes/common';
import { kmsKeyProviderId, kmsMeasurement } from '../shapes/kms-contracts';
import { sshKeysOf } from '../side-state';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';

const OFFLINE = 'CVM is not running';

const online = (cvm: Cvm) => cvm.status === 'running';

const hex = (s: string, bytes = 32) =>
  createHash('sha256')
    .update(s)
    .digest('hex')
    .slice(0, bytes * 2);

/** Seconds since the CVM last reached `running`, in simulated time. */
function uptimeSeconds(core: SimCore, cvm: Cvm): number {
  return cvm.runningSince === null ? 0 : Math.floor((Date.now() - cvm.runningSince) / core.timeScale / 1000);
}

/** The docker compose services of the CVM's compose (empty for a bash runner or an unreadable file). */
function services(cvm: Cvm): [string, Record<string, unknown>][] {
  const file = cvm.appCompose.docker_compose_file;
  if (typeof file !== 'string') return [];
  try {
    const doc = parseYaml(file) as { services?: Record<string, Record<string, unknown> | null> };
    return Object.entries(doc?.services ?? {}).map(([name, svc]) => [name, svc ?? {}]);
  } catch {
    return [];
  }
}

function composition(r: ApiRequest): Reply {
  const cvm = r.core.resolve(r.ws, r.params.id!);
  const compose = cvm.appCompose;
  const base = {
    is_public: compose.public_sysinfo !== false,
    docker_compose_file: compose.docker_compose_file ?? null,
    manifest_version: typeof compose.manifest_version === 'number' ? compose.manifest_version : 2,
    version: '1.0.0',
    runner: String(compose.runner ?? 'docker-compose'),
    features: (compose.features as string[] | undefined) ?? null,
  };
  if (!online(cvm)) return ok({ ...base, is_online: false, error: OFFLINE, containers: null });
  const created = Math.floor((cvm.runningSince ?? Date.now()) / 1000);
  const minutes = Math.max(1, Math.floor(uptimeSeconds(r.core, cvm) / 60));
  const containers = services(cvm).map(([name, svc]) => {
    const image = typeof svc.image === 'string' ? svc.image : `${name}:latest`;
    const command = Array.isArray(svc.command)
      ? svc.command.join(' ')
      : typeof svc.command === 'string'
        ? svc.command
        : null;
    return {
      id: hex(`container:${cvm.instanceId}:${cvm.composeHash}:${name}`),
      names: [`/${typeof svc.container_name === 'string' ? svc.container_name : `app-${name}-1`}`],
      image,
      image_id: `sha256:${hex(`image:${image}`)}`,
      command,
      created,
      state: 'running',
      status: `Up ${minutes} minute${minutes === 1 ? '' : 's'}`,
      log_endpoint: compose.public_logs === false ? null : `${endpoints(r.core, cvm)[0]!.instance}/logs/${name}`,
    };
  });
  return ok({ ...base, is_online: true, error: null, containers });
}

/** The attestation of a CVM from what its measurements depend on, with an injected attestation fault if any. */
export function attestationOf(core: SimCore, cvm: Cvm) {
  const node = core.nodeOf(cvm);
  const image = node.images.find((i) => i.name === cvm.image);
  const fault = core.faults.cvmFault(cvm, 'attestation')?.attestation;
  const compose = fault === 'wrong-compose-hash' ? { ...cvm.appCompose, injected: 'unapproved' } : cvm.appCompose;
  const osImageHash = image?.osImageHash ?? hex(`os-image:${cvm.image}`);
  const att = buildAttestation({
    appId: cvm.appId,
    instanceId: cvm.instanceId,
    appCompose: canonicalJson(compose),
    osImageHash: fault === 'unapproved-os-image' ? hex(`os-image:unapproved:${osImageHash}`) : osImageHash,
    vcpu: cvm.vcpu,
    memoryMb: cvm.memoryMb,
    keyProviderId: kmsKeyProviderId(core),
    kmsMeasurement: kmsMeasurement(core),
    quoteUserData: quoteUserData(node.name).toString('hex'),
    storageFs: String(cvm.appCompose.storage_fs ?? 'zfs'),
    gatewayDomain: node.gatewayDomain,
    bootedAt: new Date(cvm.runningSince ?? cvm.createdAt.getTime()),
  });
  // An event the registers never saw: the log no longer replays to RTMR3 (the quote still carries the true value).
  if (fault === 'non-replaying-log') att.tcbInfo.event_log.push(injectedEvent());
  return att;
}

function injectedEvent() {
  const payload = Buffer.from('unmeasured', 'utf8').toString('hex');
  return {
    imr: 3,
    event_type: DSTACK_RUNTIME_EVENT_TYPE,
    digest: runtimeEventDigest('injected', payload),
    event: 'injected',
    event_payload: payload,
  };
}

/** Whether an `attestationDelayMs` fault still hides the CVM's attestation (its guest agent is not up yet). */
function attestationPending(core: SimCore, cvm: Cvm): boolean {
  const delay = core.faults.cvmFault(cvm, 'attestationDelayMs')?.attestationDelayMs;
  return delay !== undefined && (cvm.runningSince ?? 0) + core.lifecycle.scaled(delay) > Date.now();
}

function attestation(r: ApiRequest): Reply {
  const cvm = r.core.resolve(r.ws, r.params.id!);
  const base = { name: cvm.name, is_public: cvm.appCompose.public_tcbinfo !== false };
  if (!online(cvm)) {
    return ok({
      ...base,
      is_online: false,
      error: OFFLINE,
      app_certificates: null,
      tcb_info: null,
      compose_file: null,
    });
  }
  if (attestationPending(r.core, cvm)) throw detailError(409, 'Attestation is not available yet');
  const att = attestationOf(r.core, cvm);
  return ok({
    ...base,
    is_online: true,
    error: null,
    app_certificates: att.certificates,
    tcb_info: att.tcbInfo,
    compose_file: att.tcbInfo.app_compose,
  });
}

function stats(r: ApiRequest): Reply {
  const cvm = r.core.resolve(r.ws, r.params.id!);
  const base = {
    is_public: cvm.appCompose.public_sysinfo !== false,
    status: cvm.status,
    in_progress: cvm.op !== null,
    boot_progress: cvm.status === 'running' ? 'done' : null,
    boot_error: cvm.bootError,
  };
  if (!online(cvm)) return ok({ ...base, is_online: false, error: OFFLINE, sysinfo: null });
  const image = r.core.nodeOf(cvm).images.find((i) => i.name === cvm.image);
  const totalMemory = cvm.memoryMb * 1024 * 1024;
  const used = Math.floor(totalMemory * 0.25);
  const disk = cvm.diskGb * 1024 ** 3;
  return ok({
    ...base,
    is_online: true,
    error: null,
    sysinfo: {
      os_name: 'DStack',
      os_version: image ? image.version.join('.') : cvm.image,
      kernel_version: '6.9.0-dstack',
      cpu_model: 'INTEL(R) XEON(R) PLATINUM 8570',
      num_cpus: cvm.vcpu,
      total_memory: totalMemory,
      available_memory: totalMemory - used,
      used_memory: used,
      free_memory: totalMemory - used,
      total_swap: 0,
      used_swap: 0,
      free_swap: 0,
      uptime: uptimeSeconds(r.core, cvm),
      loadavg_one: 0.05,
      loadavg_five: 0.03,
      loadavg_fifteen: 0.01,
      disks: [{ name: '/dev/vdb', mount_point: '/', total_size: disk, free_size: Math.floor(disk * 0.9) }],
    },
  });
}

function network(r: ApiRequest): Reply {
  const cvm = r.core.resolve(r.ws, r.params.id!);
  if (!online(cvm)) {
    return ok({
      is_online: false,
      is_public: true,
      error: OFFLINE,
      internal_ip: null,
      latest_handshake: null,
      public_urls: null,
    });
  }
  return ok({
    is_online: true,
    is_public: true,
    error: null,
    // The WireGuard address the gateway reaches the CVM on: 10.0.0.0/8, one per CVM.
    internal_ip: `10.${(cvm.id >> 16) & 255}.${(cvm.id >> 8) & 255}.${cvm.id & 255}`,
    latest_handshake: new Date().toISOString(),
    public_urls: endpoints(r.core, cvm),
  });
}

/** `user_config` as the CVM boots with it: its hostname, the workspace's SSH keys and its gateway domain. */
function userConfig(r: ApiRequest): Reply {
  const cvm = r.core.resolve(r.ws, r.params.id!);
  return ok({
    hostname: cvm.name,
    ssh_authorized_keys: sshKeysOf(r.core, r.ws.id).map((k) => k.public_key),
    default_gateway_domain: r.core.nodeOf(cvm).gatewayDomain,
  });
}

/** A file as the real API serves it: the body is the text itself, not JSON. */
function sendText(r: ApiRequest, text: string, contentType: string): 'streaming' {
  r.res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  r.res.end(text);
  return 'streaming';
}

function dockerComposeFile(r: ApiRequest): 'streaming' {
  const cvm = r.core.resolve(r.ws, r.params.id!);
  return sendText(r, String(cvm.appCompose.docker_compose_file ?? ''), 'text/yaml; charset=utf-8');
}

function preLaunchScript(r: ApiRequest): 'streaming' {
  const cvm = r.core.resolve(r.ws, r.params.id!);
  return sendText(r, String(cvm.appCompose.pre_launch_script ?? ''), 'text/plain; charset=utf-8');
}

export function registerRuntimeRoutes(router: ApiRouter): void {
  router
    .add('GET', '/cvms/:id/composition', composition)
    .add('GET', '/cvms/:id/attestation', attestation)
    .add('GET', '/cvms/:id/stats', stats)
    .add('GET', '/cvms/:id/network', network)
    .add('GET', '/cvms/:id/user_config', userConfig)
    .add('GET', '/cvms/:id/docker-compose.yml', dockerComposeFile)
    .add('GET', '/cvms/:id/pre-launch-script', preLaunchScript);
}

// API versions 2026-05-22 and later: hashed `cvm_…` ids everywhere a CVM is named — the commit response, the power
// actions and replicas answer `id: "cvm_…"` where older versions answered the integer id — and the CVMInfo object
// gains the fields the upstream Python/Go SDK models of these versions carry (`in_progress`, `logs`, `updated_at`,
// `base_image`, `hourly_rate`, …; upstream python `models/cvms.py` CvmInfoV20260522, go `types_cvms.go`).
import { INSTANCE_TYPES } from '../catalog';
import type { SimCore } from '../core';
import type { AppRecord, Cvm } from '../model';
import { appShape, commitShape, endpoints, inProgress, vmShape } from './common';
import { cvmInfo as cvmInfo20260121 } from './v20260121';

/** The `VM` action/replica object with the CVM's hashid as `id` (the integer id is internal from this version). */
export const vmShape20260522 = (core: SimCore, cvm: Cvm) => ({ ...vmShape(core, cvm), id: cvm.hashid });

export const commitShape20260522 = (core: SimCore, cvm: Cvm) => ({ ...commitShape(core, cvm), id: cvm.hashid });

export function cvmInfo(core: SimCore, cvm: Cvm, detail = false) {
  const base = cvmInfo20260121(core, cvm, detail);
  const compose = cvm.appCompose;
  const rate = INSTANCE_TYPES.find((t) => t.id === cvm.instanceType)?.hourly_rate ?? null;
  const appUrl = endpoints(core, cvm)[0]?.app ?? null;
  // Added to the older shape in place: spreading it into a new object of 40-odd keys cost V8 its fast path, and a
  // 10,000-CVM listing four times the older version's CPU.
  return Object.assign(base, {
    kms_info: Object.assign(base.kms_info, { k256_pubkey: core.signer.k256Pubkey }),
    in_progress: inProgress(cvm),
    docker_compose_hash: null,
    pre_launch_script_hash: null,
    logs: { serial: null, stdout: null, stderr: null, container_log_base: null },
    updated_at: cvm.updatedAt.toISOString(),
    deleted_at: null,
    project_type: null,
    app_url: appUrl,
    base_image: cvm.image,
    features: (compose.features as string[] | undefined) ?? ['kms', 'tproxy-net'],
    runner: String(compose.runner ?? 'docker-compose'),
    // A string in these versions' models (python `manifest_version: str | None`, go `*string`).
    manifest_version: String(compose.manifest_version ?? 2),
    hourly_rate: rate === null ? null : { total: rate, compute: rate, disk: '0' },
    billing_interval: 'hourly',
    gpu_rental_order: null,
  });
}

export function appInfo(core: SimCore, app: AppRecord, cvms: Cvm[]) {
  return appShape(
    app,
    cvms.map((c) => cvmInfo(core, c)),
  );
}

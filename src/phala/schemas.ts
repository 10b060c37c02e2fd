// Response shapes of the Phala Cloud API, as the official TS SDK 0.2.9 validates them (reference §3, §4): required vs
// optional and nullable exactly as there, defaults where the SDK applies them. Unlike the SDK, every object keeps
// unknown fields (`z.looseObject`): the API adds fields over time and a client that drops or rejects them loses data
// or breaks on a harmless server release. The only closed value sets are the ones the API documents as enums.
import { z } from 'zod';

const str = z.string();
const num = z.number();
const int = z.number().int();
const optStr = z.string().nullable().optional();
const optNum = z.number().nullable().optional();
const optInt = z.number().int().nullable().optional();
const optBool = z.boolean().nullable().optional();

/** §3.1 */
export const KmsInfoSchema = z.looseObject({
  id: str,
  slug: str.nullable(),
  url: str,
  version: str,
  chain_id: num.nullable(),
  kms_contract_address: str.nullable(),
  gateway_app_id: str.nullable(),
});

/** §4.1 `GET /teepods/available` */
export const OsImageSchema = z.looseObject({
  name: str,
  is_dev: z.boolean(),
  version: z.union([z.tuple([num, num, num]), z.tuple([num, num, num, num])]),
  os_image_hash: optStr,
});

export const NodeCapacitySchema = z.looseObject({
  teepod_id: num,
  name: str,
  listed: z.boolean(),
  resource_score: num,
  remaining_vcpu: num,
  remaining_memory: num,
  remaining_cvm_slots: num,
  images: z.array(OsImageSchema),
  support_onchain_kms: z.boolean().optional(),
  fmspc: optStr,
  device_id: optStr,
  region_identifier: optStr,
  default_kms: optStr,
  kms_list: z.array(str).default(() => []),
});

export const AvailableNodesSchema = z.looseObject({
  tier: str,
  capacity: z.looseObject({ max_instances: optNum, max_vcpu: optNum, max_memory: optNum, max_disk: optNum }),
  nodes: z.array(NodeCapacitySchema),
  kms_list: z.array(KmsInfoSchema),
});

/** §4.3 `POST /cvms/provision`: only `compose_hash` is required (on-chain KMS answers `app_id: null`). */
export const ProvisionCvmResponseSchema = z.looseObject({
  app_id: optStr,
  app_env_encrypt_pubkey: optStr,
  compose_hash: str,
  kms_info: KmsInfoSchema.nullable().optional(),
  fmspc: optStr,
  device_id: optStr,
  os_image_hash: optStr,
  instance_type: optStr,
  teepod_id: optNum,
  node_id: optNum,
  kms_id: optStr,
});

/** A `manifest_version` is a number in the TS SDK's models and a string in the newer Python/Go ones. */
const manifestVersion = z.union([num, str]);

/**
 * §3.3 `POST /cvms` (commit). `id` is the integer id up to 2026-01-21 and the `cvm_…` hashid from 2026-05-22
 * (upstream python `CommitCvmProvisionResponseV20260522`); the rest is the same.
 */
function commitSchema<T extends z.ZodType>(id: T) {
  return z.looseObject({
    id,
    name: str,
    status: str,
    teepod_id: num,
    teepod: z.looseObject({ id: num, name: str }).nullable(),
    user_id: num.nullable(),
    app_id: str.nullable(),
    vm_uuid: str.nullable(),
    instance_id: str.nullable(),
    app_url: str.nullable().default(null),
    base_image: str.nullable(),
    vcpu: num,
    memory: num,
    disk_size: num,
    manifest_version: manifestVersion.nullable().default(2),
    version: str.nullable().default('1.0.0'),
    runner: str.nullable().default('docker-compose'),
    docker_compose_file: str.nullable(),
    features: z
      .array(str)
      .nullable()
      .default(() => ['kms', 'tproxy-net']),
    created_at: str,
    encrypted_env_pubkey: optStr,
    app_auth_contract_address: optStr,
    deployer_address: optStr,
  });
}

export const CommitCvmResponseSchema = commitSchema(num);
export const CommitCvmResponseV20260522Schema = commitSchema(str);

/**
 * §3.2 the `VM` of start/stop/shutdown/restart/replicas; `id` as in the commit response (upstream python
 * `CvmActionResponseV20260522`).
 */
function vmSchema<T extends z.ZodType>(id: T) {
  return z.looseObject({
    id,
    name: str,
    status: str,
    teepod_id: num,
    teepod: z.looseObject({ id: num, name: str, region_identifier: optStr }).nullable().optional(),
    user_id: optNum,
    app_id: str,
    vm_uuid: str.nullable(),
    instance_id: str.nullable(),
    app_url: optStr,
    base_image: optStr,
    vcpu: num,
    memory: num,
    disk_size: num,
    manifest_version: manifestVersion.nullable().optional(),
    version: optStr,
    runner: optStr,
    docker_compose_file: optStr,
    features: z.array(str).nullable().optional(),
    created_at: str,
    encrypted_env_pubkey: str.nullable(),
  });
}

export const VmSchema = vmSchema(num);
export const VmV20260522Schema = vmSchema(str);

const EndpointSchema = z.looseObject({ app: str, instance: str });

/** §3.4 CVM list item, version 2026-01-21 (hashed string `id`; busy-ness is `progress.target`). */
export const CvmInfoV20260121Schema = z.looseObject({
  id: str,
  name: str,
  app_id: optStr,
  vm_uuid: optStr,
  instance_id: optStr,
  resource: z.looseObject({
    instance_type: optStr,
    vcpu: optInt,
    memory_in_gb: optNum,
    disk_in_gb: optInt,
    gpus: optInt,
    compute_billing_price: optStr,
    billing_period: z.enum(['skip', 'hourly', 'monthly']).nullable().optional(),
  }),
  node_info: z
    .looseObject({
      object_type: z.literal('node'),
      id: optInt,
      name: optStr,
      region: optStr,
      device_id: optStr,
      ppid: optStr,
      status: optStr,
      version: optStr,
    })
    .nullable()
    .optional(),
  os: z.looseObject({ name: optStr, version: optStr, is_dev: optBool, os_image_hash: optStr }).nullable().optional(),
  kms_type: z.enum(['phala', 'ethereum', 'base', 'legacy']).nullable().optional(),
  kms_info: z
    .looseObject({
      chain_id: optInt,
      dstack_kms_address: optStr,
      dstack_app_address: optStr,
      deployer_address: optStr,
      rpc_endpoint: optStr,
      encrypted_env_pubkey: optStr,
    })
    .nullable()
    .optional(),
  status: str,
  progress: z.looseObject({ target: optStr, started_at: optStr, correlation_id: optStr }).nullable().optional(),
  compose_hash: optStr,
  gateway: z.looseObject({ base_domain: optStr, cname: optStr }),
  services: z.array(z.record(z.string(), z.unknown())).default(() => []),
  endpoints: z.array(EndpointSchema).nullable().optional(),
  public_logs: z.boolean().optional(),
  public_sysinfo: z.boolean().optional(),
  public_tcbinfo: z.boolean().optional(),
  gateway_enabled: z.boolean().optional(),
  secure_time: z.boolean().optional(),
  listed: z.boolean().default(false),
  storage_fs: str.optional(),
  workspace: z
    .looseObject({ object_type: z.literal('workspace'), id: str, name: str, slug: optStr, avatar_url: optStr })
    .nullable()
    .optional(),
  creator: z
    .looseObject({ object_type: z.literal('user'), id: optStr, username: optStr, avatar_url: optStr })
    .nullable()
    .optional(),
});

/** §3.4 `GET /cvms/{id}`, version 2026-01-21. */
export const CvmDetailV20260121Schema = CvmInfoV20260121Schema.extend({
  compose_file: z
    .union([z.record(z.string(), z.unknown()), str])
    .nullable()
    .optional(),
});

/**
 * CVMInfo from 2026-05-22: the 2026-01-21 object plus the fields the upstream python `CvmInfoV20260522` names
 * (every object here is loose, so the rest of them are kept as they come).
 */
export const CvmInfoV20260522Schema = CvmInfoV20260121Schema.extend({
  in_progress: z.boolean().default(false),
  updated_at: optStr,
  base_image: optStr,
  manifest_version: manifestVersion.nullable().optional(),
});

export const CvmDetailV20260522Schema = CvmInfoV20260522Schema.extend({
  compose_file: CvmDetailV20260121Schema.shape.compose_file,
});

const NodeRefV20251028Schema = z.looseObject({ id: num, name: str, region_identifier: optStr });
const MachineInfoSchema = z.looseObject({ vcpu: num, memory: num, disk_size: num, gpu_count: num.default(0) });

/** §3.5 `GET /cvms/{id}`, version 2025-10-28 (integer `id`, `in_progress`). */
export const CvmDetailV20251028Schema = z.looseObject({
  id: num,
  name: str,
  status: str,
  in_progress: z.boolean().default(false),
  teepod_id: num.nullable(),
  teepod: NodeRefV20251028Schema.nullable().optional(),
  app_id: str,
  vm_uuid: str.nullable(),
  instance_id: str.nullable(),
  vcpu: num,
  memory: num,
  disk_size: num,
  base_image: str.nullable(),
  encrypted_env_pubkey: str.nullable(),
  listed: z.boolean().default(false),
  project_id: optStr,
  project_type: optStr,
  instance_type: optStr,
  public_sysinfo: z.boolean().default(false),
  public_logs: z.boolean().default(false),
  dapp_dashboard_url: optStr,
  syslog_endpoint: optStr,
  kms_info: KmsInfoSchema.nullable().optional(),
  contract_address: optStr,
  deployer_address: optStr,
  scheduled_delete_at: optStr,
  public_urls: z.array(EndpointSchema).default(() => []),
  gateway_domain: optStr,
  machine_info: MachineInfoSchema.nullable().optional(),
  updated_at: optStr,
});

/** §3.6 list item, version 2025-10-28 (`HostedCvm`). */
export const CvmInfoV20251028Schema = z.looseObject({
  hosted: z.looseObject({
    id: str,
    name: str,
    status: str,
    uptime: str,
    app_url: str.nullable(),
    app_id: str,
    instance_id: str.nullable(),
    configuration: z.unknown().optional(),
    exited_at: str.nullable(),
    boot_progress: str.nullable(),
    boot_error: str.nullable(),
    shutdown_progress: str.nullable(),
    image_version: str.nullable(),
  }),
  name: str,
  managed_user: z.looseObject({ id: num, username: str }).nullable(),
  node: NodeRefV20251028Schema.nullable(),
  listed: z.boolean().default(false),
  status: str,
  in_progress: z.boolean().default(false),
  dapp_dashboard_url: str.nullable(),
  syslog_endpoint: str.nullable(),
  allow_upgrade: z.boolean().default(false),
  project_id: str.nullable(),
  project_type: str.nullable(),
  billing_period: str.nullable(),
  kms_info: KmsInfoSchema.nullable(),
  vcpu: num.nullable(),
  memory: num.nullable(),
  disk_size: num.nullable(),
  gateway_domain: str.nullable(),
  public_urls: z.array(EndpointSchema),
  machine_info: MachineInfoSchema.nullable().optional(),
  updated_at: optStr,
});

/**
 * The few fields of a 2026-01-21 list item that fleet-wide scans need (identity, name, power state). A plain object
 * schema strips everything else, so a 10,000-CVM listing does not keep ~17 MB of detail alive.
 */
export const CvmSummarySchema = z.object({
  id: str,
  name: str,
  status: str,
  vm_uuid: optStr,
  instance_id: optStr,
  progress: z.object({ target: optStr }).nullable().optional(),
});
export type CvmSummary = z.output<typeof CvmSummarySchema>;

/** §1.3 page-number pagination of `GET /cvms/paginated`. */
function paginated<T extends z.ZodType>(item: T) {
  return z.looseObject({ items: z.array(item), total: num, page: num, page_size: num, pages: num });
}

export const PaginatedCvmsV20260121Schema = paginated(CvmInfoV20260121Schema);
export const PaginatedCvmsV20251028Schema = paginated(CvmInfoV20251028Schema);
export const PaginatedCvmsV20260522Schema = paginated(CvmInfoV20260522Schema);

/** §3.7 `GET /cvms/{id}/state` without `target`: the optional strings are absent rather than null. */
export const CvmStateSchema = z.looseObject({
  id: str.optional(),
  instance_id: str.optional(),
  name: str,
  status: str,
  uptime: str.optional(),
  exited_at: str.optional(),
  boot_progress: str.optional(),
  boot_error: str.optional(),
  shutdown_progress: str.optional(),
});

/** §3.8 one entry of `POST /status/batch`. */
export const CvmStatusSchema = z.looseObject({
  vm_uuid: str,
  status: str,
  in_progress: z.boolean(),
  uptime: optStr,
  boot_progress: optStr,
  boot_error: optStr,
  operation_type: optStr,
  operation_started_at: optStr,
  correlation_id: optStr,
});

/** §3.8 keyed by vm_uuid. */
export const CvmStatusBatchSchema = z.record(z.string(), CvmStatusSchema);

/** One event of a CVM's TDX event log (`imr` 0–3; runtime events carry a name and a hex payload). */
export const EventLogEntrySchema = z.looseObject({
  imr: int,
  event_type: int,
  /** 48-byte sha384, hex. */
  digest: str,
  /** The event name for runtime events; empty for boot events. */
  event: str,
  event_payload: str,
});
/** The API's event-log entry, shared by the simulator that builds logs and the verifier that replays them. */
export type EventLogEntry = z.output<typeof EventLogEntrySchema>;

const CertificateSchema = z.looseObject({
  subject: z.looseObject({
    common_name: str.nullable(),
    organization: str.nullable(),
    country: str.nullable(),
    state: str.nullable(),
    locality: str.nullable(),
  }),
  issuer: z.looseObject({ common_name: str.nullable(), organization: str.nullable(), country: str.nullable() }),
  serial_number: str,
  not_before: str,
  not_after: str,
  version: str,
  fingerprint: str,
  signature_algorithm: str,
  sans: z.array(str).nullable(),
  is_ca: z.boolean(),
  position_in_chain: int.nullable(),
  /** The TDX quote (hex) an RA-TLS certificate carries. */
  quote: str.nullable(),
  app_id: optStr,
  cert_usage: optStr,
});

/** `GET /cvms/{id}/attestation` (SDK 0.2.9 `CvmAttestationSchema`): null parts while the CVM is offline. */
export const CvmAttestationSchema = z.looseObject({
  name: str.nullable(),
  is_online: z.boolean(),
  is_public: z.boolean().default(true),
  error: str.nullable(),
  app_certificates: z.array(CertificateSchema).nullable(),
  tcb_info: z
    .looseObject({
      mrtd: str,
      rootfs_hash: optStr,
      rtmr0: str,
      rtmr1: str,
      rtmr2: str,
      rtmr3: str,
      event_log: z.array(EventLogEntrySchema),
      app_compose: str,
    })
    .nullable(),
  compose_file: str.nullable(),
});
export type CvmAttestation = z.output<typeof CvmAttestationSchema>;
/** The TCB info of an online CVM's attestation: its measurements, their event log and the app-compose. */
export type TcbInfo = NonNullable<CvmAttestation['tcb_info']>;

/** §7.1 the app-compose of `GET /cvms/{id}/compose_file`. */
export const AppComposeSchema = z.looseObject({
  docker_compose_file: str,
  allowed_envs: z.array(str).optional(),
  name: str.optional(),
  features: z.array(str).optional(),
  manifest_version: num.optional(),
  kms_enabled: z.boolean().optional(),
  public_logs: z.boolean().optional(),
  public_sysinfo: z.boolean().optional(),
  public_tcbinfo: z.boolean().optional(),
  gateway_enabled: z.boolean().optional(),
  pre_launch_script: str.optional(),
  salt: optStr,
});

/** §4 row 14 `POST /cvms/{id}/compose_file/provision` */
export const ComposeFileProvisionResponseSchema = z.looseObject({
  app_id: str.nullable(),
  device_id: str.nullable(),
  compose_hash: str,
  kms_info: KmsInfoSchema.nullable().optional(),
  compose_hash_registered: z.boolean().default(false),
});

/** 202 of the single-resource updates (`/envs`, `/docker-compose`, `/pre-launch-script`), §7.2. */
export const UpdateAcceptedSchema = z.looseObject({
  status: str,
  message: str,
  correlation_id: str,
  allowed_envs_changed: z.boolean().optional(),
});

/** 202 of `PATCH /cvms/{id}/compose_file`: the SDK ignores this body, so nothing in it is required (or present). */
export const ComposeFileUpdateAcceptedSchema = z.preprocess(
  (body) => body ?? {},
  z.looseObject({ status: str.optional(), message: str.optional(), correlation_id: str.optional() }),
);

/** `GET /kms/{kms}/pubkey/{app_id}` */
export const AppEnvPubKeySchema = z.looseObject({ public_key: str, signature: str });

const AppProfileSchema = z.looseObject({
  display_name: optStr,
  avatar_url: optStr,
  description: optStr,
  custom_domain: optStr,
});

/** `GET /apps/{app_id}` answers either the app with its CVMs or, for an app the API knows only by id, a stub. */
function appSchema<T extends z.ZodType>(cvm: T) {
  const full = z.looseObject({
    id: str,
    name: str,
    app_id: str,
    app_provision_type: optStr,
    app_icon_url: optStr,
    created_at: str,
    kms_type: str,
    profile: AppProfileSchema.nullable().optional(),
    current_cvm: cvm.nullable().optional(),
    cvms: z.array(cvm).default(() => []),
    cvm_count: int.default(0),
  });
  const stub = z.looseObject({
    app_id: str,
    id: z.null().optional(),
    name: z.null().optional(),
    current_cvm: z.null().optional(),
    cvms: z.null().optional(),
    cvm_count: z.null().optional(),
  });
  return z.union([full, stub]);
}

const CvmBasicInfoV20251028Schema = z.looseObject({
  vm_uuid: str.nullable(),
  app_id: str,
  name: str.default(''),
  status: str,
  vcpu: int,
  memory: int,
  disk_size: int,
  teepod_id: int,
  teepod_name: str,
  region_identifier: optStr,
  kms_type: optStr,
  instance_type: optStr,
  listed: optBool,
  base_image: optStr,
  kms_slug: optStr,
  kms_id: optStr,
  instance_id: optStr,
  machine_info: MachineInfoSchema.nullable().optional(),
  updated_at: optStr,
});

export const AppV20260121Schema = appSchema(CvmInfoV20260121Schema);
export const AppV20251028Schema = appSchema(CvmBasicInfoV20251028Schema);
export const AppV20260522Schema = appSchema(CvmInfoV20260522Schema);

/** `GET /auth/me`, version 2026-01-21 */
export const CurrentUserV20260121Schema = z.looseObject({
  user: z.looseObject({
    username: str,
    email: str,
    role: z.enum(['admin', 'user']),
    avatar: str,
    email_verified: z.boolean(),
    totp_enabled: z.boolean(),
    has_backup_codes: z.boolean(),
    flag_has_password: z.boolean(),
  }),
  workspace: z.looseObject({ id: str, name: str, slug: str.nullable(), tier: str, role: str, avatar: optStr }),
  credits: z.looseObject({
    balance: z.union([str, num]),
    granted_balance: z.union([str, num]),
    is_post_paid: z.boolean(),
    outstanding_amount: z.union([str, num]).nullable(),
  }),
});

/** `GET /auth/me`, version 2025-10-28 */
export const CurrentUserV20251028Schema = z.looseObject({
  username: str,
  email: str,
  credits: num,
  granted_credits: num,
  avatar: str,
  team_name: str,
  team_tier: str,
});

/** The responses whose shape `X-Phala-Version` selects (reference §0.1, docs/phala-api-versions.md). */
const V20260522 = {
  cvmDetail: CvmDetailV20260522Schema,
  cvmList: PaginatedCvmsV20260522Schema,
  appCvms: z.array(CvmInfoV20260522Schema),
  app: AppV20260522Schema,
  currentUser: CurrentUserV20260121Schema,
  commit: CommitCvmResponseV20260522Schema,
  vm: VmV20260522Schema,
};

export const SCHEMAS_BY_VERSION = {
  '2025-10-28': {
    cvmDetail: CvmDetailV20251028Schema,
    cvmList: PaginatedCvmsV20251028Schema,
    appCvms: z.array(CvmInfoV20251028Schema),
    app: AppV20251028Schema,
    currentUser: CurrentUserV20251028Schema,
    commit: CommitCvmResponseSchema,
    vm: VmSchema,
  },
  '2026-01-21': {
    cvmDetail: CvmDetailV20260121Schema,
    cvmList: PaginatedCvmsV20260121Schema,
    appCvms: z.array(CvmInfoV20260121Schema),
    app: AppV20260121Schema,
    currentUser: CurrentUserV20260121Schema,
    commit: CommitCvmResponseSchema,
    vm: VmSchema,
  },
  // 2026-06-23 changes only the KMS API, which this client does not list; its CVM shapes are 2026-05-22's.
  '2026-05-22': V20260522,
  '2026-06-23': V20260522,
} as const;

export type ApiVersion = keyof typeof SCHEMAS_BY_VERSION;
export const API_VERSIONS = Object.keys(SCHEMAS_BY_VERSION) as ApiVersion[];
/** The versions whose CVMs are CVMInfo objects: the ones cvmflow's workflows and activities run on. */
export type CvmInfoVersion = Exclude<ApiVersion, '2025-10-28'>;
export const CVM_INFO_VERSIONS = API_VERSIONS.filter((v): v is CvmInfoVersion => v !== '2025-10-28');
type Versioned<V extends ApiVersion, K extends keyof (typeof SCHEMAS_BY_VERSION)[ApiVersion]> = z.output<
  (typeof SCHEMAS_BY_VERSION)[V][K]
>;

export type KmsInfo = z.output<typeof KmsInfoSchema>;
export type AvailableNodes = z.output<typeof AvailableNodesSchema>;
export type NodeCapacity = z.output<typeof NodeCapacitySchema>;
export type ProvisionCvmResponse = z.output<typeof ProvisionCvmResponseSchema>;
export type CvmInfoV20260121 = z.output<typeof CvmInfoV20260121Schema>;
export type CvmDetailV20260121 = z.output<typeof CvmDetailV20260121Schema>;
export type CvmInfoV20251028 = z.output<typeof CvmInfoV20251028Schema>;
export type CvmDetailV20251028 = z.output<typeof CvmDetailV20251028Schema>;
export type CvmInfoV20260522 = z.output<typeof CvmInfoV20260522Schema>;
export type CvmDetailV20260522 = z.output<typeof CvmDetailV20260522Schema>;
export type CvmState = z.output<typeof CvmStateSchema>;
export type CvmStatus = z.output<typeof CvmStatusSchema>;
export type CvmStatusBatch = z.output<typeof CvmStatusBatchSchema>;
export type AppCompose = z.output<typeof AppComposeSchema>;
export type ComposeFileProvisionResponse = z.output<typeof ComposeFileProvisionResponseSchema>;
export type UpdateAccepted = z.output<typeof UpdateAcceptedSchema>;
export type ComposeFileUpdateAccepted = z.output<typeof ComposeFileUpdateAcceptedSchema>;
export type AppEnvPubKey = z.output<typeof AppEnvPubKeySchema>;
export type CvmDetail<V extends ApiVersion = '2026-01-21'> = Versioned<V, 'cvmDetail'>;
export type CvmList<V extends ApiVersion = '2026-01-21'> = Versioned<V, 'cvmList'>;
export type AppCvms<V extends ApiVersion = '2026-01-21'> = Versioned<V, 'appCvms'>;
export type App<V extends ApiVersion = '2026-01-21'> = Versioned<V, 'app'>;
export type CurrentUser<V extends ApiVersion = '2026-01-21'> = Versioned<V, 'currentUser'>;
export type CommitCvmResponse<V extends ApiVersion = '2026-01-21'> = Versioned<V, 'commit'>;
export type Vm<V extends ApiVersion = '2026-01-21'> = Versioned<V, 'vm'>;

/**
 * Payloads of the `GET /cvms/{id}/state?target=…` event stream (reference §6.1). Only what a watcher needs is
 * required: a `state` carries the CvmState fields, but nothing except `status` is relied upon.
 */
export const WatchStateDataSchema = z.looseObject({ status: str, name: str.optional(), id: str.optional() });
export const WatchCompleteDataSchema = z.looseObject({
  status: str.optional(),
  elapsed: num.optional(),
  target: str.optional(),
});
export const WatchTimeoutDataSchema = z.looseObject({
  error: str.optional(),
  elapsed: num.optional(),
  target: str.optional(),
});
export const WatchErrorDataSchema = z.looseObject({ error: str.optional(), elapsed: num.optional(), message: optStr });

export type WatchStateData = z.output<typeof WatchStateDataSchema>;
export type WatchCompleteData = z.output<typeof WatchCompleteDataSchema>;
export type WatchTimeoutData = z.output<typeof WatchTimeoutDataSchema>;
export type WatchErrorData = z.output<typeof WatchErrorDataSchema>;

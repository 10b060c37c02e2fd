// The Phala Cloud API client: one undici Pool (keep-alive) to the API origin, typed methods named after the API's own
// operations, every response validated with zod. It never retries: retries belong to the caller (Temporal activities),
// which reads PhalaApiError.retryable / retryAfterMs. Aborting a call's `signal` rejects it with the signal's reason,
// so a cancelled Temporal activity surfaces its CancelledFailure unchanged.
import { type Dispatcher, Pool } from 'undici';
import { z } from 'zod';
import { errorFromNetwork, errorFromResponse, header, notJsonError, validationErrorFromZod } from './error-parsing';
import { PhalaUsageError } from './errors';
import { type CvmIdentifier, isValidCvmName, normalizeAppId, resolveCvmId } from './ids';
import {
  API_VERSIONS,
  type ApiVersion,
  type App,
  AppComposeSchema,
  type AppCvms,
  AppEnvPubKeySchema,
  AvailableNodesSchema,
  type CommitCvmResponse,
  ComposeFileProvisionResponseSchema,
  ComposeFileUpdateAcceptedSchema,
  type CurrentUser,
  CVM_INFO_VERSIONS,
  CvmAttestationSchema,
  type CvmDetail,
  type CvmInfoVersion,
  type CvmList,
  CvmStateSchema,
  CvmStatusBatchSchema,
  type CvmSummary,
  CvmSummarySchema,
  ProvisionCvmResponseSchema,
  SCHEMAS_BY_VERSION,
  UpdateAcceptedSchema,
  type Vm,
} from './schemas';

export const DEFAULT_BASE_URL = 'https://cloud-api.phala.com/api/v1';
/** What the official SDKs send today (python 0.2.0, go); pin another with `version` or PHALA_CLOUD_API_VERSION. */
export const DEFAULT_API_VERSION = '2026-06-23';

/**
 * A client whose version is chosen at run time (environment, config file) is typed for every version cvmflow runs
 * on: the fields common to their CVMInfo shapes, which is all the activities read.
 */
export interface PhalaClientOptions<V extends ApiVersion = CvmInfoVersion> {
  apiKey: string;
  /** Default `https://cloud-api.phala.com/api/v1`; every path is relative to it. */
  baseURL?: string;
  /** `X-Phala-Version`: selects the shape of CVM, app and user responses. Default `2026-06-23`. */
  version?: V;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /** Time to the response headers. Default 30 s (the SDK's per-request timeout). */
  headersTimeoutMs?: number;
  /** Longest silence while reading a body. Default 30 s. */
  bodyTimeoutMs?: number;
  /** How long an idle keep-alive connection is kept. Default 30 s. */
  keepAliveTimeoutMs?: number;
  /**
   * Most connections open to the API at once (SSE streams included); further requests wait in the pool. Default 32:
   * a worker starting 1,000 deploys must not open 1,000 sockets at once (bench/README.md, concurrency).
   */
  maxConnections?: number;
  userAgent?: string;
  /** Called after every request with its endpoint template and outcome (metrics); never with headers or bodies. */
  onResponse?: (call: ApiCallRecord) => void;
}

/** One finished API call: `endpoint` is the path template (`GET /cvms/{cvmId}`), `status` the HTTP status. */
export interface ApiCallRecord {
  endpoint: string;
  status: number | 'network-error';
  durationMs: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

type QueryValue = string | number | boolean | readonly string[] | undefined;
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions<S extends z.ZodType | undefined = undefined> extends CallOptions {
  /** Values for `{name}` placeholders in the path; each is URL-encoded. */
  params?: Record<string, string>;
  query?: Record<string, QueryValue>;
  /** Sent as JSON. */
  body?: unknown;
  /** Validates the JSON response; without it the parsed JSON (or undefined for an empty body) is returned. */
  schema?: S;
}

export interface StreamOptions extends CallOptions {
  params?: Record<string, string>;
  query?: Record<string, QueryValue>;
  /** Longest silence between two chunks before the stream counts as dead. */
  bodyTimeoutMs: number;
}

/** An open `text/event-stream` body; the reader must consume it or call `destroy()`. */
export type EventStreamBody = Dispatcher.ResponseData['body'];

/** `POST /cvms/provision` body (reference §4.2), in the API's own field names. */
export interface ProvisionCvmRequest {
  name: string;
  compose_file: {
    docker_compose_file?: string;
    allowed_envs?: string[];
    pre_launch_script?: string;
    name?: string;
    public_logs?: boolean;
    public_sysinfo?: boolean;
    public_tcbinfo?: boolean;
    gateway_enabled?: boolean;
    kms_enabled?: boolean;
    secure_time?: boolean;
    storage_fs?: 'zfs' | 'ext4';
    [key: string]: unknown;
  };
  instance_type?: string;
  vcpu?: number;
  /** MB */
  memory?: number;
  /** GB */
  disk_size?: number;
  image?: string;
  /** The node to deploy on; sent as `teepod_id`, the API's name for it. */
  node_id?: number;
  /** Deprecated spelling of node_id, still accepted. */
  teepod_id?: number;
  region?: string;
  listed?: boolean;
  /** `PHALA` (default), `ETHEREUM` or `BASE`; the server is case-insensitive. */
  kms?: string;
  kms_id?: string;
  kms_contract?: string;
  env_keys?: string[];
  nonce?: number;
  app_id?: string;
  [key: string]: unknown;
}

/** `POST /cvms` body (reference §4.4). */
export interface CommitCvmProvisionRequest {
  app_id: string;
  compose_hash: string;
  encrypted_env?: string | null;
  env_keys?: string[] | null;
  kms_id?: string;
  contract_address?: string;
  deployer_address?: string;
  transaction_hash?: string;
  [key: string]: unknown;
}

export interface ListCvmsQuery {
  page?: number;
  /** 1–100, server default 30. */
  pageSize?: number;
  /** Up to 2026-01-21 only: 2026-05-22 removed the node filter. */
  nodeId?: number;
  /** From 2026-05-22: `cpu`, `gpu` or `all`. */
  family?: 'all' | 'cpu' | 'gpu';
  /** From 2026-05-22: only CVMs of these instance types (e.g. `tdx.small`). */
  instanceTypes?: readonly string[];
}

/** Versions are ISO dates: comparing the strings compares the dates. */
const hashidVersion = (v: ApiVersion) => v >= '2026-05-22';

export class PhalaClient<V extends ApiVersion = CvmInfoVersion> {
  readonly baseURL: string;
  readonly version: V;
  private readonly apiKey: string;
  private readonly basePath: string;
  private readonly userAgent: string;
  private readonly pool: Pool;
  private readonly onResponse?: (call: ApiCallRecord) => void;
  // Typed per version through CvmDetail<V> & co.: TypeScript cannot follow a generic index into this map.
  private readonly schemas: (typeof SCHEMAS_BY_VERSION)[ApiVersion];

  constructor(options: PhalaClientOptions<V>) {
    if (!options.apiKey) {
      throw new PhalaUsageError('PHALA_MISSING_API_KEY', 'apiKey', 'PhalaClient needs an apiKey (X-API-Key)');
    }
    const version = (options.version ?? DEFAULT_API_VERSION) as V;
    if (!API_VERSIONS.includes(version)) {
      throw new PhalaUsageError(
        'PHALA_INVALID_ARGUMENT',
        'version',
        `API version "${version}" is not supported; use one of ${API_VERSIONS.join(', ')}`,
      );
    }
    const url = parseBaseUrl(options.baseURL ?? DEFAULT_BASE_URL, 'baseURL');
    this.apiKey = options.apiKey;
    this.version = version;
    this.schemas = SCHEMAS_BY_VERSION[version];
    this.baseURL = `${url.origin}${url.pathname}`.replace(/\/+$/, '');
    this.basePath = url.pathname;
    this.userAgent = options.userAgent ?? 'cvmflow';
    this.onResponse = options.onResponse;
    this.pool = new Pool(url.origin, {
      connect: { timeout: options.connectTimeoutMs ?? 10_000 },
      headersTimeout: options.headersTimeoutMs ?? 30_000,
      bodyTimeout: options.bodyTimeoutMs ?? 30_000,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
      connections: options.maxConnections ?? 32,
    });
  }

  /**
   * Reads `PHALA_CLOUD_API_KEY`, `PHALA_CLOUD_API_PREFIX` (the official clients' variables) and
   * `PHALA_CLOUD_API_VERSION` (a version cvmflow's workflows run on, default 2026-06-23); `overrides` win.
   */
  static fromEnv<V extends ApiVersion = CvmInfoVersion>(
    env: NodeJS.ProcessEnv = process.env,
    overrides: Partial<PhalaClientOptions<V>> = {},
  ): PhalaClient<V> {
    const apiKey = overrides.apiKey ?? env.PHALA_CLOUD_API_KEY;
    if (!apiKey) {
      throw new PhalaUsageError(
        'PHALA_MISSING_API_KEY',
        'PHALA_CLOUD_API_KEY',
        'PHALA_CLOUD_API_KEY is not set: create an API key in the Phala Cloud dashboard and export it',
      );
    }
    let baseURL = overrides.baseURL;
    if (baseURL === undefined && env.PHALA_CLOUD_API_PREFIX) {
      baseURL = parseBaseUrl(env.PHALA_CLOUD_API_PREFIX, 'PHALA_CLOUD_API_PREFIX').href;
    }
    let version = overrides.version;
    const fromEnv = env.PHALA_CLOUD_API_VERSION?.trim();
    if (version === undefined && fromEnv) {
      if (!(CVM_INFO_VERSIONS as readonly string[]).includes(fromEnv)) {
        throw new PhalaUsageError(
          'PHALA_INVALID_ARGUMENT',
          'PHALA_CLOUD_API_VERSION',
          `PHALA_CLOUD_API_VERSION "${fromEnv}" is not one cvmflow runs on; use one of ${CVM_INFO_VERSIONS.join(', ')}`,
        );
      }
      version = fromEnv as V;
    }
    return new PhalaClient<V>({ ...overrides, apiKey, baseURL, version });
  }

  /** Closes idle connections and waits for in-flight requests. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  async request<S extends z.ZodType>(
    method: HttpMethod,
    path: string,
    options: RequestOptions<S> & { schema: S },
  ): Promise<z.output<S>>;
  async request(method: HttpMethod, path: string, options?: RequestOptions): Promise<unknown>;
  async request(method: HttpMethod, path: string, options: RequestOptions<z.ZodType | undefined> = {}) {
    const endpoint = `${method} ${path.split('?')[0]}`;
    const headers: Record<string, string> = {
      'x-api-key': this.apiKey,
      'x-phala-version': this.version,
      'content-type': 'application/json',
      accept: 'application/json',
      'user-agent': this.userAgent,
    };
    const res = await this.send(endpoint, options.signal, {
      method,
      path: this.url(path, options.params, options.query),
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await this.readText(endpoint, res, options.signal);
    const requestId = header(res.headers, 'x-request-id');
    if (res.statusCode < 200 || res.statusCode >= 300) {
      throw errorFromResponse({
        endpoint,
        status: res.statusCode,
        headers: res.headers,
        bodyText: text,
        secrets: [this.apiKey],
      });
    }
    const info = { endpoint, status: res.statusCode, requestId, secrets: [this.apiKey] };
    let json: unknown;
    if (text.trim() !== '') {
      try {
        json = JSON.parse(text);
      } catch {
        throw notJsonError(info, text, header(res.headers, 'content-type'));
      }
    }
    if (!options.schema) return json;
    const parsed = options.schema.safeParse(json);
    if (!parsed.success) throw validationErrorFromZod(info, parsed.error, json);
    return parsed.data;
  }

  /**
   * Opens a server-sent-event stream. Sent like the official SDK's watcher: `Accept: text/event-stream`,
   * `Cache-Control: no-cache`, the API key, and no `X-Phala-Version` or `Content-Type`.
   */
  async openEventStream(path: string, options: StreamOptions): Promise<EventStreamBody> {
    const endpoint = `GET ${path}`;
    const res = await this.send(endpoint, options.signal, {
      method: 'GET',
      path: this.url(path, options.params, options.query),
      headers: {
        accept: 'text/event-stream',
        'cache-control': 'no-cache',
        'x-api-key': this.apiKey,
        'user-agent': this.userAgent,
      },
      bodyTimeout: options.bodyTimeoutMs,
    });
    const contentType = header(res.headers, 'content-type');
    if (res.statusCode >= 200 && res.statusCode < 300 && contentType?.startsWith('text/event-stream')) return res.body;
    const text = await this.readText(endpoint, res, options.signal);
    const secrets = [this.apiKey];
    if (res.statusCode >= 200 && res.statusCode < 300) {
      throw notJsonError(
        { endpoint, status: res.statusCode, requestId: header(res.headers, 'x-request-id'), secrets },
        text,
        `${contentType ?? 'no content-type'}, expected text/event-stream`,
      );
    }
    throw errorFromResponse({ endpoint, status: res.statusCode, headers: res.headers, bodyText: text, secrets });
  }

  /** Turns an undici rejection into the signal's reason (aborted) or a classified network error. */
  transportError(endpoint: string, err: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return signal.reason ?? err;
    return errorFromNetwork(endpoint, err, [this.apiKey]);
  }

  private async send(
    endpoint: string,
    signal: AbortSignal | undefined,
    options: Dispatcher.RequestOptions,
  ): Promise<Dispatcher.ResponseData> {
    if (signal?.aborted) throw signal.reason;
    const started = performance.now();
    try {
      const res = await this.pool.request({ ...options, signal });
      this.onResponse?.({ endpoint, status: res.statusCode, durationMs: performance.now() - started });
      return res;
    } catch (err) {
      if (!signal?.aborted)
        this.onResponse?.({ endpoint, status: 'network-error', durationMs: performance.now() - started });
      throw this.transportError(endpoint, err, signal);
    }
  }

  private async readText(endpoint: string, res: Dispatcher.ResponseData, signal?: AbortSignal): Promise<string> {
    try {
      return await res.body.text();
    } catch (err) {
      res.body.destroy();
      throw this.transportError(endpoint, err, signal);
    }
  }

  private url(template: string, params: Record<string, string> = {}, query: Record<string, QueryValue> = {}): string {
    const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = params[name];
      if (value === undefined) throw new Error(`path ${template} needs a value for {${name}}`);
      return encodeURIComponent(value);
    });
    // Duplicate slashes (a trailing `/` on the base URL, a caller's leading `/`) would be a different route.
    const full = `${this.basePath}/${path}`.replace(/\/{2,}/g, '/');
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      // Lists repeat the key (`instance_types=a&instance_types=b`), as the official SDKs send them.
      if (Array.isArray(v)) for (const item of v) search.append(k, item);
      else if (v !== undefined) search.append(k, String(v));
    }
    const qs = search.toString();
    return qs ? `${full}?${qs}` : full;
  }

  /** `GET /teepods/available`: nodes with capacity, OS images and KMS list. */
  async getAvailableNodes(opts: CallOptions = {}) {
    return this.request('GET', '/teepods/available', { ...opts, schema: AvailableNodesSchema });
  }

  /**
   * `POST /cvms/provision` (phase 1 of a deploy): validates the compose and reserves node, image and KMS. As in the
   * SDK, `node_id` is sent as `teepod_id`, and `instance_type` defaults to `tdx.small` when no size is given.
   */
  async provisionCvm(req: ProvisionCvmRequest, opts: CallOptions = {}) {
    if (!isValidCvmName(req.name)) {
      throw new PhalaUsageError(
        'PHALA_INVALID_ARGUMENT',
        'name',
        `CVM name "${req.name}" is not valid: 5–63 characters, starting with a letter, letters, digits and single hyphens`,
      );
    }
    const { node_id, ...rest } = req;
    if (node_id !== undefined && rest.teepod_id !== undefined && node_id !== rest.teepod_id) {
      throw new PhalaUsageError(
        'PHALA_INVALID_ARGUMENT',
        'node_id',
        `node_id ${node_id} and teepod_id ${rest.teepod_id} disagree; pass only node_id`,
      );
    }
    const body: Record<string, unknown> = {
      ...rest,
      compose_file: { ...req.compose_file, name: req.compose_file.name ?? '' },
      teepod_id: node_id ?? rest.teepod_id,
    };
    if (!req.instance_type && !req.vcpu && !req.memory) body.instance_type = 'tdx.small';
    return this.request('POST', '/cvms/provision', { ...opts, body, schema: ProvisionCvmResponseSchema });
  }

  /**
   * `POST /cvms` (phase 2): creates the CVM; idempotent on (app_id, compose_hash). Its `id` is an integer up to
   * 2026-01-21 and the `cvm_…` hashid from 2026-05-22: name CVMs by `vm_uuid`, which every version carries.
   */
  async commitCvmProvision(req: CommitCvmProvisionRequest, opts: CallOptions = {}): Promise<CommitCvmResponse<V>> {
    const schema: z.ZodType = this.schemas.commit;
    return (await this.request('POST', '/cvms', { ...opts, body: req, schema })) as CommitCvmResponse<V>;
  }

  async getCvm(id: CvmIdentifier, opts: CallOptions = {}): Promise<CvmDetail<V>> {
    const schema: z.ZodType = this.schemas.cvmDetail;
    return (await this.request('GET', '/cvms/{id}', { ...opts, params: cvm(id), schema })) as CvmDetail<V>;
  }

  async listCvms(query: ListCvmsQuery = {}, opts: CallOptions = {}): Promise<CvmList<V>> {
    checkInt('page', query.page, 1, Number.MAX_SAFE_INTEGER);
    checkInt('pageSize', query.pageSize, 1, 100);
    const modern = hashidVersion(this.version);
    const refused: [keyof ListCvmsQuery, boolean][] = [
      ['nodeId', modern && query.nodeId !== undefined],
      ['family', !modern && query.family !== undefined],
      ['instanceTypes', !modern && query.instanceTypes !== undefined],
    ];
    for (const [field, bad] of refused) {
      if (bad) {
        throw new PhalaUsageError(
          'PHALA_INVALID_ARGUMENT',
          field,
          `${field} is ${modern ? 'not a filter from API version 2026-05-22 on' : 'a filter of API version 2026-05-22 and later'}; this client uses ${this.version}`,
        );
      }
    }
    const schema: z.ZodType = this.schemas.cvmList;
    return (await this.request('GET', '/cvms/paginated', {
      ...opts,
      query: {
        page: query.page,
        page_size: query.pageSize,
        node_id: query.nodeId,
        family: query.family,
        instance_types: query.instanceTypes,
      },
      schema,
    })) as CvmList<V>;
  }

  /**
   * `GET /cvms` (reference §4 row 5b, every CVM of the workspace in one response, no pages) reduced to `CvmSummary`
   * items (id, name, status, vm_uuid, instance_id, progress): one request instead of `total / 100` page requests for
   * scans of the whole fleet that only need identity and power state. Needs a CVMInfo shape (2026-01-21 or later).
   */
  async listCvmSummaries(opts: CallOptions = {}): Promise<CvmSummary[]> {
    if ((this.version as ApiVersion) === '2025-10-28')
      throw new PhalaUsageError(
        'PHALA_INVALID_ARGUMENT',
        'version',
        `listCvmSummaries reads the CVMInfo list shape of 2026-01-21 and later; this client uses ${this.version}`,
      );
    return this.request('GET', '/cvms', { ...opts, schema: z.array(CvmSummarySchema) });
  }

  /** `GET /cvms/{id}/state` without `target`: the current state as JSON (see watch.ts for the stream). */
  async getCvmState(id: CvmIdentifier, opts: CallOptions = {}) {
    return this.request('GET', '/cvms/{id}/state', { ...opts, params: cvm(id), schema: CvmStateSchema });
  }

  async startCvm(id: CvmIdentifier, opts: CallOptions = {}): Promise<Vm<V>> {
    return this.vmAction('/cvms/{id}/start', id, undefined, opts);
  }

  /** Force stop; also cancels an operation in progress. */
  async stopCvm(id: CvmIdentifier, opts: CallOptions = {}): Promise<Vm<V>> {
    return this.vmAction('/cvms/{id}/stop', id, undefined, opts);
  }

  /** Graceful stop. */
  async shutdownCvm(id: CvmIdentifier, opts: CallOptions = {}): Promise<Vm<V>> {
    return this.vmAction('/cvms/{id}/shutdown', id, undefined, opts);
  }

  async restartCvm(id: CvmIdentifier, { force = false }: { force?: boolean } = {}, opts: CallOptions = {}) {
    return this.vmAction('/cvms/{id}/restart', id, { force }, opts);
  }

  /** The power actions and replicas answer the `VM` object of this version (integer or hashid `id`). */
  private async vmAction(path: string, id: CvmIdentifier, body: unknown, opts: CallOptions): Promise<Vm<V>> {
    const schema: z.ZodType = this.schemas.vm;
    return (await this.request('POST', path, { ...opts, params: cvm(id), body, schema })) as Vm<V>;
  }

  /** Answers 204 at once; the CVM stays visible for a while before GET turns 404. */
  async deleteCvm(id: CvmIdentifier, opts: CallOptions = {}): Promise<void> {
    await this.request('DELETE', '/cvms/{id}', { ...opts, params: cvm(id) });
  }

  /**
   * `POST /cvms/{id}/replicas`: a new CVM of the same app. Not idempotent (the API has no idempotency key), so a
   * caller that retries must first check `getAppCvms` for a replica an earlier attempt created.
   */
  async replicateCvm(
    id: CvmIdentifier,
    { nodeId, encryptedEnv }: { nodeId?: number; encryptedEnv?: string } = {},
    opts: CallOptions = {},
  ) {
    return this.vmAction('/cvms/{id}/replicas', id, { node_id: nodeId, encrypted_env: encryptedEnv }, opts);
  }

  /** Every CVM of an app (primary and replicas). */
  async getAppCvms(appId: string, opts: CallOptions = {}): Promise<AppCvms<V>> {
    const schema: z.ZodType = this.schemas.appCvms;
    const params = { appId: normalizeAppId(appId) };
    return (await this.request('GET', '/apps/{appId}/cvms', { ...opts, params, schema })) as AppCvms<V>;
  }

  /**
   * One page of the workspace's apps; `search` matches names and ids (substring, case-insensitive), so finding one
   * app by name costs a page or two instead of a walk over the whole fleet.
   */
  async listApps(
    query: { page?: number; pageSize?: number; search?: string } = {},
    opts: CallOptions = {},
  ): Promise<{ apps: App<V>[]; pages: number }> {
    checkInt('page', query.page, 1, Number.MAX_SAFE_INTEGER);
    checkInt('pageSize', query.pageSize, 1, 100);
    const schema = z.looseObject({ dstack_apps: z.array(this.schemas.app as z.ZodType), total_pages: z.number() });
    const res = (await this.request('GET', '/apps', {
      ...opts,
      query: { page: query.page, page_size: query.pageSize, search: query.search },
      schema,
    })) as { dstack_apps: App<V>[]; total_pages: number };
    return { apps: res.dstack_apps, pages: res.total_pages };
  }

  async getApp(appId: string, opts: CallOptions = {}): Promise<App<V>> {
    const schema: z.ZodType = this.schemas.app;
    const params = { appId: normalizeAppId(appId) };
    return (await this.request('GET', '/apps/{appId}', { ...opts, params, schema })) as App<V>;
  }

  /** `GET /cvms/{id}/attestation`: TCB info (registers, event log, app-compose) and the RA-TLS certificates. */
  async getAttestation(id: CvmIdentifier, opts: CallOptions = {}) {
    return this.request('GET', '/cvms/{id}/attestation', { ...opts, params: cvm(id), schema: CvmAttestationSchema });
  }

  /** The CVM's app-compose (the JSON whose hash is the compose hash). */
  async getComposeFile(id: CvmIdentifier, opts: CallOptions = {}) {
    return this.request('GET', '/cvms/{id}/compose_file', { ...opts, params: cvm(id), schema: AppComposeSchema });
  }

  /** Phase 1 of a compose update: the server computes the new compose hash (never hash locally, reference §9). */
  async provisionComposeFileUpdate(id: CvmIdentifier, appCompose: Record<string, unknown>, opts: CallOptions = {}) {
    return this.request('POST', '/cvms/{id}/compose_file/provision', {
      ...opts,
      params: cvm(id),
      body: appCompose,
      schema: ComposeFileProvisionResponseSchema,
    });
  }

  /** Phase 2 of a compose update (202; the CVM restarts with the new compose). */
  async commitComposeFileUpdate(
    id: CvmIdentifier,
    req: { composeHash: string; encryptedEnv?: string; envKeys?: string[]; updateEnvVars?: boolean },
    opts: CallOptions = {},
  ) {
    return this.request('PATCH', '/cvms/{id}/compose_file', {
      ...opts,
      params: cvm(id),
      body: {
        compose_hash: req.composeHash,
        encrypted_env: req.encryptedEnv,
        env_keys: req.envKeys,
        update_env_vars: req.updateEnvVars,
      },
      schema: ComposeFileUpdateAcceptedSchema,
    });
  }

  /**
   * `PATCH /cvms/{id}/envs` (202). On a contract-owned KMS a change of env keys answers 465 (PhalaApiError with
   * kind `hash_registration_required`, details in `detailMap()`); repeat with `composeHash` and `transactionHash`.
   */
  async updateEnvs(
    id: CvmIdentifier,
    req: { encryptedEnv: string; envKeys?: string[]; composeHash?: string; transactionHash?: string },
    opts: CallOptions = {},
  ) {
    return this.request('PATCH', '/cvms/{id}/envs', {
      ...opts,
      params: cvm(id),
      body: {
        encrypted_env: req.encryptedEnv,
        env_keys: req.envKeys,
        compose_hash: req.composeHash,
        transaction_hash: req.transactionHash,
      },
      schema: UpdateAcceptedSchema,
    });
  }

  /** `POST /status/batch`, keyed by vm_uuid; a CVM missing from the answer is unknown to the API. */
  async getStatusBatch(vmUuids: string[], opts: CallOptions = {}) {
    if (vmUuids.length === 0) return {};
    return this.request('POST', '/status/batch', {
      ...opts,
      body: { vm_uuids: vmUuids },
      schema: CvmStatusBatchSchema,
    });
  }

  /** The KMS-signed env encryption key of an app (on-chain KMS; `kms` is the KMS slug or id). */
  async getAppEnvEncryptPubKey(kms: string, appId: string, opts: CallOptions = {}) {
    if (!kms) throw new PhalaUsageError('PHALA_INVALID_ARGUMENT', 'kms', 'a KMS slug or id is required');
    return this.request('GET', '/kms/{kms}/pubkey/{appId}', {
      ...opts,
      params: { kms, appId: normalizeAppId(appId) },
      schema: AppEnvPubKeySchema,
    });
  }

  /** `GET /auth/me`: also the cheapest check that the API key works. */
  async getCurrentUser(opts: CallOptions = {}): Promise<CurrentUser<V>> {
    const schema: z.ZodType = this.schemas.currentUser;
    return (await this.request('GET', '/auth/me', { ...opts, schema })) as CurrentUser<V>;
  }
}

function cvm(id: CvmIdentifier): Record<string, string> {
  return { id: resolveCvmId(id) };
}

function checkInt(field: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PhalaUsageError('PHALA_INVALID_ARGUMENT', field, `${field} must be an integer from ${min} to ${max}`);
  }
}

function parseBaseUrl(value: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new PhalaUsageError('PHALA_INVALID_ARGUMENT', field, `${field} "${value}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PhalaUsageError('PHALA_INVALID_ARGUMENT', field, `${field} "${value}" must be an http(s) URL`);
  }
  if (url.username || url.password || url.search) {
    throw new PhalaUsageError(
      'PHALA_INVALID_ARGUMENT',
      field,
      `${field} must not carry credentials or a query string; the API key goes in PHALA_CLOUD_API_KEY`,
    );
  }
  return url;
}

// The app-compose the server stores and hashes. The server adds defaults before hashing, so a client's hash of its
// own input does not match (reference §9); clients must use the returned compose_hash. Canonical form = the
// @phala/dstack-sdk getComposeHash(normalize=true) form: recursively key-sorted compact JSON, NaN/Infinity → null,
// empty pre_launch_script dropped, the script of the runner not in use dropped.
import { createHash } from 'node:crypto';

export type AppCompose = Record<string, unknown> & {
  docker_compose_file?: string;
  allowed_envs: string[];
  name: string;
};

const DEFAULTS = {
  manifest_version: 2,
  runner: 'docker-compose',
  features: ['kms', 'tproxy-net'],
  kms_enabled: true,
  gateway_enabled: true,
  public_logs: true,
  public_sysinfo: true,
  public_tcbinfo: true,
  local_key_provider_enabled: false,
  no_instance_id: false,
  secure_time: false,
  storage_fs: 'zfs',
  allowed_envs: [] as string[],
} as const;

/** Keys clients send alongside the compose that are request options, not part of the manifest. */
const NOT_COMPOSE = new Set(['update_env_vars']);

export function normaliseAppCompose(input: Record<string, unknown>, fallbackName: string): AppCompose {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    if (!NOT_COMPOSE.has(k) && v !== undefined && v !== null) out[k] = v;
  }
  // tproxy_enabled is the deprecated spelling of gateway_enabled (the SDK rewrites it too).
  if (typeof out.tproxy_enabled === 'boolean') {
    if (typeof out.gateway_enabled !== 'boolean') out.gateway_enabled = out.tproxy_enabled;
    delete out.tproxy_enabled;
  }
  for (const [k, v] of Object.entries(DEFAULTS)) {
    if (out[k] === undefined) out[k] = Array.isArray(v) ? [...v] : v;
  }
  if (typeof out.name !== 'string' || out.name === '') out.name = fallbackName;
  if (out.runner === 'docker-compose') delete out.bash_script;
  if (out.runner === 'bash') delete out.docker_compose_file;
  if ('pre_launch_script' in out && !out.pre_launch_script) delete out.pre_launch_script;
  return out as AppCompose;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object' && (value as object).constructor === Object) {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
    return sorted;
  }
  return value;
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value), (_key, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}

export function composeHash(compose: AppCompose): string {
  return createHash('sha256').update(canonicalJson(compose), 'utf8').digest('hex');
}

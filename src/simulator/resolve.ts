// `{cvm_id}` path segments come in every form clients produce (reference §2): dashed or dashless vm_uuid,
// `app_<40hex>`, bare 40-hex, `0x<40hex>`, `cvm_<hashid>`, legacy integer id, `instance_<40hex>` and the CVM name.
import { structuredError } from './http/errors';
import type { Cvm } from './model';

export type Identifier =
  | { kind: 'uuid'; value: string }
  | { kind: 'app'; value: string }
  | { kind: 'instance'; value: string }
  | { kind: 'hashid'; value: string }
  | { kind: 'int'; value: number }
  | { kind: 'name'; value: string };

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const HEX40 = /^[0-9a-f]{40}$/i;

export function classifyIdentifier(raw: string): Identifier {
  const s = raw.trim();
  if (UUID.test(s)) return { kind: 'uuid', value: s.replace(/-/g, '').toLowerCase() };
  const lower = s.toLowerCase();
  for (const prefix of ['app_', '0x', '']) {
    if (lower.startsWith(prefix) && HEX40.test(lower.slice(prefix.length))) {
      return { kind: 'app', value: lower.slice(prefix.length) };
    }
  }
  if (lower.startsWith('instance_') && HEX40.test(lower.slice(9))) return { kind: 'instance', value: lower.slice(9) };
  if (s.startsWith('cvm_')) return { kind: 'hashid', value: s };
  if (/^\d+$/.test(s)) return { kind: 'int', value: Number(s) };
  return { kind: 'name', value: s };
}

/** Normalises an app id from any accepted form (`app_`, `0x`, checksummed) to lowercase 40-hex, or undefined. */
export function normaliseAppId(raw: string): string | undefined {
  const id = classifyIdentifier(raw);
  return id.kind === 'app' ? id.value : undefined;
}

function matchesExact(cvm: Cvm, id: Identifier): boolean {
  switch (id.kind) {
    case 'uuid':
      return cvm.vmUuid.replace(/-/g, '') === id.value;
    case 'app':
      return cvm.appId === id.value;
    case 'instance':
      return cvm.instanceId === id.value;
    case 'hashid':
      return cvm.hashid === id.value;
    case 'int':
      return cvm.id === id.value;
    case 'name':
      return cvm.name === id.value;
  }
}

/** The TS SDK turns a bare 40-hex instance id into `app_<hex>` (a client quirk), so app forms fall back to it. */
function matching(cvms: Iterable<Cvm>, id: Identifier): Cvm[] {
  const list = [...cvms];
  const exact = list.filter((c) => matchesExact(c, id));
  if (exact.length > 0 || id.kind !== 'app') return exact;
  return list.filter((c) => c.instanceId === id.value);
}

/** True when `raw` names this CVM (used by per-CVM faults, which may be set before the CVM exists). */
export function identifies(raw: string, cvm: Cvm): boolean {
  return matching([cvm], classifyIdentifier(raw)).length === 1;
}

/** Resolves one CVM or returns undefined; throws the structured ambiguity errors of the real API. */
export function resolveCvm(cvms: Iterable<Cvm>, raw: string): Cvm | undefined {
  const id = classifyIdentifier(raw);
  const found = matching(cvms, id);
  if (found.length <= 1) return found[0];
  const field = { field: 'cvm_id', value: raw, message: null };
  const candidates = found.map((c) => c.vmUuid);
  if (id.kind === 'name') {
    throw structuredError(400, 'ERR-03-002', `Multiple CVMs are named '${raw}'; use a vm_uuid or a cvm_ id`, {
      details: [field, { field: 'vm_uuids', value: candidates, message: null }],
      suggestions: ['Identify the CVM by its vm_uuid (GET /apps/{app_id}/cvms lists them)'],
    });
  }
  throw structuredError(400, 'ERR-03-010', `Identifier '${raw}' matches multiple CVMs (replicas of one app)`, {
    details: [field, { field: 'vm_uuids', value: candidates, message: null }],
    suggestions: ['List the replicas with GET /apps/{app_id}/cvms and use a vm_uuid'],
  });
}

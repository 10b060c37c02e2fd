// CVM and app identifiers as the Phala API takes them in paths (reference §2). The server resolves many forms
// (vm_uuid with or without dashes, app_<hex>, cvm_<hashid>, names, …); these are the official TS SDK's client-side
// rules, so a request from cvmflow hits the same path the SDK and CLI would.
import { PhalaUsageError } from './errors';

/** A CVM named by one of its identifiers (the first non-empty one in this order wins), or any identifier string. */
export type CvmIdentifier =
  | string
  | { id?: string; uuid?: string; app_id?: string; instance_id?: string; name?: string };

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i;
const HEX40 = /^[0-9a-f]{40}$/i;
const HOSTNAME = /^[a-zA-Z](?!.*--)([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;

const FIELDS = ['id', 'uuid', 'app_id', 'instance_id', 'name'] as const;

/**
 * The path segment for a CVM: a UUID (dashes optional) loses its dashes, exactly 40 hex characters get the `app_`
 * prefix, anything else is used verbatim. A `name` is used verbatim too, but must be a valid CVM name.
 */
export function resolveCvmId(input: CvmIdentifier): string {
  if (typeof input === 'string') return fromValue(input, 'id');
  for (const field of FIELDS) {
    const value = input[field];
    if (typeof value !== 'string' || value.trim() === '') continue;
    if (field === 'uuid' && !UUID.test(value)) throw invalid('uuid', `uuid "${value}" is not a UUID`);
    if (field !== 'name') return fromValue(value, field);
    if (!isValidCvmName(value)) {
      throw invalid(
        'name',
        `CVM name "${value}" is not valid: 5–63 characters, starting with a letter, letters, digits and single hyphens`,
      );
    }
    return value;
  }
  throw invalid('id', `a CVM identifier needs one of ${FIELDS.join(', ')} (all were empty or missing)`);
}

/** The API's rule for CVM names: an RFC 1123 label of 5–63 characters starting with a letter, no `--`. */
export function isValidCvmName(name: string): boolean {
  return name.length >= 5 && name.length <= 63 && HOSTNAME.test(name);
}

function fromValue(value: string, field: string): string {
  if (value.trim() === '') throw invalid(field, 'the CVM identifier is empty; pass a CVM id, vm_uuid, app id or name');
  if (UUID.test(value)) return value.replaceAll('-', '');
  if (HEX40.test(value)) return `app_${value}`;
  return value;
}

/**
 * An app id in its canonical form: 40 lowercase hex characters without `app_` or `0x` (how the API reports
 * `app_id`). On-chain app ids are contract addresses, so EIP-55 checksummed input is accepted.
 */
export function normalizeAppId(appId: string): string {
  const bare = appId.trim().replace(/^(app_|0x)/i, '');
  if (!HEX40.test(bare)) {
    throw invalid('appId', `app id "${appId}" is not 40 hex characters (optionally prefixed with app_ or 0x)`);
  }
  return bare.toLowerCase();
}

/** Whether two spellings (`app_…`, `0x…`, any case) name the same app. */
export function sameAppId(a: string, b: string): boolean {
  return normalizeAppId(a) === normalizeAppId(b);
}

function invalid(field: string, message: string): PhalaUsageError {
  return new PhalaUsageError('PHALA_INVALID_ARGUMENT', field, message);
}

/**
 * Whether `target` names this CVM in any identifier form a user may give (vm_uuid with or without dashes, the
 * numeric-or-string id, the instance id), normalised as the API does (reference §2).
 */
export function identifiesCvm(
  target: string,
  cvm: { vm_uuid?: string | null; id?: unknown; instance_id?: string | null },
): boolean {
  const bare = (s: string) => s.replaceAll('-', '').toLowerCase();
  const t = bare(target);
  return (
    (typeof cvm.vm_uuid === 'string' && bare(cvm.vm_uuid) === t) ||
    (typeof cvm.id === 'string' && cvm.id.toLowerCase() === target.toLowerCase()) ||
    (typeof cvm.instance_id === 'string' && bare(cvm.instance_id) === t)
  );
}

// The 32-byte values the contracts take. Phala's API returns compose hashes and device ids as 64 hex digits without
// a prefix; the contracts want bytes32. Anything else is refused rather than padded, because a padded id would
// allow-list a device or compose hash that does not exist.
import { type Address, getAddress, type Hex, isAddress, keccak256, stringToHex } from 'viem';
import { ChainError } from './errors';

export const ZERO_BYTES32: Hex = `0x${'0'.repeat(64)}`;

export function toBytes32(value: string, field: string): Hex {
  const hex = value.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new ChainError(
      'INVALID_ARGUMENT',
      `${field}: must be 32 bytes as 64 hex digits (0x optional), got ${JSON.stringify(value.slice(0, 80))}`,
      false,
    );
  }
  return `0x${hex.toLowerCase()}`;
}

export function toAddress(value: string, field: string): Address {
  if (!isAddress(value, { strict: false })) {
    throw new ChainError('INVALID_ARGUMENT', `${field}: not an address: ${JSON.stringify(value.slice(0, 80))}`, false);
  }
  return getAddress(value);
}

/**
 * The CREATE2 salt for one idempotency key, e.g. `idempotencySalt(workflowId, 'register-app')`. Same parts, same
 * salt, same app id: a retry finds the app its earlier attempt deployed.
 */
export function idempotencySalt(...parts: string[]): Hex {
  // JSON keeps ("a:b", "c") and ("a", "b:c") apart.
  return keccak256(stringToHex(JSON.stringify(parts)));
}

// Chain settings from the environment, with the Phala CLI's variable names where it has them (ETH_RPC_URL,
// PRIVATE_KEY). The private key is turned into a viem account at once and not kept: the account signs through a
// closure, so neither the config object nor any message built from it can leak the key.
import { readFileSync } from 'node:fs';
import type { LocalAccount } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { ChainError } from './errors';

export interface ChainConfig {
  /** HTTP(S) JSON-RPC endpoint. */
  rpcUrl: string;
  /** The chain the node must be on; undefined → whatever the node reports. */
  chainId?: number;
  /** Signs writes; undefined → a read-only client. */
  account?: LocalAccount;
  /** Blocks on top of a transaction's block before a write counts as done. */
  confirmations: number;
  /** How long a write waits for its confirmations before failing with CONFIRMATION_TIMEOUT. */
  timeoutMs: number;
  /** Receipt polling interval; undefined → viem's default (the chain's block time, 4 s on unknown chains). */
  pollingIntervalMs?: number;
}

export const DEFAULT_CONFIRMATIONS = 1;
/** The SDK's own default for `deployAppAuth` / `addComposeHash`. */
export const DEFAULT_TIMEOUT_MS = 120_000;

/** Where a URL goes, without the path and query that often carry a provider's API key. */
export function rpcHost(rpcUrl: string): string {
  try {
    return new URL(rpcUrl).host;
  } catch {
    return 'the RPC endpoint';
  }
}

/** Turns a hex private key (0x optional, surrounding whitespace ignored) into an account; never echoes the key. */
export function accountFromPrivateKey(value: string, source: string): LocalAccount {
  const hex = value.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new ChainError('CONFIG_INVALID', `${source}: must be a 32-byte hex private key (64 hex digits)`, false);
  }
  try {
    return privateKeyToAccount(`0x${hex}`);
  } catch {
    throw new ChainError('CONFIG_INVALID', `${source}: not a valid secp256k1 private key`, false);
  }
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number | undefined, problems: string[]) {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) {
    problems.push(`${name}: must be a positive integer (got "${raw}")`);
    return fallback;
  }
  return Number(raw);
}

/**
 * Reads ETH_RPC_URL, PRIVATE_KEY or PRIVATE_KEY_FILE (optional: without a key the client only reads), ETH_CHAIN_ID,
 * ETH_CONFIRMATIONS (default 1) and ETH_TX_TIMEOUT_MS (default 120000). Throws one CONFIG_INVALID error naming
 * every bad variable.
 */
export function loadChainConfig(env: NodeJS.ProcessEnv = process.env): ChainConfig {
  const problems: string[] = [];
  const rpcUrl = env.ETH_RPC_URL?.trim() ?? '';
  if (!rpcUrl) problems.push('ETH_RPC_URL: is required (an http(s) JSON-RPC URL)');
  else if (!/^https?:\/\/[^\s]+$/i.test(rpcUrl) || !URL.canParse(rpcUrl)) {
    problems.push('ETH_RPC_URL: must be an http:// or https:// URL');
  }
  const chainId = positiveInt(env, 'ETH_CHAIN_ID', undefined, problems);
  const confirmations = positiveInt(env, 'ETH_CONFIRMATIONS', DEFAULT_CONFIRMATIONS, problems) ?? DEFAULT_CONFIRMATIONS;
  const timeoutMs = positiveInt(env, 'ETH_TX_TIMEOUT_MS', DEFAULT_TIMEOUT_MS, problems) ?? DEFAULT_TIMEOUT_MS;

  let account: LocalAccount | undefined;
  const key = env.PRIVATE_KEY?.trim();
  const keyFile = env.PRIVATE_KEY_FILE?.trim();
  try {
    if (key && keyFile) problems.push('PRIVATE_KEY and PRIVATE_KEY_FILE: set one, not both');
    else if (key) account = accountFromPrivateKey(key, 'PRIVATE_KEY');
    else if (keyFile) account = accountFromPrivateKey(readKeyFile(keyFile), `PRIVATE_KEY_FILE (${keyFile})`);
  } catch (err) {
    problems.push((err as Error).message);
  }

  if (problems.length > 0) throw new ChainError('CONFIG_INVALID', problems.join('\n'), false);
  return { rpcUrl, chainId, account, confirmations, timeoutMs };
}

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ChainError('CONFIG_INVALID', `PRIVATE_KEY_FILE: cannot read ${path} (${code}); fix the path`, false);
  }
}

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadChainConfig } from '../../src/chain/config';
import { ChainError } from '../../src/chain/errors';

// Anvil's first development key: public knowledge, never holds real funds.
const KEY = 'ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const ADDRESS = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
const RPC = 'http://127.0.0.1:8545';

function configError(env: NodeJS.ProcessEnv): ChainError {
  try {
    loadChainConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ChainError);
    return err as ChainError;
  }
  throw new Error('loadChainConfig accepted a bad environment');
}

describe('loadChainConfig', () => {
  it('reads the Phala CLI variables and applies the defaults', () => {
    const config = loadChainConfig({ ETH_RPC_URL: RPC, PRIVATE_KEY: `0x${KEY}` });
    expect(config).toMatchObject({ rpcUrl: RPC, chainId: undefined, confirmations: 1, timeoutMs: 120_000 });
    expect(config.account?.address).toBe(ADDRESS);
  });

  it('reads the key from PRIVATE_KEY_FILE (no 0x, trailing newline) and the optional settings', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cvmflow-key-')), 'key');
    writeFileSync(file, `${KEY}\n`);
    const config = loadChainConfig({
      ETH_RPC_URL: RPC,
      PRIVATE_KEY_FILE: file,
      ETH_CHAIN_ID: '8453',
      ETH_CONFIRMATIONS: '3',
      ETH_TX_TIMEOUT_MS: '5000',
    });
    expect(config).toMatchObject({ chainId: 8453, confirmations: 3, timeoutMs: 5000 });
    expect(config.account?.address).toBe(ADDRESS);
  });

  it('gives a read-only config without a key', () => {
    expect(loadChainConfig({ ETH_RPC_URL: RPC }).account).toBeUndefined();
  });

  it('keeps the key out of the config object', () => {
    const config = loadChainConfig({ ETH_RPC_URL: RPC, PRIVATE_KEY: KEY });
    expect(JSON.stringify(config)).not.toContain(KEY);
  });

  it('lists every bad variable at once, non-retryable', () => {
    const err = configError({ ETH_RPC_URL: 'ftp://x', ETH_CHAIN_ID: 'base', ETH_CONFIRMATIONS: '0' });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('ETH_RPC_URL');
    expect(err.message).toContain('ETH_CHAIN_ID');
    expect(err.message).toContain('ETH_CONFIRMATIONS');
    expect(configError({}).message).toContain('ETH_RPC_URL: is required');
  });

  it('rejects a malformed key without echoing it', () => {
    const almost = `${KEY.slice(0, 63)}z`;
    const err = configError({ ETH_RPC_URL: RPC, PRIVATE_KEY: almost });
    expect(err.message).toContain('PRIVATE_KEY: must be a 32-byte hex private key');
    expect(err.message).not.toContain(almost);
    expect(err.message).not.toContain(KEY.slice(0, 16));
  });

  it('rejects a key that is not on the curve without echoing it', () => {
    const zero = '0'.repeat(64);
    const err = configError({ ETH_RPC_URL: RPC, PRIVATE_KEY: zero });
    expect(err.message).toContain('not a valid secp256k1 private key');
    expect(err.message).not.toContain(zero);
  });

  it('refuses both key sources, and names an unreadable key file', () => {
    expect(configError({ ETH_RPC_URL: RPC, PRIVATE_KEY: KEY, PRIVATE_KEY_FILE: '/x' }).message).toContain(
      'set one, not both',
    );
    expect(configError({ ETH_RPC_URL: RPC, PRIVATE_KEY_FILE: '/nonexistent/key' }).message).toContain(
      'PRIVATE_KEY_FILE: cannot read /nonexistent/key (ENOENT)',
    );
  });
});

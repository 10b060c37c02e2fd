import { createServer, type Server } from 'node:net';
import { createPublicClient, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { resolveAnvilBinary, startAnvil } from '../../src/chain/anvil';
import { freePort } from '../../src/dev/free-port';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('startAnvil', () => {
  it('serves the chain id asked for on loopback, with the dev accounts, and stops without a trace', async () => {
    const node = await startAnvil({ chainId: 1337 });
    try {
      expect(node.rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await createPublicClient({ transport: http(node.rpcUrl) }).getChainId()).toBe(1337);
      expect(node.accounts).toHaveLength(10);
      expect(node.accounts[0]?.address).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
      for (const { address, privateKey } of node.accounts)
        expect(privateKeyToAccount(privateKey).address).toBe(address);
      // --silent: the banner that lists the keys is not in the log.
      expect(node.logTail()).not.toContain(node.accounts[0]!.privateKey.slice(2));
      expect(alive(node.pid)).toBe(true);
    } finally {
      await node.stop();
    }
    expect(alive(node.pid)).toBe(false);
    await expect(fetch(node.rpcUrl, { method: 'POST' })).rejects.toThrow();
  });

  it('mines on its own with blockTime', async () => {
    const node = await startAnvil({ blockTime: 1 });
    try {
      const client = createPublicClient({ transport: http(node.rpcUrl) });
      const start = await client.getBlockNumber({ cacheTime: 0 });
      await new Promise((r) => setTimeout(r, 1500));
      expect(await client.getBlockNumber({ cacheTime: 0 })).toBeGreaterThan(start);
    } finally {
      await node.stop();
    }
  });

  it('fails with anvil’s own words when the port is taken', async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      await expect(startAnvil({ port })).rejects.toThrow(
        /did not start on http:\/\/127\.0\.0\.1:\d+[\s\S]*Address already in use/,
      );
    } finally {
      blocker.close();
    }
  });

  it('names what is missing when there is no binary', async () => {
    await expect(startAnvil({ binaryPath: '/nonexistent/anvil' })).rejects.toThrow(/cannot run \/nonexistent\/anvil/);
    expect(() => resolveAnvilBinary({ ANVIL_BIN: '/nonexistent/anvil' })).toThrow(/ANVIL_BIN points to/);
    expect(resolveAnvilBinary({})).toMatch(/@foundry-rs\/anvil-[a-z0-9]+-[a-z0-9]+\/bin\/anvil$/);
  });
});

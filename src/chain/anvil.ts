// A local Ethereum node for tests and the embedded stack: anvil from the @foundry-rs/anvil npm package, on loopback
// and a free port, ready when it answers eth_chainId, stopped without leaving a process behind.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Address, getAddress, type Hex } from 'viem';
import { freePort } from '../dev/free-port';
import { spawnServer } from '../dev/server-process';

export interface AnvilOptions {
  /** undefined → a free port (and another one if it was taken before anvil could bind it). */
  port?: number;
  host?: string;
  /** Seconds between blocks; undefined → a block per transaction (automine). */
  blockTime?: number;
  chainId?: number;
  readyTimeoutMs?: number;
  /** The anvil executable; undefined → $ANVIL_BIN, then the platform package @foundry-rs/anvil installs. */
  binaryPath?: string;
}

/** One of anvil's prefunded development accounts (the well-known keys of its default mnemonic; never real funds). */
export interface DevAccount {
  address: Address;
  privateKey: Hex;
}

export interface Anvil {
  rpcUrl: string;
  chainId: number;
  accounts: readonly DevAccount[];
  pid: number;
  logTail(): string;
  stop(): Promise<void>;
}

const PLATFORM_NAMES: Partial<Record<string, string>> = { linux: 'linux', darwin: 'darwin', win32: 'win32' };
const ARCH_NAMES: Partial<Record<string, string>> = { x64: 'amd64', arm64: 'arm64' };
const PORT_ATTEMPTS = 3;

/**
 * The anvil binary itself rather than the package's node shim (node_modules/.bin/anvil): killing the shim would
 * leave anvil running, since the shim only forwards SIGINT and SIGTERM.
 */
export function resolveAnvilBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ANVIL_BIN) {
    if (!existsSync(env.ANVIL_BIN)) throw new Error(`ANVIL_BIN points to ${env.ANVIL_BIN}, which does not exist`);
    return env.ANVIL_BIN;
  }
  const platform = PLATFORM_NAMES[process.platform];
  const arch = ARCH_NAMES[process.arch];
  const pkg = `@foundry-rs/anvil-${platform ?? process.platform}-${arch ?? process.arch}`;
  if (!platform || !arch) {
    throw new Error(`anvil: no ${pkg} package exists for this platform; install anvil and set ANVIL_BIN`);
  }
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  } catch {
    throw new Error(
      `anvil: ${pkg} is not installed; run npm install (it comes with the @foundry-rs/anvil dependency), or set ANVIL_BIN`,
    );
  }
  const bin = join(dir, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
  if (!existsSync(bin)) throw new Error(`anvil: ${pkg} has no ${bin}; reinstall it, or set ANVIL_BIN`);
  return bin;
}

export async function startAnvil(opts: AnvilOptions = {}): Promise<Anvil> {
  const bin = opts.binaryPath ?? resolveAnvilBinary();
  const host = opts.host ?? '127.0.0.1';
  const chainId = opts.chainId ?? 31337;
  const attempts = opts.port === undefined ? PORT_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort(host));
    try {
      return await launch(bin, host, port, chainId, opts);
    } catch (err) {
      // freePort's port can be taken again before anvil binds it; only then is another port worth a try.
      if (attempt >= attempts || !(err as Error).message.includes('Address already in use')) throw err;
    }
  }
}

async function launch(bin: string, host: string, port: number, chainId: number, opts: AnvilOptions): Promise<Anvil> {
  const scratch = mkdtempSync(join(tmpdir(), 'cvmflow-anvil-'));
  const configOut = join(scratch, 'config.json');
  const args = ['--host', host, '--port', String(port), '--chain-id', String(chainId), '--config-out', configOut];
  if (opts.blockTime !== undefined) args.push('--block-time', String(opts.blockTime));
  // --silent keeps anvil from printing its banner, which lists the dev private keys; errors still go to stderr.
  args.push('--silent');

  const server = spawnServer(bin, args);
  const { child, closed, logTail } = server;
  // If this process exits without stop() (a crashed test run), anvil goes with it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    await server.stop(3000);
    rmSync(scratch, { recursive: true, force: true });
  };

  const rpcUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    await waitReady(child, closed, rpcUrl, chainId, opts.readyTimeoutMs ?? 15_000);
    return { rpcUrl, chainId, accounts: readAccounts(configOut), pid: child.pid ?? -1, logTail, stop };
  } catch (err) {
    await stop();
    throw new Error(
      `anvil did not start on ${rpcUrl}: ${(err as Error).message}\n--- anvil log tail ---\n${logTail()}`,
    );
  }
}

async function waitReady(
  child: ChildProcess,
  closed: Promise<void>,
  rpcUrl: string,
  chainId: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const exited = closed.then(() => `anvil exited (${child.exitCode ?? child.signalCode})`);
  let lastError = 'no attempt';
  while (Date.now() < deadline) {
    // Raced with the exit: when anvil fails to bind, whatever holds the port may accept and never answer.
    const outcome = await Promise.race([probe(rpcUrl, chainId), exited.then((why) => ({ exited: why }))]);
    if (typeof outcome === 'object') throw new Error(outcome.exited);
    if (outcome === 'ready') return;
    lastError = outcome;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready within ${timeoutMs} ms (last error: ${lastError})`);
}

/** 'ready', or why not. */
async function probe(rpcUrl: string, chainId: number): Promise<string> {
  try {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1000),
    });
    const body = (await res.json()) as { result?: string };
    if (body.result !== undefined && Number(body.result) === chainId) return 'ready';
    return `eth_chainId answered ${JSON.stringify(body).slice(0, 200)}`;
  } catch (err) {
    return (err as Error).message;
  }
}

function readAccounts(configOut: string): DevAccount[] {
  const config = JSON.parse(readFileSync(configOut, 'utf8')) as { available_accounts: string[]; private_keys: Hex[] };
  return config.available_accounts.map((address, i) => ({
    address: getAddress(address),
    privateKey: config.private_keys[i] as Hex,
  }));
}

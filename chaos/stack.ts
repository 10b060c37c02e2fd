// The real stack the chaos run attacks, every piece on loopback: the Temporal dev server on a database file (so it
// can be stopped and started again on the same file and port), the local chain (anvil + DstackKms) behind a TCP
// proxy the worker's RPC goes through, the Phala simulator (in this process, so its request log and CVM histories are
// at hand), a local router for blue-green runs, and N worker processes started with the project's own entry
// (`cvmflow worker`) that can be SIGKILLed and restarted.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Client, Connection, Client as TemporalClient } from '@temporalio/client';
import { type Anvil, accountFromPrivateKey, chainVerifier, createChainClient, startAnvil } from '../src/chain';
import { freePort } from '../src/dev/free-port';
import { type DevServer, startTemporalDevServer } from '../src/dev/temporal-server';
import { LocalProxy } from '../src/router/local-proxy';
import { type SimulatorHandle, startSimulator } from '../src/simulator';
import { type CodecKey, parseKeyRing } from '../src/temporal/codec';
import { connectClient } from '../src/temporal/connection';
import { TcpProxy } from './tcp-proxy';

const BIN = fileURLToPath(new URL('../bin/cvmflow.mjs', import.meta.url));
export const NAMESPACE = 'default';
export const TASK_QUEUE = 'cvmflow-chaos';
export const ROUTER_SECRET_ENV = 'CVMFLOW_ROUTER_SECRET_CHAOS';

/** Every secret the run hands out; the invariants look for each of them where none may appear. */
export interface ChaosSecrets {
  apiKey: string;
  codecKeyText: string;
  /** The base64 key material of the codec key (what would leak, with or without its id). */
  codecKeyMaterial: string;
  /** The worker's chain key (hex, without 0x). */
  privateKey: string;
  routerSecret: string;
}

export interface WorkerSlot {
  index: number;
  child?: ChildProcess;
  /** Settles when the current process is ready, or failed to start. */
  ready?: Promise<void>;
  starts: number;
}

export interface ChaosStackOptions {
  dir: string;
  workers: number;
  /** Apps the local router serves (blue-green runs); known up front because the router's ports are. */
  routerApps: string[];
  log: (line: string) => void;
}

export class ChaosStack {
  temporal!: DevServer;
  temporalPort = 0;
  anvil!: Anvil;
  workerAddress = '';
  kmsAddress = '';
  rpcProxy!: TcpProxy;
  sim!: SimulatorHandle;
  router!: LocalProxy;
  client!: Client;
  /** No codec: what someone with the database sees. */
  rawClient!: Client;
  codecKeys!: CodecKey[];
  readonly workers: WorkerSlot[] = [];
  readonly secrets: ChaosSecrets;
  private readonly logs: WriteStream[] = [];
  readonly logFiles: string[] = [];
  temporalRestarts = 0;
  workerKills = 0;

  constructor(readonly opts: ChaosStackOptions) {
    const material = randomBytes(32).toString('base64');
    this.secrets = {
      apiKey: `phak_chaos_${randomBytes(12).toString('hex')}`,
      codecKeyText: `chaos:${material}`,
      codecKeyMaterial: material,
      privateKey: '',
      routerSecret: `router_${randomBytes(12).toString('hex')}`,
    };
  }

  get dbFile(): string {
    return join(this.opts.dir, 'temporal.db');
  }

  async start(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true });
    this.codecKeys = parseKeyRing(this.secrets.codecKeyText);
    this.temporalPort = await freePort();
    const [temporal, anvil] = await Promise.all([this.startTemporal(), startAnvil()]);
    this.temporal = temporal;
    this.anvil = anvil;
    const deployer = createChainClient({
      rpcUrl: anvil.rpcUrl,
      chainId: anvil.chainId,
      account: accountFromPrivateKey(anvil.accounts[0]!.privateKey, 'anvil account 0'),
      confirmations: 1,
      timeoutMs: 30_000,
      pollingIntervalMs: 100,
    });
    this.kmsAddress = (await deployer.deployKms()).kmsAddress;
    // The worker signs with its own account, so its transactions are exactly that account's nonce.
    const workerKey = anvil.accounts[1]!.privateKey;
    this.secrets.privateKey = workerKey.replace(/^0x/, '');
    this.workerAddress = anvil.accounts[1]!.address;
    const anvilUrl = new URL(anvil.rpcUrl);
    this.rpcProxy = await TcpProxy.start({ host: anvilUrl.hostname, port: Number(anvilUrl.port) });
    this.sim = await startSimulator({
      port: 0,
      apiKeys: [this.secrets.apiKey],
      // Real-time delays long enough for kills to land inside phases, short enough for minutes-long runs.
      timeScale: 0.05,
      delays: {
        create: 8_000,
        boot: 20_000,
        update: 6_000,
        restart: 10_000,
        stop: 4_000,
        shutdown: 6_000,
        delete: 4_000,
        jitter: 0.3,
      },
      onChainVerifier: chainVerifier({
        chain: deployer,
        chainId: anvil.chainId,
        kmsContractAddress: this.kmsAddress,
        rpcEndpoint: anvil.rpcUrl,
      }),
    });
    this.router = await LocalProxy.start({
      controlPort: 0,
      secret: this.secrets.routerSecret,
      apps: Object.fromEntries(this.opts.routerApps.map((a) => [a, { activePort: 0, previewPort: 0 }])),
    });
    process.env[ROUTER_SECRET_ENV] = this.secrets.routerSecret;
    this.client = await connectClient({
      address: this.temporal.address,
      namespace: NAMESPACE,
      codecKeys: this.codecKeys,
    });
    this.rawClient = new TemporalClient({
      connection: await Connection.connect({ address: this.temporal.address }),
      namespace: NAMESPACE,
    });
    for (let i = 0; i < this.opts.workers; i++) this.workers.push({ index: i, starts: 0 });
    await Promise.all(this.workers.map((w) => this.startWorker(w)));
  }

  /** Transactions the worker's account has sent (its nonce), read from anvil directly, not through the proxy. */
  async workerTxCount(): Promise<number> {
    const res = await fetch(this.anvil.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'eth_getTransactionCount',
        params: [this.workerAddress, 'latest'],
      }),
    });
    return Number(((await res.json()) as { result: string }).result);
  }

  private startTemporal(): Promise<DevServer> {
    return startTemporalDevServer({
      port: this.temporalPort,
      namespace: NAMESPACE,
      dbFile: this.dbFile,
      readyTimeoutMs: 90_000,
    });
  }

  /** Stops the server (SIGTERM) and starts it again on the same database file and port. */
  async restartTemporal(): Promise<number> {
    const t0 = Date.now();
    await this.temporal.stop();
    this.temporal = await this.startTemporal();
    this.temporalRestarts++;
    return Date.now() - t0;
  }

  workerEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    // A worker gets what an operator would set, and nothing of this process's own cvmflow settings.
    for (const [k, v] of Object.entries(process.env)) {
      if (!/^(TEMPORAL_(?!CLI)|CVMFLOW_|PHALA_|ETH_|PRIVATE_KEY)/.test(k)) env[k] = v;
    }
    return {
      ...env,
      TEMPORAL_ADDRESS: this.temporal.address,
      TEMPORAL_NAMESPACE: NAMESPACE,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      CVMFLOW_CODEC_KEY: this.secrets.codecKeyText,
      PHALA_CLOUD_API_PREFIX: this.sim.url,
      PHALA_CLOUD_API_KEY: this.secrets.apiKey,
      CVMFLOW_WATCH_POLL_MS: '200',
      CVMFLOW_SHUTDOWN_GRACE: '1s',
      ETH_RPC_URL: `http://127.0.0.1:${this.rpcProxy.port}`,
      ETH_CHAIN_ID: String(this.anvil.chainId),
      PRIVATE_KEY: `0x${this.secrets.privateKey}`,
      ETH_TX_TIMEOUT_MS: '20000',
      [ROUTER_SECRET_ENV]: this.secrets.routerSecret,
    };
  }

  /** Spawns the slot's worker process; resolves once it polls the task queue. */
  startWorker(slot: WorkerSlot): Promise<void> {
    slot.starts++;
    const file = join(this.opts.dir, `worker-${slot.index}.${slot.starts}.log`);
    const out = createWriteStream(file);
    this.logs.push(out);
    this.logFiles.push(file);
    const child = spawn(process.execPath, [BIN, 'worker'], {
      env: this.workerEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    slot.child = child;
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    slot.ready = new Promise<void>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`worker ${slot.index} did not start within 90 s`)), 90_000);
      const check = (b: Buffer) => {
        seen = (seen + b.toString()).slice(-4000);
        if (seen.includes('polling task queue')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', check);
      child.stderr?.on('data', check);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`worker ${slot.index} exited (${code ?? signal}) before it was ready`));
      });
    });
    slot.ready.catch(() => undefined);
    return slot.ready;
  }

  alive(slot: WorkerSlot): boolean {
    return !!slot.child && slot.child.exitCode === null && slot.child.signalCode === null;
  }

  /** SIGKILL: no shutdown hook runs, in-flight activities are simply lost, as when a host dies. */
  async killWorker(slot: WorkerSlot): Promise<boolean> {
    const child = slot.child;
    if (!child || !this.alive(slot)) return false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
    this.workerKills++;
    return true;
  }

  /** Every worker up (restarting the dead), for the drain at the end. */
  async ensureWorkers(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (!this.alive(w)) await this.startWorker(w);
        else await w.ready;
      }),
    );
  }

  async close(): Promise<void> {
    for (const w of this.workers) {
      if (this.alive(w)) {
        const exited = new Promise<void>((r) => w.child!.once('exit', () => r()));
        w.child!.kill('SIGKILL');
        await exited;
      }
    }
    for (const l of this.logs) l.end();
    await this.client?.connection.close().catch(() => undefined);
    await this.rawClient?.connection.close().catch(() => undefined);
    await this.router?.close().catch(() => undefined);
    await this.sim?.close().catch(() => undefined);
    await this.rpcProxy?.close().catch(() => undefined);
    await this.anvil?.stop().catch(() => undefined);
    await this.temporal?.stop().catch(() => undefined);
  }
}

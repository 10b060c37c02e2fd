// The embedded stack — everything cvmflow needs on one machine, on loopback, with one call: the Temporal dev server
// with its Web UI and a database file in the data folder (so workflows survive a restart), the codec server the UI
// decodes payloads with, the Phala Cloud simulator, a local chain (anvil + DstackKms) behind the simulator's on-chain
// KMS, and an in-process worker.
// Used by `cvmflow dev`, `cvmflow demo` and the end-to-end tests.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type SimulatorHandle, startSimulator } from '../simulator';
import { AesGcmPayloadCodec, type CodecKey, parseKeyRing } from '../temporal/codec';
import { DEFAULT_CODEC_SERVER_PORT, startCodecServer } from '../temporal/codec-server';
import { bundleWorkflows } from '../worker/worker';
import { type DevChain, startDevChain } from './dev-chain';
import { devCodecKeyFile, devSimKeys } from './dev-keys';
import { type DevWorker, startDevWorker } from './dev-worker';
import { acquireDevLock } from './lock';
import { pickPort } from './ports';
import { type DevServer, startTemporalDevServer } from './temporal-server';

/** `cvmflow dev`'s speed: a 30 s boot takes 3 s. */
const DEFAULT_TIME_SCALE = 0.1;
export const DEV_NAMESPACE = 'default';
export const DEV_TASK_QUEUE = 'cvmflow';

export interface DevStackOptions {
  /** Holds the Temporal database, the keys and the lock; created if missing. */
  dataDir: string;
  /** Temporal frontend port (default 7233); 0 = any free port. */
  temporalPort?: number;
  /** Temporal Web UI port (default 8233); 0 = any free port. */
  uiPort?: number;
  /** Simulator API port (default 8787); 0 = any free port. Its admin API always takes a free port. */
  simPort?: number;
  /** Codec server port (default 8888); 0 = any free port. */
  codecPort?: number;
  /** Multiplies the simulator's delays: 0.1 turns a 30 s boot into 3 s. */
  timeScale?: number;
  /** Where an existing CVMFLOW_CODEC_KEY / CVMFLOW_CODEC_KEY_FILE is looked up; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The in-process worker's log level (default WARN). */
  workerLogLevel?: 'WARN' | 'ERROR';
  /**
   * false: start no worker; the user runs their own (`cvmflow worker`, one or several) with the exported env, which
   * then also names the chain's development key file and chain id. Default true.
   */
  worker?: boolean;
  /** Start-up narration, one line at a time. */
  log?: (line: string) => void;
}

export interface DevStack {
  dataDir: string;
  namespace: string;
  taskQueue: string;
  temporal: { address: string; uiUrl: string };
  /** The remote codec endpoint the UI decodes with; also `temporal … --codec-endpoint`'s. Loopback, no token. */
  codecServer: { url: string };
  sim: SimulatorHandle;
  chain: { rpcUrl: string; chainId: number; kmsAddress: string };
  codecKeys: CodecKey[];
  /**
   * The variables a client in another shell needs (`cvmflow deploy`): no secret values — the codec key travels as
   * CVMFLOW_CODEC_KEY_FILE, or is left to the shell that already has it.
   */
  env: Record<string, string>;
  /** Processes the stack started (for the curious, and for tests that check none is left behind). */
  pids: number[];
  /** Settles if the in-process worker stops on its own (rejecting with why); never settles without a worker. */
  workerExited: Promise<void>;
  /** Whether this process runs a worker (false with `worker: false`). */
  hasWorker: boolean;
  workflowUrl(workflowId: string, runId?: string): string;
  close(): Promise<void>;
}

interface CodecChoice {
  keys: CodecKey[];
  /** The export line's variable: a file of the data folder, or the user's own setting (not repeated). */
  env: Record<string, string>;
}

/** The user's key ring when one is set, else the data folder's (generated on first use). */
function chooseCodec(dataDir: string, env: NodeJS.ProcessEnv): CodecChoice {
  if (env.CVMFLOW_CODEC_KEY) return { keys: parseKeyRing(env.CVMFLOW_CODEC_KEY), env: {} };
  const file = env.CVMFLOW_CODEC_KEY_FILE ? resolve(env.CVMFLOW_CODEC_KEY_FILE) : devCodecKeyFile(dataDir);
  return {
    keys: parseKeyRing(readFileSync(file, 'utf8'), 'CVMFLOW_CODEC_KEY_FILE'),
    env: { CVMFLOW_CODEC_KEY_FILE: file },
  };
}

/** Starts whatever of `starts` it can; if any fails, stops those that started and rethrows the first failure. */
async function allOrNothing<T extends readonly unknown[]>(
  starts: { [K in keyof T]: Promise<T[K]> },
  stop: (started: unknown) => Promise<void>,
): Promise<T> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    for (const s of settled) if (s.status === 'fulfilled') await stop(s.value).catch(() => undefined);
    throw failed.reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

async function stopStarted(started: unknown): Promise<void> {
  const s = started as Partial<{ stop(): Promise<void>; close(): Promise<void> }> | undefined;
  if (s?.stop) await s.stop();
  else if (s?.close) await s.close();
}

export async function startDevStack(opts: DevStackOptions): Promise<DevStack> {
  const dataDir = resolve(opts.dataDir);
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const timeScale = opts.timeScale ?? DEFAULT_TIME_SCALE;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lock = acquireDevLock(dataDir);
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    stops.length = 0;
  };
  try {
    const codec = chooseCodec(dataDir, env);
    const simKeys = devSimKeys(dataDir);
    const temporalPort = await pickPort('--port', opts.temporalPort ?? 7233);
    const uiPort = await pickPort('--ui-port', opts.uiPort ?? 8233);
    const simPort = await pickPort('--sim-port', opts.simPort ?? 8787);
    const codecPort = await pickPort('--codec-port', opts.codecPort ?? DEFAULT_CODEC_SERVER_PORT);

    // Before the UI, whose settings name it. Loopback only, so no token: the UI in the browser could not send one,
    // and only this machine's users reach it — the same ones who can read the key file in the data folder.
    const codecServer = await startCodecServer({
      codec: new AesGcmPayloadCodec(codec.keys),
      port: codecPort,
      uiOrigins: [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`],
      namespaces: [DEV_NAMESPACE],
    });
    stops.push(() => codecServer.close());

    log(`starting the Temporal dev server, the local chain${(opts.worker ?? true) ? ' and the worker bundle' : ''}…`);
    const [temporal, chain] = await allOrNothing<[DevServer, DevChain, unknown]>(
      [
        startTemporalDevServer({
          port: temporalPort,
          uiPort,
          uiCodecEndpoint: codecServer.url,
          namespace: DEV_NAMESPACE,
          dbFile: join(dataDir, 'temporal.db'),
          readyTimeoutMs: 90_000,
        }),
        startDevChain(),
        (opts.worker ?? true) ? bundleWorkflows() : Promise.resolve(undefined),
      ],
      stopStarted,
    );
    stops.push(
      () => temporal.stop(),
      () => chain.stop(),
    );

    const sim = await startSimulator({
      port: simPort,
      apiKeys: [simKeys.apiKey],
      adminToken: simKeys.adminToken,
      timeScale,
      onChainVerifier: chain.verifier,
    });
    stops.push(() => sim.close());

    let worker: DevWorker | undefined;
    const ownWorkerEnv: Record<string, string> = {};
    if (opts.worker ?? true) {
      log('starting the worker…');
      worker = await startDevWorker({
        address: temporal.address,
        namespace: DEV_NAMESPACE,
        taskQueue: DEV_TASK_QUEUE,
        codecKeys: codec.keys,
        phalaUrl: sim.url,
        phalaApiKey: simKeys.apiKey,
        chain: chain.client,
        timeScale,
        logLevel: opts.workerLogLevel,
      });
      const started = worker;
      stops.push(() => started.stop());
    } else {
      // The user's workers register on-chain apps with the same development account the embedded worker would use
      // (anvil's first, a published test key); it goes in a file of the data folder, like the codec key.
      const keyFile = join(dataDir, 'chain-dev.key');
      writeFileSync(keyFile, `${chain.devPrivateKey}\n`, { mode: 0o600 });
      Object.assign(ownWorkerEnv, { ETH_CHAIN_ID: String(chain.chainId), PRIVATE_KEY_FILE: keyFile });
    }

    const uiUrl = temporal.uiUrl ?? `http://127.0.0.1:${uiPort}`;
    lock.update({ temporalAddress: temporal.address, temporalUiUrl: uiUrl });
    let closed: Promise<void> | undefined;
    return {
      dataDir,
      namespace: DEV_NAMESPACE,
      taskQueue: DEV_TASK_QUEUE,
      temporal: { address: temporal.address, uiUrl },
      codecServer: { url: codecServer.url },
      sim,
      chain: { rpcUrl: chain.rpcUrl, chainId: chain.chainId, kmsAddress: chain.kmsAddress },
      codecKeys: codec.keys,
      env: {
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_NAMESPACE: DEV_NAMESPACE,
        TEMPORAL_TASK_QUEUE: DEV_TASK_QUEUE,
        ...codec.env,
        PHALA_CLOUD_API_PREFIX: sim.url,
        PHALA_CLOUD_API_KEY: simKeys.apiKey,
        ETH_RPC_URL: chain.rpcUrl,
        ...ownWorkerEnv,
      },
      pids: [temporal.pid, chain.pid],
      workerExited: worker?.exited ?? new Promise<void>(() => {}),
      hasWorker: worker !== undefined,
      workflowUrl: (workflowId, runId) =>
        `${uiUrl}/namespaces/${DEV_NAMESPACE}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}/history` : ''}`,
      close() {
        closed ??= stopAll().finally(() => lock.release());
        return closed;
      },
    };
  } catch (err) {
    await stopAll();
    lock.release();
    throw err;
  }
}

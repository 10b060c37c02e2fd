// Simulator options and the state-machine delays. Delays are simulated milliseconds; every timer the simulator
// arms is multiplied by `timeScale`, so timeScale 0.01 turns a 30 s boot into 300 ms.
import { randomBytes } from 'node:crypto';
import { buildNode, DEFAULT_NODES, type SimNode, type SimNodeSpec } from './catalog';
import type { OnChainVerifier } from './chain';
import { type FaultProfile, loadFaultProfileFile, parseFaultProfile } from './faults';

export interface TransitionDelays {
  /** creating → starting: placing the CVM on the node (disk image, KMS key release). */
  create: number;
  /** starting → running: TDX boot until the containers are up. */
  boot: number;
  /** stopping → stopped (force stop). */
  stop: number;
  /** shutting_down → stopped (graceful: SIGTERM, then SIGKILL). */
  shutdown: number;
  /** restarting → running. */
  restart: number;
  /** updating → restarting (or → stopped when the CVM was stopped): applying compose / env changes. */
  update: number;
  /** deleting → gone (404). */
  delete: number;
  /** How long the operation lock outlives the operation (the real API's 409 race); 0 = none. */
  lockLinger: number;
  /** ± fraction applied to every delay (0.2 = ±20%), so a fleet does not move in lock step. */
  jitter: number;
}

/**
 * Defaults, in simulated ms. Sourced: delete 25 s (reference §5.2 and the CLI e2e notes: "GET returns the CVM for
 * ~20–30 s, then 404"). Estimated [I], same order as a TDX CVM's boot to containers-up: boot 30 s, create 20 s,
 * restart 40 s, graceful shutdown 15 s, force stop 5 s, update 5 s. Override any of them with `delays`.
 */
export const DEFAULT_DELAYS: Readonly<TransitionDelays> = Object.freeze({
  create: 20_000,
  boot: 30_000,
  stop: 5_000,
  shutdown: 15_000,
  restart: 40_000,
  update: 5_000,
  delete: 25_000,
  lockLinger: 0,
  jitter: 0,
});

/** Near-instant delays for tests that only care about order, not timing (still asynchronous). */
export const FAST_DELAYS: Readonly<TransitionDelays> = Object.freeze({
  create: 10,
  boot: 10,
  stop: 10,
  shutdown: 10,
  restart: 10,
  update: 10,
  delete: 10,
  lockLinger: 0,
  jitter: 0,
});

export interface SimulatorOptions {
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Port of the admin API; 0 (default) picks a free port. */
  adminPort?: number;
  /** Bearer token of the admin API; a random one when absent (read it from the handle). */
  adminToken?: string;
  /** Accepted X-API-Key values; each is its own user and workspace. At least one. */
  apiKeys: string[];
  /** Multiplies every delay and SSE interval/timeout. Default 1 (real time). */
  timeScale?: number;
  delays?: Partial<TransitionDelays>;
  /** A fault profile, or the path of a JSON file holding one. */
  faults?: FaultProfile | string;
  nodes?: SimNodeSpec[];
  /** Concurrent SSE streams per API key before 429 (the real API allows about 5). */
  sseStreamsPerKey?: number;
  onChainVerifier?: OnChainVerifier;
  /** How long provision results stay committable. Default 7 days (reference §0.6). Real milliseconds. */
  provisionTtlMs?: number;
  /** Request-log entries kept (oldest dropped first). Default 100 000. */
  requestLogLimit?: number;
}

export interface ResolvedOptions {
  host: string;
  port: number;
  adminPort: number;
  adminToken: string;
  apiKeys: string[];
  timeScale: number;
  delays: TransitionDelays;
  faults: FaultProfile;
  nodes: SimNode[];
  sseStreamsPerKey: number;
  onChainVerifier: OnChainVerifier | undefined;
  provisionTtlMs: number;
  requestLogLimit: number;
}

export class SimulatorConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new SimulatorConfigError(message);
}

export function resolveOptions(o: SimulatorOptions): ResolvedOptions {
  const apiKeys = [...new Set(o.apiKeys ?? [])];
  check(
    apiKeys.length > 0 && apiKeys.every((k) => typeof k === 'string' && k.length > 0),
    'apiKeys: give at least one non-empty API key',
  );
  const timeScale = o.timeScale ?? 1;
  check(Number.isFinite(timeScale) && timeScale > 0, 'timeScale must be a number > 0');
  const delays = { ...DEFAULT_DELAYS, ...o.delays };
  for (const [k, v] of Object.entries(delays)) check(Number.isFinite(v) && v >= 0, `delays.${k} must be a number >= 0`);
  check(delays.jitter < 1, 'delays.jitter must be < 1');
  for (const [name, port] of [
    ['port', o.port],
    ['adminPort', o.adminPort],
  ] as const) {
    check(port === undefined || (Number.isInteger(port) && port >= 0 && port <= 65535), `${name} must be 0-65535`);
  }
  const nodes = (o.nodes ?? DEFAULT_NODES).map(buildNode);
  check(nodes.length > 0, 'nodes: give at least one node');
  check(new Set(nodes.map((n) => n.id)).size === nodes.length, 'nodes: ids must be unique');
  const sse = o.sseStreamsPerKey ?? 5;
  check(Number.isInteger(sse) && sse >= 1, 'sseStreamsPerKey must be an integer >= 1');
  const faults = typeof o.faults === 'string' ? loadFaultProfileFile(o.faults) : parseFaultProfile(o.faults ?? {});
  return {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 0,
    adminPort: o.adminPort ?? 0,
    adminToken: o.adminToken ?? `simadm_${randomBytes(16).toString('hex')}`,
    apiKeys,
    timeScale,
    delays,
    faults,
    nodes,
    sseStreamsPerKey: sse,
    onChainVerifier: o.onChainVerifier,
    provisionTtlMs: o.provisionTtlMs ?? 7 * 24 * 3600 * 1000,
    requestLogLimit: o.requestLogLimit ?? 100_000,
  };
}

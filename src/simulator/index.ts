// A faithful Phala Cloud API simulator: the official SDK and CLI run against it unchanged. Embedded with
// startSimulator(), or standalone with `cvmflow sim`. Two ports: the public API (under /api/v1) and the admin API.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdminHandler } from './admin-server';
import { API_PREFIX, createApiHandler } from './api-server';
import { startAppEndpoints } from './app-endpoints';
import { SimCore } from './core';
import type { CvmFault, FaultProfile, RouteFault } from './faults';
import { apiKeyId } from './ids';
import { type CvmView, listCvms, statusCounts } from './inspect';
import { resolveOptions, type SimulatorOptions, type TransitionDelays } from './options';
import type { RequestLogEntry, RequestLogFilter } from './request-log';
import { type SeedCvm, seedCvms } from './seed';

export type { SimImage, SimNodeSpec } from './catalog';
export { DEFAULT_NODES, INSTANCE_TYPES } from './catalog';
export type { OnChainVerifier } from './chain';
export { composeHash, normaliseAppCompose } from './compose';
export type { CvmFault, CvmFaultInput, FaultProfile, RouteFault, RouteFaultInput } from './faults';
export { FaultProfileError, loadFaultProfileFile, parseFaultProfile } from './faults';
export { apiKeyId } from './ids';
export type { CvmView } from './inspect';
export type { ApiVersion, HistoryEntry } from './model';
export {
  DEFAULT_DELAYS,
  FAST_DELAYS,
  SimulatorConfigError,
  type SimulatorOptions,
  type TransitionDelays,
} from './options';
export type { RequestLogEntry, RequestLogFilter } from './request-log';
export type { SeedCvm } from './seed';
export { readSse, type SseFrame, type SseResult } from './sse-client';

export interface SimulatorHandle {
  /** `http://<host>:<port>/api/v1` — the baseURL / PHALA_CLOUD_API_PREFIX for clients. */
  url: string;
  /** `http://<host>:<adminPort>` — the admin API (Authorization: Bearer <adminToken>). */
  adminUrl: string;
  /** The CVMs' app server: `/app/<appId>/…`, `/cvm/<instanceId>/…`, and `/sd/prometheus` (Prometheus http_sd). */
  appsUrl: string;
  adminToken: string;
  port: number;
  adminPort: number;
  timeScale: number;
  delays: Readonly<TransitionDelays>;
  /** The non-secret id the request log and admin views use for an API key. */
  apiKeyId(apiKey: string): string;
  cvms(opts?: { includeDeleted?: boolean }): CvmView[];
  requests(filter?: RequestLogFilter): RequestLogEntry[];
  /** Live CVMs per status (cheap: no history copies), e.g. `{ running: 998, starting: 2 }`. */
  statusCounts(): Record<string, number>;
  /** Inserts CVMs already running or stopped (benchmark fleets); returns their vm_uuids in order. */
  seedCvms(apiKey: string, cvms: readonly SeedCvm[]): string[];
  /** Open SSE streams per API key id. */
  sseStreams(): Record<string, number>;
  addFaults(profile: FaultProfile): { routes: RouteFault[]; cvms: CvmFault[] };
  removeFault(id: string): boolean;
  clearFaults(): void;
  /** Empty fleet, start-up faults, empty request log; open SSE streams are closed. */
  reset(): void;
  close(): Promise<void>;
}

/** The port the server listens on; `once` rejects with the server's error instead (a port in use). */
async function listen(server: Server, host: string, port: number): Promise<number> {
  server.listen(port, host);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startSimulator(options: SimulatorOptions): Promise<SimulatorHandle> {
  const opts = resolveOptions(options);
  const core = new SimCore(opts);
  const api = createServer(createApiHandler(core));
  const admin = createServer(createAdminHandler(core));
  // SSE streams and long watches must not be cut by Node's default request/keep-alive timeouts.
  api.requestTimeout = 0;
  api.keepAliveTimeout = 65_000;
  let port: number;
  let adminPort: number;
  try {
    port = await listen(api, opts.host, opts.port);
    adminPort = await listen(admin, opts.host, opts.adminPort);
  } catch (err) {
    core.close();
    await Promise.all([closeServer(api), closeServer(admin)]);
    throw err;
  }
  // Every running CVM serves a tiny app on loopback; its URLs become the CVMs' endpoints (app-endpoints.ts).
  const apps = await startAppEndpoints(core, opts.host);
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${hostForUrl}:${port}${API_PREFIX}`,
    adminUrl: `http://${hostForUrl}:${adminPort}`,
    appsUrl: apps.url,
    adminToken: opts.adminToken,
    port,
    adminPort,
    timeScale: opts.timeScale,
    delays: opts.delays,
    apiKeyId,
    cvms: (o) => listCvms(core, o),
    requests: (f) => core.log.list(f),
    seedCvms: (key, cvms) => seedCvms(core, key, cvms),
    sseStreams: () => core.streams.counts(),
    statusCounts: () => statusCounts(core),
    addFaults: (p) => core.faults.add(p),
    removeFault: (id) => core.faults.remove(id),
    clearFaults: () => core.faults.clear(),
    reset: () => core.reset(),
    close() {
      closed ??= (async () => {
        core.close();
        await Promise.all([closeServer(api), closeServer(admin), apps.close()]);
      })();
      return closed;
    },
  };
}

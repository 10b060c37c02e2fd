// Activities of blue-green deployments, beside the deploy pipeline's (deleteAppCvms and watchCvm are reused):
// finding the deployment that serves an app, the health gate and health watch, web analysis, route changes
// through the traffic router, and powering a deployment's CVMs. Each reads before it writes or is idempotent, so a
// retry — or a second worker after a crash — repeats nothing: a route table carries its generation, a stop of a
// stopped CVM is skipped.
import {
  ApplicationFailure,
  activityInfo,
  cancellationSignal,
  getClient,
  heartbeat,
  sleep,
} from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { OFF_STATUSES } from '../domain/cvm-status';
import type { PhalaClient } from '../phala/client';
import { PhalaApiError } from '../phala/errors';
import type { RouteTable, TrafficRouter } from '../router/types';
import { RouterError } from '../router/types';
import { LocalProxyRouter, WebhookRouter } from '../router/webhook';
import type {
  AnalysisCheck,
  Deployment,
  HealthCheck,
  LaunchOutcome,
  LaunchRequest,
  RouterConfig,
  Slot,
} from '../workflows/bluegreen-types';
import { classified } from './failures';
import {
  type AnalysisTally,
  type AnalysisVerdict,
  emptyTally,
  joinUrl,
  measure,
  type ProbeResult,
  probe,
  tally,
  verdict,
} from './http-check';

/**
 * Starts a blue-green run for a trigger: the client's launchBlueGreen (src/client/bluegreen.ts), handed in by
 * whoever builds the worker's activities, so this layer does not import the client's.
 */
export type BlueGreenLauncher = (
  client: Client,
  req: LaunchRequest,
  opts: { taskQueue: string; onWait?: () => void },
) => Promise<LaunchOutcome>;

export interface BlueGreenActivityDeps {
  phala: PhalaClient;
  launch: BlueGreenLauncher;
  /** Where router keys are read from by name; the worker's own environment by default. */
  env?: NodeJS.ProcessEnv;
  /** How long to wait between tries while the API answers 409 "operation in progress". */
  busyRetryMs?: number;
}

interface LiveCvm {
  vm_uuid?: string | null;
  app_id?: string | null;
  name?: string | null;
  status: string;
  compose_hash?: string | null;
  endpoints?: { app: string; instance: string }[] | null;
  public_urls?: { app: string; instance: string }[] | null;
}

/** The deployment a set of live CVMs of one Phala app make up. */
function toDeployment(name: string, slot: Slot, appId: string, cvms: LiveCvm[]): Deployment {
  const urls = cvms.map((c) => (c.endpoints ?? c.public_urls ?? [])[0]).filter((u) => u !== undefined);
  const first = urls[0];
  if (!first) {
    throw ApplicationFailure.create({
      type: 'NoEndpoint',
      message: `deployment ${name} (app ${appId}) reports no endpoint (public_urls / endpoints); is its gateway enabled?`,
      nonRetryable: false,
    });
  }
  return {
    name,
    slot,
    appId,
    composeHash: cvms.find((c) => c.compose_hash)?.compose_hash ?? '',
    cvmIds: cvms.map((c) => c.vm_uuid!),
    url: first.app,
    instanceUrls: urls.map((u) => u.instance),
  };
}

const summarise = (results: ProbeResult[]) =>
  results
    .filter((r) => !r.ok)
    .map((r) => `${r.url} → ${r.status ?? r.error}`)
    .join('; ');

/** One health check of every instance, at once. */
const probeAll = (urls: string[], check: HealthCheck, signal: AbortSignal) =>
  Promise.all(
    urls.map((u) =>
      probe(joinUrl(u, check.path), { expectStatus: check.expectStatus, timeoutMs: check.timeoutMs, signal }),
    ),
  );

/** `{greenUrl}` and `{blueUrl}` go in as they are (they start URLs); the other values are URL-encoded. */
export function fillTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{([a-zA-Z]+)\}/g, (whole, key: string) => {
    const value = vars[key];
    if (value === undefined) return whole;
    return key.endsWith('Url') ? value : encodeURIComponent(value);
  });
}

/** A deployment name of the app: `<app>-<id>`, or `<app>-blue|green-<id>` from before the patch. */
function deploymentNamePattern(app: string): RegExp {
  return new RegExp(`^${app.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(?:(blue|green)-)?[0-9a-z]{6}$`);
}

export function createBlueGreenActivities(deps: BlueGreenActivityDeps) {
  const { phala, launch } = deps;
  const env = deps.env ?? process.env;
  const busyRetryMs = deps.busyRetryMs ?? 2000;

  async function liveCvms(appId: string): Promise<LiveCvm[]> {
    try {
      const list = (await phala.getAppCvms(appId, { signal: cancellationSignal() })) as LiveCvm[];
      return list.filter((c) => c.status !== 'deleting' && c.vm_uuid);
    } catch (err) {
      if (err instanceof PhalaApiError && err.status === 404) return [];
      throw err;
    }
  }

  function routerFor(config: RouterConfig): TrafficRouter {
    const secret = env[config.secretEnv];
    if (!secret) {
      throw ApplicationFailure.create({
        type: 'RouterSecret',
        message: `the worker's environment has no ${config.secretEnv}: set it to the router's HMAC key on every worker`,
        nonRetryable: true,
      });
    }
    return config.type === 'local'
      ? new LocalProxyRouter({ url: config.controlUrl, secret, timeoutMs: config.timeoutMs })
      : new WebhookRouter({ url: config.url, secret, timeoutMs: config.timeoutMs });
  }

  return {
    /**
     * The deployment that serves the app: the one the previous run recorded, if it still has live CVMs; otherwise
     * found by name (`<app>-<id>`, or `<app>-blue-<id>` / `<app>-green-<id>` from before the names lost their colour) among the live CVMs, in case the record is gone (history
     * retention) — a running one, and only if exactly one runs.
     */
    async bgFindDeployment(req: { app: string; recorded?: Deployment }): Promise<{ blue?: Deployment; note: string }> {
      return classified(`find the deployment serving ${req.app}`, async () => {
        if (req.recorded) {
          const cvms = await liveCvms(req.recorded.appId);
          if (cvms.length)
            return {
              blue: toDeployment(req.recorded.name, req.recorded.slot, req.recorded.appId, cvms),
              note: `blue is ${req.recorded.name}, as the previous run recorded`,
            };
        }
        const pattern = deploymentNamePattern(req.app);
        const byApp = new Map<string, { name: string; slot: Slot; cvms: LiveCvm[] }>();
        for (let page = 1; ; page++) {
          const res = await phala.listCvms({ page, pageSize: 100 }, { signal: cancellationSignal() });
          for (const c of res.items as LiveCvm[]) {
            const m = pattern.exec(c.name ?? '');
            if (!m || !c.app_id || !c.vm_uuid || c.status === 'deleting') continue;
            // A name without a colour is blue's by role: the slot only decides the next old-style name.
            const entry = byApp.get(c.app_id) ?? { name: c.name!, slot: (m[1] ?? 'blue') as Slot, cvms: [] };
            entry.cvms.push(c);
            byApp.set(c.app_id, entry);
          }
          if (page >= res.pages) break;
        }
        const serving = [...byApp.entries()].filter(([, e]) => e.cvms.some((c) => c.status === 'running'));
        const lost = req.recorded ? `the recorded deployment ${req.recorded.name} has no live CVMs; ` : '';
        if (serving.length > 1) {
          throw ApplicationFailure.create({
            type: 'BlueGreenAmbiguous',
            nonRetryable: true,
            message: `${lost}several deployments of ${req.app} are running (${serving.map(([, e]) => e.name).join(', ')}) and no run recorded which one serves; delete the ones that do not`,
          });
        }
        const [found] = serving;
        if (!found) return { note: `${lost}${req.app} has no running deployment: this is its first` };
        const [appId, e] = found;
        return { blue: toDeployment(e.name, e.slot, appId, e.cvms), note: `${lost}blue is ${e.name}, found by name` };
      });
    },

    /** Green as deployed: its CVMs and endpoints. */
    async bgDescribeDeployment(req: { name: string; slot: Slot; appId: string }): Promise<Deployment> {
      return classified(`describe ${req.name}`, async () =>
        toDeployment(req.name, req.slot, req.appId, await liveCvms(req.appId)),
      );
    },

    /**
     * Passes once every URL has answered healthy for `minHealthyMs` without a failure in between. Fails
     * (non-retryable) after `failureThreshold` failed checks in a row, or when `deadlineMs` passes first. Its clock
     * survives a worker crash: the start time is in the heartbeat details.
     */
    async bgHealthGate(req: {
      urls: string[];
      check: HealthCheck;
      minHealthyMs: number;
    }): Promise<{ healthyForMs: number; checks: number }> {
      const cp = (activityInfo().heartbeatDetails as GateCheckpoint | undefined) ?? {
        startedAtMs: Date.now(),
        failures: 0,
        checks: 0,
      };
      const signal = cancellationSignal();
      for (;;) {
        const results = await probeAll(req.urls, req.check, signal);
        const now = Date.now();
        cp.checks++;
        if (results.every((r) => r.ok)) {
          cp.failures = 0;
          cp.healthySinceMs ??= now;
          if (now - cp.healthySinceMs >= req.minHealthyMs)
            return { healthyForMs: now - cp.healthySinceMs, checks: cp.checks };
        } else {
          cp.healthySinceMs = undefined;
          cp.failures++;
          cp.last = summarise(results);
          if (cp.failures >= req.check.failureThreshold)
            throw ApplicationFailure.create({
              type: 'HealthGateFailed',
              nonRetryable: true,
              message: `green failed ${cp.failures} health checks in a row (threshold ${req.check.failureThreshold}); last: ${cp.last}`,
            });
        }
        if (now - cp.startedAtMs > req.check.deadlineMs)
          throw ApplicationFailure.create({
            type: 'HealthGateFailed',
            nonRetryable: true,
            message: `green was not healthy for ${req.minHealthyMs} ms in a row within the ${req.check.deadlineMs} ms deadline${cp.last ? `; last failure: ${cp.last}` : ''}`,
          });
        heartbeat(cp);
        await sleep(req.check.intervalMs);
      }
    },

    /** Keeps checking a healthy deployment; returns once it failed `failureThreshold` checks in a row. */
    async bgWatchHealth(req: { urls: string[]; check: HealthCheck }): Promise<{ detail: string }> {
      let failures = 0;
      const signal = cancellationSignal();
      for (;;) {
        const results = await probeAll(req.urls, req.check, signal);
        failures = results.every((r) => r.ok) ? 0 : failures + 1;
        if (failures >= req.check.failureThreshold)
          return { detail: `${failures} failed health checks in a row; last: ${summarise(results)}` };
        heartbeat({ failures });
        await sleep(req.check.intervalMs);
      }
    },

    /**
     * Takes measurements of a web check until its verdict is due: pass (all `count` taken within the limits), fail
     * (more failures than `failureLimit`), inconclusive, or error (more consecutive errors than `errorLimit`; errors
     * are retried at the same interval and do not count as measurements).
     */
    async bgAnalysis(req: {
      check: AnalysisCheck;
      vars: Record<string, string>;
    }): Promise<{ verdict: AnalysisVerdict; tally: AnalysisTally; last: string }> {
      const cp = (activityInfo().heartbeatDetails as { tally: AnalysisTally; last: string } | undefined) ?? {
        tally: emptyTally(),
        last: '',
      };
      const url = fillTemplate(req.check.url, req.vars);
      for (;;) {
        const m = await measure(url, {
          method: req.check.method,
          timeoutMs: req.check.timeoutMs,
          body: req.vars,
          signal: cancellationSignal(),
        });
        cp.tally = tally(cp.tally, m.value);
        cp.last = m.detail;
        const v = verdict(cp.tally, req.check);
        if (v) return { verdict: v, tally: cp.tally, last: cp.last };
        heartbeat(cp);
        await sleep(req.check.intervalMs);
      }
    },

    /** Sends a route table; a retry sends the same generation, which receivers treat as already applied. */
    async bgApplyRoutes(req: { router: RouterConfig; table: RouteTable }) {
      const router = routerFor(req.router);
      try {
        return await router.apply(req.table, cancellationSignal());
      } catch (err) {
        if (!(err instanceof RouterError)) throw err;
        const type = {
          ROUTER_STALE: 'RouterStale',
          ROUTER_REJECTED: 'RouterRejected',
          ROUTER_UNREACHABLE: 'RouterUnreachable',
          ROUTER_SECRET: 'RouterSecret',
        }[err.code];
        throw ApplicationFailure.create({ type, message: err.message, nonRetryable: !err.retryable });
      }
    },

    /**
     * Starts or stops every CVM of a deployment that is not already there; returns the CVMs it acted on (the caller
     * watches them). Stop is a force stop: a retired-but-warm deployment has no traffic to drain.
     */
    async bgPowerApp(req: { appId: string; action: 'start' | 'stop' }): Promise<string[]> {
      return classified(`${req.action} the CVMs of app ${req.appId}`, async () => {
        const acted: string[] = [];
        for (const c of await liveCvms(req.appId)) {
          const off = OFF_STATUSES.has(c.status);
          if (
            req.action === 'stop' ? off || c.status === 'stopping' : c.status === 'running' || c.status === 'starting'
          )
            continue;
          for (;;) {
            try {
              if (req.action === 'stop') await phala.stopCvm(c.vm_uuid!, { signal: cancellationSignal() });
              else await phala.startCvm(c.vm_uuid!, { signal: cancellationSignal() });
              break;
            } catch (err) {
              if (err instanceof PhalaApiError && err.status === 404) break;
              if (!(err instanceof PhalaApiError && err.status === 409 && err.retryable)) throw err;
              heartbeat();
              await sleep(busyRetryMs);
            }
          }
          acted.push(c.vm_uuid!);
        }
        return acted;
      });
    },

    /** Starts a blue-green run for a trigger (the trigger workflow's one step), with the activity's own client. */
    async bgLaunch(req: LaunchRequest): Promise<LaunchOutcome> {
      return launch(getClient(), req, { taskQueue: activityInfo().taskQueue, onWait: () => heartbeat() });
    },
  };
}

interface GateCheckpoint {
  startedAtMs: number;
  healthySinceMs?: number;
  failures: number;
  checks: number;
  last?: string;
}

export type BlueGreenActivities = ReturnType<typeof createBlueGreenActivities>;

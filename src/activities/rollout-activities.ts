// Activities of fleet rollouts: resolving targets, the health gate after an update, the per-app deployment lock. A CVM
// is updated and reverted through the compose-update activities that deploy updates use too
// (compose-update-activities.ts: each step reads before it writes, so a retry never updates a CVM twice).
import {
  ApplicationFailure,
  activityInfo,
  cancellationSignal,
  getClient,
  heartbeat,
  sleep,
} from '@temporalio/activity';
import { isGrpcServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { FAILED_STATUSES, OFF_STATUSES } from '../domain/cvm-status';
import { globMatches } from '../domain/glob';
import { deployWorkflowId, SA_KIND } from '../domain/names';
import type { PhalaClient } from '../phala/client';
import { identifiesCvm } from '../phala/ids';
import type { HttpCheck, RestorePatch, RolloutTargets, TargetCvm } from '../workflows/rollout-types';
import { createComposeUpdateActivities } from './compose-update-activities';
import { classified } from './failures';

/** Who holds an app's deployment lock (a running `deploy-<app>` workflow). */
export interface LockHolder {
  workflowId: string;
  runId: string;
  workflowType: string;
  kind?: string;
}

export interface RolloutActivityDeps {
  phala: PhalaClient;
  /** How long to wait between tries while the API answers 409 "operation in progress". */
  busyRetryMs?: number;
  /** Give up waiting on a busy CVM after this long and let the activity's retry policy decide. */
  busyMaxWaitMs?: number;
  /** Who holds an app's lock; by default asks Temporal through the worker's own client. */
  lockHolder?: (app: string) => Promise<LockHolder | undefined>;
}

const GRPC_NOT_FOUND = 5;

async function deployLockHolder(app: string): Promise<LockHolder | undefined> {
  const workflowId = deployWorkflowId(app);
  try {
    const d = await getClient().workflow.getHandle(workflowId).describe();
    if (d.status.name !== 'RUNNING') return undefined;
    const kind = d.typedSearchAttributes.get(SA_KIND);
    return { workflowId, runId: d.runId, workflowType: d.type, ...(kind ? { kind } : {}) };
  } catch (err) {
    // Over a NativeConnection the client may surface "not found" as the raw gRPC error rather than its own type.
    if (err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND))
      return undefined;
    throw err;
  }
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(cvmId|appId|app)\}/g, (_, key: string) => encodeURIComponent(values[key] ?? ''));
}

function statusAccepted(check: HttpCheck, status: number): boolean {
  return check.expectStatus?.length ? check.expectStatus.includes(status) : status >= 200 && status < 400;
}

export function createRolloutActivities(deps: RolloutActivityDeps) {
  const { phala } = deps;
  const lockHolder = deps.lockHolder ?? deployLockHolder;

  const compose = createComposeUpdateActivities(deps);

  async function probe(check: HttpCheck, values: Record<string, string>): Promise<string | undefined> {
    const url = fill(check.url, values);
    try {
      const res = await fetch(url, {
        signal: AbortSignal.any([cancellationSignal(), AbortSignal.timeout(check.timeoutMs)]),
      });
      await res.body?.cancel();
      return statusAccepted(check, res.status) ? undefined : `GET ${url} answered ${res.status}`;
    } catch (err) {
      if (cancellationSignal().aborted) throw err;
      return `GET ${url} failed: ${(err as Error).message}`;
    }
  }

  return {
    /**
     * Resolves targets to CVMs once, at the start of a rollout: CVMs as listed, then apps as listed, then CVMs whose
     * name matches the selector, each CVM once. Explicit targets that match nothing are returned as unresolved.
     */
    async rolloutResolveTargets({
      targets,
    }: {
      targets: RolloutTargets;
    }): Promise<{ cvms: TargetCvm[]; unresolved: string[] }> {
      return classified('resolve rollout targets', async () => {
        const signal = cancellationSignal();
        const listed = [];
        for (let page = 1; ; page++) {
          const res = await phala.listCvms({ page, pageSize: 100 }, { signal });
          listed.push(...res.items);
          if (page >= res.pages) break;
        }
        const live = listed.filter((c) => c.vm_uuid && c.app_id && c.status !== 'deleting' && c.status !== 'deleted');
        const found = new Map<string, TargetCvm>();
        const unresolved: string[] = [];
        const add = (c: (typeof live)[number]) => {
          if (found.has(c.vm_uuid!)) return;
          found.set(c.vm_uuid!, {
            cvmId: c.vm_uuid!,
            name: c.name,
            app: c.name,
            appId: c.app_id!,
            status: c.status,
            ...(c.compose_hash ? { composeHash: c.compose_hash } : {}),
            ...(c.kms_type === 'ethereum' || c.kms_type === 'base' ? { onChain: true } : {}),
          });
        };
        const byName = (a: (typeof live)[number], b: (typeof live)[number]) =>
          a.name.localeCompare(b.name) || a.vm_uuid!.localeCompare(b.vm_uuid!);
        for (const id of targets.cvms) {
          const cvm = live.find((c) => identifiesCvm(id, c));
          if (cvm) add(cvm);
          else unresolved.push(`cvm ${id}: no live CVM with this id`);
        }
        for (const app of targets.apps) {
          const cvms = live.filter((c) => c.name === app).sort(byName);
          if (cvms.length === 0) unresolved.push(`app ${app}: no live CVM carries this name`);
          cvms.forEach(add);
        }
        if (targets.selector) {
          const glob = targets.selector.name;
          const matched = live.filter((c) => globMatches(glob, c.name)).sort(byName);
          if (matched.length === 0) unresolved.push(`selector name ${glob}: matches no live CVM`);
          matched.forEach(add);
        }
        return { cvms: [...found.values()], unresolved };
      });
    },

    // Runs recorded before the one compose-update path (patch 'one-compose-update') call these three by name:
    // they are the compose-update activities under their old names.
    async rolloutPrepare(req: {
      cvmId: string;
      dockerCompose?: string;
      preLaunchScript?: string;
      allowedEnvs?: string[];
    }) {
      return compose.composePrepare({
        cvmId: req.cvmId,
        change: {
          dockerCompose: req.dockerCompose,
          preLaunchScript: req.preLaunchScript,
          allowedEnvs: req.allowedEnvs,
        },
      });
    },
    rolloutCommit: compose.composeCommit,
    async rolloutRevert(req: {
      cvmId: string;
      restore: RestorePatch;
      previousComposeHash: string;
      rolloutComposeHash: string;
    }) {
      return compose.composeRestore({
        cvmId: req.cvmId,
        restore: req.restore,
        previousComposeHash: req.previousComposeHash,
        updateComposeHash: req.rolloutComposeHash,
        startIfOff: true,
      });
    },

    /**
     * The health gate after an update: the CVM must be running with no operation in progress — and answer the
     * HTTP check when there is one — for minHealthy without a break. A crash fails it at once; otherwise it
     * keeps trying until the CVM's deadline (a service may take a while to come up).
     */
    async rolloutHealthGate(req: {
      cvmId: string;
      app: string;
      appId: string;
      minHealthyMs: number;
      http?: HttpCheck;
      deadlineMs: number;
      pollMs: number;
    }): Promise<{ healthyForMs: number }> {
      return classified(`health gate of ${req.cvmId}`, async () => {
        const signal = cancellationSignal();
        // A retried attempt keeps the first attempt's deadline but proves the hold again: health is not carried.
        heartbeat({ attempt: activityInfo().attempt });
        let healthySince: number | undefined;
        let last = 'not checked yet';
        const pollMs = Math.max(20, Math.min(req.pollMs, req.http?.intervalMs ?? req.pollMs));
        for (;;) {
          const statuses = await phala.getStatusBatch([req.cvmId], { signal });
          const s = statuses[req.cvmId];
          if (!s)
            throw ApplicationFailure.create({
              type: 'CvmFailed',
              nonRetryable: true,
              message: `CVM ${req.cvmId} no longer exists`,
            });
          if (FAILED_STATUSES.has(s.status) || (OFF_STATUSES.has(s.status) && !s.in_progress)) {
            throw ApplicationFailure.create({
              type: 'CvmFailed',
              nonRetryable: true,
              message: `CVM ${req.cvmId} is ${s.status} after the update${healthySince === undefined ? '' : ` (it had been healthy for ${Date.now() - healthySince} ms)`}`,
            });
          }
          let problem =
            s.status === 'running' && !s.in_progress
              ? undefined
              : `status ${s.status}${s.in_progress ? ' (operation in progress)' : ''}`;
          if (!problem && req.http)
            problem = await probe(req.http, { cvmId: req.cvmId, appId: req.appId, app: req.app });
          const now = Date.now();
          if (problem) {
            healthySince = undefined;
            last = problem;
          } else {
            healthySince ??= now;
            if (now - healthySince >= req.minHealthyMs) return { healthyForMs: now - healthySince };
          }
          heartbeat({ healthySince, last });
          if (now >= req.deadlineMs) {
            throw ApplicationFailure.create({
              type: 'HealthGateTimeout',
              nonRetryable: true,
              message: `CVM ${req.cvmId} was not healthy for ${req.minHealthyMs} ms before its deadline; last: ${last}`,
            });
          }
          await sleep(Math.min(pollMs, Math.max(1, req.deadlineMs - now)));
        }
      });
    },

    /** Who holds the app's deployment lock right now, if anyone. */
    async rolloutLockHolder({ app }: { app: string }): Promise<LockHolder | null> {
      return (await lockHolder(app)) ?? null;
    },

    /** Waits until no deployment holds the app (heartbeating, so a long wait costs no history). */
    async rolloutAwaitAppFree({ app, pollMs }: { app: string; pollMs: number }): Promise<{ waitedMs: number }> {
      const started = Date.now();
      for (;;) {
        heartbeat();
        if (!(await lockHolder(app))) return { waitedMs: Date.now() - started };
        await sleep(pollMs);
      }
    },
  };
}

export type RolloutActivities = ReturnType<typeof createRolloutActivities>;

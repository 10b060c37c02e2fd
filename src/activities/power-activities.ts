// Activities of the power schedule: one batched read of every target, the deployment-lock check, and one power
// action per CVM. The action is idempotent like Terraform's phala_cvm_power apply (seed 001): it reads the state
// first and does nothing when the CVM is already there or on its way, so a retry — or a second worker after a
// crash — never issues a second start or stop.
import { ApplicationFailure, activityInfo, cancellationSignal, getClient, heartbeat } from '@temporalio/activity';
import { isGrpcServiceError, WorkflowNotFoundError } from '@temporalio/client';
import type { PhalaClient } from '../phala/client';
import { PhalaApiError } from '../phala/errors';
import { deployWorkflowId } from '../workflows/deploy-types';
import { phaseOf } from '../workflows/power-decide';
import type {
  PowerActionRequest,
  PowerActionResult,
  PowerTargets,
  TargetCvm,
  TargetRead,
  UnresolvedTarget,
} from '../workflows/power-types';
import { busyRetrier, isBusy } from './busy';
import { classified } from './failures';
import { WatchFailure, type WatchHub } from './watch-hub';

export interface PowerActivityDeps {
  phala: PhalaClient;
  hub: WatchHub;
  /** How long to wait between tries while the API answers 409 "operation in progress". */
  busyRetryMs?: number;
  /** Give up waiting on a busy CVM after this long and let the activity's retry policy decide. */
  busyMaxWaitMs?: number;
  /** Whether a deployment holds an app; by default asks Temporal through the worker's own client. */
  isAppLocked?: (app: string) => Promise<boolean>;
}

/** Checkpoint in heartbeat details: a retried attempt keeps the first attempt's deadlines. */
interface ActionCheckpoint {
  startedAtMs: number;
  /** A call has been issued, so a retried attempt must not skip the action for a lock taken since. */
  issued?: boolean;
  /** When a graceful shutdown ran out of time and the force stop began; the stop's own wait counts from here. */
  escalatedAtMs?: number;
}

const GRPC_NOT_FOUND = 5;

/** A running `deploy-<app>` workflow is the per-app deployment lock (src/workflows/deploy-types.ts). */
async function deployHoldsApp(app: string): Promise<boolean> {
  try {
    const description = await getClient().workflow.getHandle(deployWorkflowId(app)).describe();
    return description.status.name === 'RUNNING';
  } catch (err) {
    // Over a NativeConnection the client may surface "not found" as the raw gRPC error rather than its own type.
    if (err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND)) return false;
    throw err;
  }
}

/** The identifier forms a target may use for a CVM, normalised like the API does (reference §2). */
function identifies(target: string, cvm: { vm_uuid?: string | null; id?: unknown; instance_id?: string | null }) {
  const bare = (s: string) => s.replaceAll('-', '').toLowerCase();
  const t = bare(target);
  return (
    (typeof cvm.vm_uuid === 'string' && bare(cvm.vm_uuid) === t) ||
    (typeof cvm.id === 'string' && cvm.id.toLowerCase() === target.toLowerCase()) ||
    (typeof cvm.instance_id === 'string' && bare(cvm.instance_id) === t)
  );
}

export function createPowerActivities(deps: PowerActivityDeps) {
  const { phala, hub } = deps;
  const isAppLocked = deps.isAppLocked ?? deployHoldsApp;
  const whileBusy = busyRetrier(deps);

  async function readOne(cvmId: string): Promise<{ status: string; inProgress: boolean }> {
    const res = await phala.getStatusBatch([cvmId], { signal: cancellationSignal() });
    const s = res[cvmId];
    if (!s)
      throw new PhalaApiError({
        message: `CVM ${cvmId} no longer exists`,
        status: 404,
        endpoint: 'POST /status/batch',
      });
    return { status: s.status, inProgress: s.in_progress };
  }

  /** Waits through the shared hub; a deadline miss is the schedule's to report, not a retry's to hide. */
  async function waitFor(cvmId: string, target: 'running' | 'stopped', deadlineMs: number): Promise<string> {
    try {
      const state = await hub.watch({ cvmId, target, deadlineMs, signal: cancellationSignal() });
      return state.status;
    } catch (err) {
      if (err instanceof WatchFailure && err.kind === 'timeout') {
        throw ApplicationFailure.create({
          type: 'PowerTimeout',
          nonRetryable: true,
          message: `CVM ${cvmId} did not reach ${target} in time (last status ${err.lastStatus ?? 'unknown'})`,
          details: [{ lastStatus: err.lastStatus }],
        });
      }
      throw err;
    }
  }

  return {
    /** Resolves the targets to CVMs through the API (apps by name, CVMs by any id form) and reads their status. */
    async powerReadTargets({ targets }: { targets: PowerTargets }): Promise<TargetRead> {
      return classified('read power-schedule targets', async () => {
        const signal = cancellationSignal();
        const listed = [];
        for (let page = 1; ; page++) {
          const res = await phala.listCvms({ page, pageSize: 100 }, { signal });
          listed.push(...res.items);
          if (page >= res.pages) break;
        }
        const live = listed.filter((c) => c.vm_uuid && c.status !== 'deleting');
        const found = new Map<string, TargetCvm>();
        const unresolved: UnresolvedTarget[] = [];
        const add = (c: (typeof live)[number]) => {
          const cvmId = c.vm_uuid!;
          found.set(cvmId, {
            cvmId,
            name: c.name,
            app: c.name,
            status: c.status,
            inProgress: Boolean(c.progress?.target),
          });
        };
        for (const app of targets.apps) {
          const cvms = live.filter((c) => c.name === app);
          if (cvms.length === 0) unresolved.push({ target: `app ${app}`, reason: 'no live CVM carries this name' });
          cvms.forEach(add);
        }
        for (const id of targets.cvms) {
          const cvm = live.find((c) => identifies(id, c));
          if (cvm) add(cvm);
          else unresolved.push({ target: `cvm ${id}`, reason: 'no live CVM with this id in the workspace' });
        }
        // The list is paged and may lag; the batch status is the API's current word on each CVM.
        const statuses = await phala.getStatusBatch([...found.keys()], { signal });
        for (const cvm of found.values()) {
          const s = statuses[cvm.cvmId];
          if (s) Object.assign(cvm, { status: s.status, inProgress: s.in_progress });
        }
        return {
          cvms: [...found.values()].sort((a, b) => a.name.localeCompare(b.name) || a.cvmId.localeCompare(b.cvmId)),
          unresolved,
        };
      });
    },

    /** The subset of `apps` that a running deployment (`deploy-<app>`) holds right now. */
    async powerLockedApps({ apps }: { apps: string[] }): Promise<string[]> {
      const locked: string[] = [];
      for (const app of apps) if (await isAppLocked(app)) locked.push(app);
      return locked;
    },

    /**
     * Brings one CVM to a power state: start, stop (graceful shutdown first when asked, force stop after its
     * timeout) or restart. Waits for the state through the watch hub when `waitForState`. Re-checks the app's
     * deployment lock right before the first call, so the window in which a deploy can slip in is milliseconds.
     */
    async powerCvm(req: PowerActionRequest): Promise<PowerActionResult> {
      return classified(`${req.action} ${req.cvmId}`, async () => {
        const cp: ActionCheckpoint = (activityInfo().heartbeatDetails as ActionCheckpoint | undefined) ?? {
          startedAtMs: Date.now(),
        };
        const deadlineMs = cp.startedAtMs + req.waitTimeoutMs;
        const result = (outcome: PowerActionResult['outcome'], status: string): PowerActionResult => ({
          outcome,
          status,
          ...(cp.escalatedAtMs !== undefined ? { escalated: true } : {}),
          elapsedMs: Date.now() - cp.startedAtMs,
        });
        heartbeat(cp);
        const beat = setInterval(() => heartbeat(cp), 1000);
        const signal = cancellationSignal();
        const issue = async <T>(call: () => Promise<T>, giveUpAt?: number) => {
          cp.issued = true;
          heartbeat(cp);
          return whileBusy(call, giveUpAt);
        };
        try {
          if (!cp.issued && (await isAppLocked(req.app))) return result('deferred', (await readOne(req.cvmId)).status);
          const now = await readOne(req.cvmId);
          const phase = phaseOf(now.status, now.inProgress);

          if (req.action === 'start' || (req.action === 'restart' && phase !== 'running')) {
            if (phase === 'running') return result('already', now.status);
            // A CVM already booting counts as restarted: it comes up fresh either way.
            if (phase !== 'starting') await issue(() => phala.startCvm(req.cvmId, { signal }));
            else if (req.action === 'restart') return result('already', now.status);
            if (!req.waitForState) return result('issued', 'starting');
            return result('done', await waitFor(req.cvmId, 'running', deadlineMs));
          }

          if (req.action === 'restart') {
            await issue(() => phala.restartCvm(req.cvmId, { force: false }, { signal }));
            if (!req.waitForState) return result('issued', 'restarting');
            return result('done', await waitFor(req.cvmId, 'running', deadlineMs));
          }

          if (phase === 'stopped') return result('already', now.status);
          // The graceful shutdown gets stop.shutdownTimeout; a force stop after it gets waitTimeout of its own.
          if (req.stop.action === 'shutdown' && cp.escalatedAtMs === undefined) {
            const graceEnd = cp.startedAtMs + req.stop.shutdownTimeoutMs;
            try {
              // A CVM busy with another operation (409) until the shutdown deadline is force-stopped like a slow one.
              if (phase !== 'stopping') await issue(() => phala.shutdownCvm(req.cvmId, { signal }), graceEnd);
              // The graceful stop is always waited for: whether to force it depends on how it ends.
              return result(req.waitForState ? 'done' : 'issued', await waitFor(req.cvmId, 'stopped', graceEnd));
            } catch (err) {
              if (!isBusy(err) && !(err instanceof ApplicationFailure && err.type === 'PowerTimeout')) throw err;
              cp.escalatedAtMs = Date.now();
            }
          }
          // Force stop is always allowed and cancels whatever runs (reference §5.2), so it needs no busy wait; a CVM
          // already stopping is left to finish unless a graceful shutdown just ran out of time.
          const escalated = cp.escalatedAtMs !== undefined;
          if (escalated || phase !== 'stopping') await issue(() => phala.stopCvm(req.cvmId, { signal }));
          if (!req.waitForState) return result('issued', 'stopping');
          return result(
            'done',
            await waitFor(req.cvmId, 'stopped', escalated ? cp.escalatedAtMs! + req.waitTimeoutMs : deadlineMs),
          );
        } finally {
          clearInterval(beat);
        }
      });
    },
  };
}

export type PowerActivities = ReturnType<typeof createPowerActivities>;

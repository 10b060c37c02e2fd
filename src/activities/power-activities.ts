// Activities of the power schedule: resolving the targets (one fleet listing, shared by the worker's schedules while
// it is in flight, and for drift checks as long as it is recent enough), reading known CVMs' statuses in one batch, the deployment-lock check, and power actions — one
// activity for up to a few hundred CVMs (`powerCvms`; `powerCvm` for one, used by histories from before batching).
// An action is idempotent like Terraform's phala_cvm_power apply (seed 001): it reads the state first and does
// nothing when the CVM is already there or on its way, so a retry — or a second worker after a crash — never issues
// a second start or stop.
import { setMaxListeners } from 'node:events';
import { ApplicationFailure, activityInfo, cancellationSignal, getClient, heartbeat } from '@temporalio/activity';
import { isGrpcServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { deployWorkflowId, POWER_HELD_BATCH_WANTED_QUERY } from '../domain/names';
import { phaseOf } from '../domain/power-phase';
import type { PhalaClient } from '../phala/client';
import { PhalaApiError } from '../phala/errors';
import { identifiesCvm } from '../phala/ids';
import type { CvmSummary } from '../phala/schemas';
import type {
  PowerActionRequest,
  PowerActionResult,
  PowerBatchItem,
  PowerBatchRequest,
  PowerTargets,
  StatusRead,
  TargetCvm,
  TargetRead,
  UnresolvedTarget,
} from '../workflows/power-types';
import { busyRetrier, isBusy } from './busy';
import { classified, toFailure } from './failures';
import { limiter, mapLimited } from './limit';
import { holdUntilInstant } from './power-hold';
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
  /** Whether the schedule still wants a held batch's calls (power-hold.ts); by default asks the workflow. */
  heldBatchWanted?: (batch: { cvmIds: string[]; notBeforeMs: number }) => Promise<boolean>;
}

/** Asks the schedule running this activity through the worker's own client (no workflow: nobody to ask). */
async function askSchedule(batch: { cvmIds: string[]; notBeforeMs: number }): Promise<boolean> {
  const run = activityInfo().workflowExecution;
  if (!run) return true;
  const handle = getClient().workflow.getHandle(run.workflowId, run.runId);
  return handle.query<boolean, [typeof batch]>(POWER_HELD_BATCH_WANTED_QUERY, batch);
}

/** Checkpoint of one CVM's action: a retried attempt keeps the first attempt's deadlines. */
interface ActionCheckpoint {
  startedAtMs: number;
  /** A call has been issued, so a retried attempt must not skip the action for a lock taken since. */
  issued?: boolean;
  /** When a graceful shutdown ran out of time and the force stop began; the stop's own wait counts from here. */
  escalatedAtMs?: number;
}

/** A batch's heartbeat details: one checkpoint per CVM. */
interface BatchCheckpoint {
  startedAtMs: number;
  cvms: Record<string, ActionCheckpoint>;
}

const GRPC_NOT_FOUND = 5;
/** Phala API calls one activity has in flight at once: enough to be quick, few enough to be polite. */
const CALLS_AT_ONCE = 16;
/** Deployment-lock checks (a Temporal describe each) one activity has in flight at once: cheap, exact, many. */
const LOCK_CHECKS_AT_ONCE = 64;
/**
 * A drift check reuses a fleet listing younger than this whatever its interval, so one worker lists the whole fleet
 * for drift checks at most this often, however many schedules with short intervals it runs. At 10,000 CVMs a listing
 * is ~20 MiB of JSON to parse; without the bound, 24 schedules on a fast clock listed ~1.5 times a second and that
 * parsing was most of the worker's CPU (bench/power-scale.md). A new CVM is then found within a drift interval plus
 * this at most.
 */
const DRIFT_LISTING_FRESH_MS = 3_000;
/** A lock check the workflow made this recently (real ms) is not repeated by the batch activity. */
const LOCK_CHECK_FRESH_MS = 2000;
/** Batches larger than this wait on the hub's batched poll only; smaller ones may get its few SSE streams. */
const STREAMED_WAIT_MAX = 4;
/** Ids per `POST /status/batch` when reading known CVMs. */
const STATUS_BATCH = 1000;

function resultOf(cp: ActionCheckpoint, outcome: PowerActionResult['outcome'], status: string): PowerActionResult {
  return {
    outcome,
    status,
    ...(cp.escalatedAtMs !== undefined ? { escalated: true } : {}),
    elapsedMs: Date.now() - cp.startedAtMs,
  };
}

/** How one CVM's action talks to the outside: its checkpoint, how to save it, how to pace calls and waits. */
interface ActContext {
  cp: ActionCheckpoint;
  save: () => void;
  call: <T>(fn: () => Promise<T>) => Promise<T>;
  pollOnly: boolean;
}

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

/** A fleet listing's live CVMs, indexed by name once: every schedule on the worker reads the same listing. */
interface Fleet {
  live: CvmSummary[];
  byName: Map<string, CvmSummary[]>;
}

function indexFleet(listed: CvmSummary[]): Fleet {
  const live = listed.filter((c) => c.vm_uuid && c.status !== 'deleting');
  const byName = new Map<string, CvmSummary[]>();
  for (const c of live) {
    const same = byName.get(c.name);
    if (same) same.push(c);
    else byName.set(c.name, [c]);
  }
  return { live, byName };
}

export function createPowerActivities(deps: PowerActivityDeps) {
  const { phala, hub } = deps;
  const isAppLocked = deps.isAppLocked ?? deployHoldsApp;
  const heldBatchWanted = deps.heldBatchWanted ?? askSchedule;
  const whileBusy = busyRetrier(deps);
  /**
   * The worker's latest fleet listing: shared by every schedule on this worker that needs one while it is in flight,
   * and afterwards by drift checks that accept a listing started after their `notBeforeMs`.
   */
  let listing: { startedAtMs: number; done: boolean; fleet: Promise<Fleet> } | undefined;

  async function readOne(cvmId: string): Promise<{ status: string; inProgress: boolean }> {
    const s = (await readStatuses([cvmId], cancellationSignal())).statuses[cvmId];
    if (!s)
      throw new PhalaApiError({
        message: `CVM ${cvmId} no longer exists`,
        status: 404,
        endpoint: 'POST /status/batch',
      });
    return s;
  }

  /** Every CVM of the workspace: `GET /cvms` in one response, or page by page where that endpoint is missing. */
  async function listFleet(): Promise<CvmSummary[]> {
    try {
      return await phala.listCvmSummaries();
    } catch (err) {
      if (!(err instanceof PhalaApiError) || (err.status !== 404 && err.status !== 405)) throw err;
      const listed: CvmSummary[] = [];
      for (let page = 1; ; page++) {
        const res = await phala.listCvms({ page, pageSize: 100 });
        listed.push(...res.items);
        if (page >= res.pages) return listed;
      }
    }
  }

  function sharedListing(notBeforeMs: number | undefined): NonNullable<typeof listing> {
    const since = notBeforeMs === undefined ? undefined : Math.min(notBeforeMs, Date.now() - DRIFT_LISTING_FRESH_MS);
    const usable = listing && (since === undefined ? !listing.done : listing.startedAtMs >= since);
    if (listing && usable) return listing;
    const mine = { startedAtMs: Date.now(), done: false, fleet: listFleet().then(indexFleet) };
    listing = mine;
    mine.fleet.then(
      () => {
        mine.done = true;
      },
      () => {
        if (listing === mine) listing = undefined;
      },
    );
    return mine;
  }

  async function lockedAmong(apps: string[]): Promise<Set<string>> {
    const held = await mapLimited(apps, LOCK_CHECKS_AT_ONCE, isAppLocked);
    return new Set(apps.filter((_, i) => held[i]));
  }

  /** Waits through the shared hub; a deadline miss is the schedule's to report, not a retry's to hide. */
  async function waitFor(
    cvmId: string,
    target: 'running' | 'stopped',
    deadlineMs: number,
    pollOnly: boolean,
  ): Promise<string> {
    try {
      const state = await hub.watch({ cvmId, target, deadlineMs, signal: cancellationSignal(), pollOnly });
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

  /**
   * Brings one CVM from its current state `now` to the request's: start, stop (graceful shutdown first when asked,
   * force stop after its timeout) or restart, then waits for the state through the watch hub when `waitForState`.
   */
  async function act(
    req: PowerActionRequest,
    now: { status: string; inProgress: boolean },
    ctx: ActContext,
  ): Promise<PowerActionResult> {
    const { cp } = ctx;
    const deadlineMs = cp.startedAtMs + req.waitTimeoutMs;
    const result = (outcome: PowerActionResult['outcome'], status: string) => resultOf(cp, outcome, status);
    const signal = cancellationSignal();
    const issue = async <T>(call: () => Promise<T>, giveUpAt?: number) => {
      cp.issued = true;
      ctx.save();
      return whileBusy(() => ctx.call(call), giveUpAt);
    };
    const waitUntil = (target: 'running' | 'stopped', until: number) => waitFor(req.cvmId, target, until, ctx.pollOnly);
    const phase = phaseOf(now.status, now.inProgress);

    if (req.action === 'start' || (req.action === 'restart' && phase !== 'running')) {
      if (phase === 'running') return result('already', now.status);
      // A CVM already booting counts as restarted: it comes up fresh either way.
      if (phase !== 'starting') await issue(() => phala.startCvm(req.cvmId, { signal }));
      else if (req.action === 'restart') return result('already', now.status);
      if (!req.waitForState) return result('issued', 'starting');
      return result('done', await waitUntil('running', deadlineMs));
    }

    if (req.action === 'restart') {
      await issue(() => phala.restartCvm(req.cvmId, { force: false }, { signal }));
      if (!req.waitForState) return result('issued', 'restarting');
      return result('done', await waitUntil('running', deadlineMs));
    }

    if (phase === 'stopped') return result('already', now.status);
    // The graceful shutdown gets stop.shutdownTimeout; a force stop after it gets waitTimeout of its own.
    if (req.stop.action === 'shutdown' && cp.escalatedAtMs === undefined) {
      const graceEnd = cp.startedAtMs + req.stop.shutdownTimeoutMs;
      try {
        // A CVM busy with another operation (409) until the shutdown deadline is force-stopped like a slow one.
        if (phase !== 'stopping') await issue(() => phala.shutdownCvm(req.cvmId, { signal }), graceEnd);
        // The graceful stop is always waited for: whether to force it depends on how it ends.
        return result(req.waitForState ? 'done' : 'issued', await waitUntil('stopped', graceEnd));
      } catch (err) {
        if (!isBusy(err) && !(err instanceof ApplicationFailure && err.type === 'PowerTimeout')) throw err;
        cp.escalatedAtMs = Date.now();
        ctx.save();
      }
    }
    // Force stop is always allowed and cancels whatever runs (reference §5.2), so it needs no busy wait; a CVM
    // already stopping is left to finish unless a graceful shutdown just ran out of time.
    const escalated = cp.escalatedAtMs !== undefined;
    if (escalated || phase !== 'stopping') await issue(() => phala.stopCvm(req.cvmId, { signal }));
    if (!req.waitForState) return result('issued', 'stopping');
    return result('done', await waitUntil('stopped', escalated ? cp.escalatedAtMs! + req.waitTimeoutMs : deadlineMs));
  }

  /** Reads have no checkpoint: their heartbeat only says the worker is alive. */
  const alive = () => undefined;

  /** Heartbeats `details()` every second until `fn` settles; returns what `fn` returns. */
  async function beating<T>(details: () => unknown, fn: () => Promise<T>): Promise<T> {
    heartbeat(details());
    const beat = setInterval(() => heartbeat(details()), 1000);
    try {
      return await fn();
    } finally {
      clearInterval(beat);
    }
  }

  return {
    /**
     * Resolves the targets to CVMs through the API (apps by name, CVMs by any id form) and reads their status. With
     * `notBeforeMs` (real ms), a finished listing of this worker that started no earlier is good enough (drift
     * checks); without it only one still in flight is shared.
     */
    async powerReadTargets({
      targets,
      notBeforeMs,
    }: {
      targets: PowerTargets;
      notBeforeMs?: number;
    }): Promise<TargetRead> {
      return classified('read power-schedule targets', () =>
        beating(alive, async () => {
          const signal = cancellationSignal();
          const shared = sharedListing(notBeforeMs);
          const { live, byName } = await shared.fleet;
          const found = new Map<string, TargetCvm>();
          const unresolved: UnresolvedTarget[] = [];
          const add = (c: CvmSummary) => {
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
            const cvms = byName.get(app) ?? [];
            if (cvms.length === 0) unresolved.push({ target: `app ${app}`, reason: 'no live CVM carries this name' });
            cvms.forEach(add);
          }
          for (const id of targets.cvms) {
            const cvm = live.find((c) => identifiesCvm(id, c));
            if (cvm) add(cvm);
            else unresolved.push({ target: `cvm ${id}`, reason: 'no live CVM with this id in the workspace' });
          }
          // The list may lag (and may have been read for another schedule a moment ago); the batch status is the
          // API's current word on each CVM.
          const statuses = await readStatuses([...found.keys()], signal);
          for (const cvm of found.values()) {
            const s = statuses.statuses[cvm.cvmId];
            if (s) Object.assign(cvm, s);
          }
          return {
            cvms: [...found.values()].sort((a, b) => a.name.localeCompare(b.name) || a.cvmId.localeCompare(b.cvmId)),
            unresolved,
            listedAtMs: shared.startedAtMs,
          };
        }),
      );
    },

    /** The current status of CVMs the schedule already knows: one `POST /status/batch` per 1,000, no listing. */
    async powerReadStatuses({ cvmIds }: { cvmIds: string[] }): Promise<StatusRead> {
      return classified('read power-schedule statuses', () =>
        beating(alive, () => readStatuses(cvmIds, cancellationSignal())),
      );
    },

    /** The subset of `apps` that a running deployment (`deploy-<app>`) holds right now. */
    async powerLockedApps({ apps }: { apps: string[] }): Promise<string[]> {
      const locked = await beating(alive, () => lockedAmong(apps));
      return apps.filter((a) => locked.has(a));
    },

    /**
     * Brings one CVM to a power state (see `act`). Re-checks the app's deployment lock right before the first call,
     * so the window in which a deploy can slip in is milliseconds.
     */
    async powerCvm(req: PowerActionRequest): Promise<PowerActionResult> {
      return classified(`${req.action} ${req.cvmId}`, async () => {
        const cp: ActionCheckpoint = (activityInfo().heartbeatDetails as ActionCheckpoint | undefined) ?? {
          startedAtMs: Date.now(),
        };
        return beating(
          () => cp,
          async () => {
            if (!cp.issued && (await isAppLocked(req.app)))
              return resultOf(cp, 'deferred', (await readOne(req.cvmId)).status);
            const ctx = { cp, save: () => heartbeat(cp), call: <T>(fn: () => Promise<T>) => fn(), pollOnly: false };
            return act(req, await readOne(req.cvmId), ctx);
          },
        );
      });
    },

    /**
     * The same action on many CVMs: one status read for all, a wait for the change's instant when the batch was
     * prepared ahead of it, one lock check per app (unless the workflow's own is seconds old), then each CVM as
     * `powerCvm` would, with at most 16 API calls in flight. One CVM failing (a
     * timeout, a refusal) is reported in its item and does not hold up or fail the others.
     */
    async powerCvms(req: PowerBatchRequest): Promise<PowerBatchItem[]> {
      return classified(`${req.action} ${req.cvms.length} CVMs`, async () => {
        const saved = activityInfo().heartbeatDetails as BatchCheckpoint | undefined;
        const startedAtMs = saved?.startedAtMs ?? Date.now();
        const cps: Record<string, ActionCheckpoint> = saved?.cvms ?? {};
        for (const c of req.cvms) cps[c.cvmId] ??= { startedAtMs };
        const details = (): BatchCheckpoint => ({ startedAtMs, cvms: cps });
        const save = () => heartbeat(details());
        return beating(details, async () => {
          const signal = cancellationSignal();
          // Every CVM's calls and wait listen on the activity's one cancellation signal.
          setMaxListeners(8 * req.cvms.length + 10, signal);
          const read = await readStatuses(
            req.cvms.map((c) => c.cvmId),
            signal,
          );
          // A batch prepared ahead of its calendar change holds its calls until the instant, its reads done, and
          // makes them only if its schedule still wants them (power-hold.ts).
          if (req.notBeforeMs !== undefined) {
            const batch = { cvmIds: req.cvms.map((c) => c.cvmId), notBeforeMs: req.notBeforeMs };
            await holdUntilInstant(req.notBeforeMs, signal, () => heldBatchWanted(batch));
          }
          // Freshness counts up to the first call: a lock check older than that is made again here.
          const fresh = req.locksCheckedAtMs !== undefined && Date.now() - req.locksCheckedAtMs < LOCK_CHECK_FRESH_MS;
          const unchecked = fresh ? [] : [...new Set(req.cvms.filter((c) => !cps[c.cvmId]!.issued).map((c) => c.app))];
          const locked = await lockedAmong(unchecked);
          const ctxBase = { save, call: limiter(CALLS_AT_ONCE), pollOnly: req.cvms.length > STREAMED_WAIT_MAX };
          return Promise.all(
            req.cvms.map(async ({ cvmId, app }): Promise<PowerBatchItem> => {
              const cp = cps[cvmId]!;
              const now = read.statuses[cvmId];
              if (!now) return { cvmId, outcome: 'failed', error: `CVM ${cvmId} no longer exists`, gone: true };
              if (!cp.issued && locked.has(app)) return { cvmId, ...resultOf(cp, 'deferred', now.status) };
              try {
                return { cvmId, ...(await act({ ...req, cvmId, app }, now, { ...ctxBase, cp })) };
              } catch (err) {
                if (signal.aborted) throw err;
                const failure = toFailure(err, `${req.action} ${cvmId}`);
                return { cvmId, outcome: 'failed', error: failure instanceof Error ? failure.message : String(err) };
              }
            }),
          );
        });
      });
    },
  };

  async function readStatuses(cvmIds: string[], signal: AbortSignal): Promise<StatusRead> {
    const statuses: StatusRead['statuses'] = {};
    for (let i = 0; i < cvmIds.length; i += STATUS_BATCH) {
      const res = await phala.getStatusBatch(cvmIds.slice(i, i + STATUS_BATCH), { signal });
      for (const [id, s] of Object.entries(res)) statuses[id] = { status: s.status, inProgress: s.in_progress };
    }
    return { statuses, missing: cvmIds.filter((id) => !statuses[id]) };
  }
}

export type PowerActivities = ReturnType<typeof createPowerActivities>;

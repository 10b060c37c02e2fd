// Activities of fleet rollouts, beside the deploy pipeline's (encryptEnv and watchCvm are reused as they are).
// Each one reads before it writes, so a retry — or a second worker after a crash — never updates a CVM twice:
// a commit that already landed is seen by its compose hash, a revert that already landed likewise.
import { createHash } from 'node:crypto';
import {
  ApplicationFailure,
  activityInfo,
  cancellationSignal,
  getClient,
  heartbeat,
  sleep,
} from '@temporalio/activity';
import { isGrpcServiceError, WorkflowNotFoundError } from '@temporalio/client';
import type { PhalaClient } from '../phala/client';
import { deployWorkflowId, SA_KIND } from '../workflows/deploy-types';
import { globMatches } from '../workflows/rollout-plan';
import type { HttpCheck, RestorePatch, RolloutTargets, TargetCvm } from '../workflows/rollout-types';
import { busyRetrier } from './busy';
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
const OFF = new Set(['stopped', 'exited', 'shutdown', 'shutoff']);
const CRASHED = new Set(['exited', 'failed', 'error']);

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

/** The identifier forms a target may use for a CVM, normalised like the API does. */
function identifies(target: string, cvm: { vm_uuid?: string | null; id?: unknown; instance_id?: string | null }) {
  const bare = (s: string) => s.replaceAll('-', '').toLowerCase();
  const t = bare(target);
  return (
    (typeof cvm.vm_uuid === 'string' && bare(cvm.vm_uuid) === t) ||
    (typeof cvm.id === 'string' && cvm.id.toLowerCase() === target.toLowerCase()) ||
    (typeof cvm.instance_id === 'string' && bare(cvm.instance_id) === t)
  );
}

/** Restore patches are deduplicated by this key: a fleet on one version shares one patch in the rollout's state. */
function restoreKey(patch: RestorePatch): string {
  return createHash('sha256').update(JSON.stringify(patch)).digest('hex').slice(0, 16);
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

  const whileBusy = busyRetrier(deps);

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
          });
        };
        const byName = (a: (typeof live)[number], b: (typeof live)[number]) =>
          a.name.localeCompare(b.name) || a.vm_uuid!.localeCompare(b.vm_uuid!);
        for (const id of targets.cvms) {
          const cvm = live.find((c) => identifies(id, c));
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

    /**
     * Phase 1 of one CVM's update: provisions the new compose (only the fields the rollout changes) and returns the
     * new hash with what is needed to put the CVM back. Provisioning changes nothing on the CVM, so a retry is harmless.
     */
    async rolloutPrepare(req: {
      cvmId: string;
      dockerCompose?: string;
      preLaunchScript?: string;
      allowedEnvs?: string[];
    }): Promise<{
      status: string;
      composeHash: string;
      previousComposeHash: string;
      restoreKey: string;
      restore: RestorePatch;
      encryptPubkey?: string;
    }> {
      return classified(`prepare the update of ${req.cvmId}`, async () => {
        const signal = cancellationSignal();
        const [current, cvm] = await Promise.all([
          phala.getComposeFile(req.cvmId, { signal }),
          phala.getCvm(req.cvmId, { signal }),
        ]);
        const next: Record<string, unknown> = { ...current };
        const restore: RestorePatch = {};
        if (req.dockerCompose !== undefined) {
          restore.docker_compose_file = String(current.docker_compose_file ?? '');
          restore.pre_launch_script = typeof current.pre_launch_script === 'string' ? current.pre_launch_script : null;
          next.docker_compose_file = req.dockerCompose;
          if (req.preLaunchScript) next.pre_launch_script = req.preLaunchScript;
          else delete next.pre_launch_script;
        }
        if (req.allowedEnvs !== undefined) {
          restore.allowed_envs = Array.isArray(current.allowed_envs) ? current.allowed_envs.map(String) : [];
          next.allowed_envs = req.allowedEnvs;
        }
        const provisioned = await whileBusy(() => phala.provisionComposeFileUpdate(req.cvmId, next, { signal }));
        const pubkey = cvm.kms_info?.encrypted_env_pubkey;
        return {
          status: cvm.status,
          composeHash: provisioned.compose_hash,
          previousComposeHash: cvm.compose_hash ?? '',
          restoreKey: restoreKey(restore),
          restore,
          ...(pubkey ? { encryptPubkey: pubkey } : {}),
        };
      });
    },

    /**
     * Phase 2: commits the provisioned compose (the CVM restarts). A CVM that already carries the new hash was
     * committed by an earlier attempt whose reply was lost: it is not committed again. (An env-only change keeps
     * the hash, so it cannot be told apart and is re-applied — same result, one more restart.)
     */
    async rolloutCommit(req: {
      cvmId: string;
      composeHash: string;
      previousComposeHash: string;
      encryptedEnv?: string;
      envKeys?: string[];
    }): Promise<{ committed: boolean }> {
      return classified(`commit the update of ${req.cvmId}`, async () => {
        const signal = cancellationSignal();
        if (req.composeHash !== req.previousComposeHash) {
          const cvm = await phala.getCvm(req.cvmId, { signal });
          if (cvm.compose_hash === req.composeHash) return { committed: false };
        }
        await whileBusy(() =>
          phala.commitComposeFileUpdate(
            req.cvmId,
            { composeHash: req.composeHash, encryptedEnv: req.encryptedEnv, envKeys: req.envKeys },
            { signal },
          ),
        );
        return { committed: true };
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
          if (CRASHED.has(s.status) || (OFF.has(s.status) && !s.in_progress)) {
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

    /**
     * Puts one CVM back on its previous compose: the current app compose with the rollout's fields restored, checked
     * to hash to the previous compose hash before it is committed. Leaves alone a CVM already back, and one that
     * carries neither hash (someone deployed over the rollout since). A CVM the failure left powered off is started.
     */
    async rolloutRevert(req: {
      cvmId: string;
      restore: RestorePatch;
      previousComposeHash: string;
      rolloutComposeHash: string;
    }): Promise<{ outcome: 'reverted' | 'already' | 'diverged'; composeHash: string; started: boolean }> {
      return classified(`revert ${req.cvmId}`, async () => {
        const signal = cancellationSignal();
        const [current, cvm] = await Promise.all([
          phala.getComposeFile(req.cvmId, { signal }),
          phala.getCvm(req.cvmId, { signal }),
        ]);
        const hash = cvm.compose_hash ?? '';
        const restart = async () => {
          if (!OFF.has(cvm.status)) return false;
          await whileBusy(() => phala.startCvm(req.cvmId, { signal }));
          return true;
        };
        if (hash === req.previousComposeHash)
          return { outcome: 'already', composeHash: hash, started: await restart() };
        if (hash !== req.rolloutComposeHash) return { outcome: 'diverged', composeHash: hash, started: false };
        const next: Record<string, unknown> = { ...current, ...req.restore };
        if (req.restore.pre_launch_script === null) delete next.pre_launch_script;
        const provisioned = await whileBusy(() => phala.provisionComposeFileUpdate(req.cvmId, next, { signal }));
        if (provisioned.compose_hash !== req.previousComposeHash) {
          throw ApplicationFailure.create({
            type: 'RevertMismatch',
            nonRetryable: true,
            message: `restoring ${req.cvmId} would give compose hash ${provisioned.compose_hash}, not the previous ${req.previousComposeHash}; left on ${hash}`,
          });
        }
        await whileBusy(() =>
          phala.commitComposeFileUpdate(req.cvmId, { composeHash: provisioned.compose_hash }, { signal }),
        );
        // A powered-off CVM takes the change without booting; it was running before the rollout, so boot it.
        return { outcome: 'reverted', composeHash: provisioned.compose_hash, started: await restart() };
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

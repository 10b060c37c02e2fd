// Typed client functions for blue-green deployments, shared by the CLI, the trigger server and the tests; the worker
// hands launchBlueGreen to the trigger workflow's activity (src/worker/activities.ts), which does not import it.
//
// Where the app's current ("blue") deployment is recorded: in the memo of the app's latest `bluegreen-<app>` run.
// A run writes it when it starts and again after every traffic switch, so even a run that failed, was aborted or
// was terminated leaves behind what serves the app; the next run starts from it. When no run is left to read (the
// namespace's retention deleted it), the run finds the deployment by name among the app's live CVMs instead.
import { createHash, randomUUID } from 'node:crypto';
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { AuditRequest } from '../domain/audit-input';
import { sealEnv } from '../secrets/sealed-env';
import type { BlueGreenSpec } from '../spec/bluegreen';
import { resolveEnv } from '../spec/env';
import type { CodecKey } from '../temporal/codec';
import type { blueGreen } from '../workflows/bluegreen';
import type { blueGreenTrigger } from '../workflows/bluegreen-trigger';
import {
  type Actor,
  type BlueGreenInput,
  type BlueGreenMemo,
  type BlueGreenResult,
  type BlueGreenStatus,
  type BlueGreenTuning,
  blueGreenAbortUpdate,
  blueGreenFinishUpdate,
  blueGreenPauseUpdate,
  blueGreenPromoteUpdate,
  blueGreenResumeUpdate,
  blueGreenRollbackUpdate,
  blueGreenStatusQuery,
  blueGreenWorkflowId,
  type LaunchOutcome,
  type LaunchRequest,
  MEMO_KEY,
} from '../workflows/bluegreen-types';
import { SA_APP, SA_KIND, SA_PHASE } from '../workflows/deploy-types';
import { type DeployTuning, toDeployInput } from './deploy';
import { askWorkflow } from './requests';

export type BlueGreenHandle = WorkflowHandle<typeof blueGreen>;

/** A control request the run refused (its validator said why); nothing changed. */
export class BlueGreenRejectedError extends Error {
  readonly code = 'BLUEGREEN_REJECTED';
}

export class BlueGreenNotFoundError extends Error {
  readonly code = 'BLUEGREEN_NOT_FOUND';
  constructor(readonly app: string) {
    super(
      `no blue-green deployment of ${app} was found (workflow ${blueGreenWorkflowId(app)}); start one with \`cvmflow bluegreen start -f <spec.yaml>\``,
    );
  }
}

/** The workflow input for a spec. Env values go in sealed; the router key only by its variable's name. */
export function toBlueGreenInput(
  spec: BlueGreenSpec,
  sealedEnv: string | undefined,
  trigger: Actor & { triggerId?: string },
  tuning: DeployTuning & BlueGreenTuning = {},
): BlueGreenInput {
  const { heartbeatTimeoutMs, apiAttemptTimeoutMs } = tuning;
  const r = spec.router;
  return {
    app: spec.name,
    deploy: toDeployInput({ ...spec, kind: 'Deployment', ifBusy: 'reject' }, sealedEnv, tuning),
    policy: {
      autoPromote: spec.autoPromote,
      autoPromoteAfterMs: spec.autoPromoteAfterMs,
      previewTtlMs: spec.previewTtlMs,
      minHealthyMs: spec.minHealthyMs,
      health: spec.health,
      analysis: spec.analysis,
      scaleDownDelayMs: spec.scaleDownDelayMs,
      blueDuringDelay: spec.blueDuringDelay,
      abortPolicy: spec.abortPolicy,
      router:
        r.type === 'local'
          ? { type: 'local', controlUrl: r.controlUrl, secretEnv: r.secretFromEnv, timeoutMs: r.timeoutMs }
          : { type: 'webhook', url: r.url, secretEnv: r.secretFromEnv, timeoutMs: r.timeoutMs },
    },
    trigger: { by: trigger.by, reason: trigger.reason, triggerId: trigger.triggerId ?? randomUUID() },
    ...(heartbeatTimeoutMs || apiAttemptTimeoutMs
      ? {
          tuning: {
            ...(heartbeatTimeoutMs ? { heartbeatTimeoutMs } : {}),
            ...(apiAttemptTimeoutMs ? { apiAttemptTimeoutMs } : {}),
          },
        }
      : {}),
  };
}

export type { LaunchOutcome, LaunchRequest };

const memoOf = (d: WorkflowExecutionDescription) => d.memo?.[MEMO_KEY] as BlueGreenMemo | undefined;

async function describeLatest(client: Client, workflowId: string): Promise<WorkflowExecutionDescription | undefined> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/**
 * Starts a run of the app's blue-green workflow — the per-app lock. With a run in progress: one that only keeps
 * blue warm is finished first (its green is live, so it becomes the new blue); otherwise the trigger is rejected,
 * or, with `supersede`, the running one is aborted (traffic back to its blue, its green torn down) and awaited.
 * Safe to retry: a run carrying the same trigger id is adopted, never started twice.
 */
export async function launchBlueGreen(
  client: Client,
  req: LaunchRequest,
  opts: { taskQueue: string; onWait?: () => void },
): Promise<LaunchOutcome> {
  const { input } = req;
  const workflowId = blueGreenWorkflowId(input.app);
  const handle = client.workflow.getHandle<typeof blueGreen>(workflowId);
  let superseded: LaunchOutcome['superseded'];
  const actor: Actor = {
    by: input.trigger.by,
    reason: `superseded by a new trigger (${input.trigger.triggerId}): ${input.trigger.reason}`,
  };
  for (let attempt = 0; attempt < 20; attempt++) {
    const latest = await describeLatest(client, workflowId);
    if (latest?.status.name === 'RUNNING') {
      if (memoOf(latest)?.triggerId === input.trigger.triggerId)
        return { status: 'started', workflowId, runId: latest.runId, ...(superseded ? { superseded } : {}) };
      const { phase } = await handle.query(blueGreenStatusQuery);
      const action = phase === 'warm' ? 'finish' : req.onTrigger === 'supersede' ? 'abort' : undefined;
      if (!action)
        return {
          status: 'rejected',
          workflowId,
          runId: latest.runId,
          reason: `a blue-green deployment of ${input.app} is in progress (run ${latest.runId}, phase ${phase}); onTrigger is reject — wait for it, abort it (\`cvmflow bluegreen abort ${input.app}\`) or set onTrigger: supersede`,
        };
      try {
        if (action === 'finish') await handle.executeUpdate(blueGreenFinishUpdate, { args: [actor] });
        else await handle.executeUpdate(blueGreenAbortUpdate, { args: [actor] });
      } catch (err) {
        // The run moved on between the query and the update (e.g. it just finished): look again.
        if (!(err instanceof WorkflowUpdateFailedError)) throw err;
      }
      opts.onWait?.();
      await client.workflow
        .getHandle(workflowId, latest.runId)
        .result()
        .catch(() => undefined);
      superseded = { runId: latest.runId, phase, action };
      continue;
    }
    const recordedActive = latest ? memoOf(latest)?.active : undefined;
    const memo: BlueGreenMemo = {
      triggerId: input.trigger.triggerId,
      ...(recordedActive ? { active: recordedActive } : {}),
    };
    try {
      const started = await client.workflow.start<typeof blueGreen>('blueGreen', {
        taskQueue: opts.taskQueue,
        workflowId,
        args: [{ ...input, ...(recordedActive ? { recordedActive } : {}) }],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        memo: { [MEMO_KEY]: memo },
        typedSearchAttributes: [
          { key: SA_APP, value: input.app },
          { key: SA_KIND, value: 'bluegreen' },
          { key: SA_PHASE, value: 'starting' },
        ],
      });
      return {
        status: 'started',
        workflowId,
        runId: started.firstExecutionRunId,
        ...(superseded ? { superseded } : {}),
      };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  throw new Error(`could not start a blue-green run of ${input.app}: other triggers kept taking the lock`);
}

export interface StartBlueGreenOptions {
  client: Client;
  taskQueue: string;
  codecKeys?: CodecKey[];
  /** Where env values are read from (`fromEnv`); defaults to this process's environment. */
  env?: NodeJS.ProcessEnv;
  trigger: Actor & { triggerId?: string };
  tuning?: DeployTuning & BlueGreenTuning;
}

/** Seals the spec's env values, then launches a run (see launchBlueGreen). */
export async function startBlueGreen(spec: BlueGreenSpec, opts: StartBlueGreenOptions): Promise<LaunchOutcome> {
  const input = prepareInput(spec, opts);
  return launchBlueGreen(opts.client, { input, onTrigger: spec.onTrigger }, { taskQueue: opts.taskQueue });
}

function prepareInput(spec: BlueGreenSpec, opts: Omit<StartBlueGreenOptions, 'client' | 'taskQueue'>) {
  const vars = resolveEnv(spec.env, { env: opts.env ?? process.env });
  const sealed = vars.length ? sealEnv(vars, opts.codecKeys) : undefined;
  return toBlueGreenInput(spec, sealed, opts.trigger, opts.tuning);
}

/** The workflow id that remembers a delivery: the same delivery id always maps to it. */
export function deliveryWorkflowId(app: string, deliveryId: string): string {
  return `bluegreen-delivery-${app}-${createHash('sha256').update(deliveryId).digest('hex').slice(0, 24)}`;
}

/**
 * Launches a run for a webhook delivery, at most once per delivery id: the delivery becomes a workflow
 * (`bluegreen-delivery-<app>-<hash>`) that may never be started again, which performs the launch and keeps its
 * outcome. A redelivery finds that workflow and gets the same answer — for as long as the namespace retains it.
 */
export async function triggerBlueGreen(
  spec: BlueGreenSpec,
  deliveryId: string,
  opts: StartBlueGreenOptions,
): Promise<LaunchOutcome & { deliveryWorkflowId: string; duplicate: boolean }> {
  const id = deliveryWorkflowId(spec.name, deliveryId);
  let duplicate = false;
  try {
    const input = prepareInput(spec, { ...opts, trigger: { ...opts.trigger, triggerId: id } });
    await opts.client.workflow.start<typeof blueGreenTrigger>('blueGreenTrigger', {
      taskQueue: opts.taskQueue,
      workflowId: id,
      args: [{ input, onTrigger: spec.onTrigger }],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: SA_APP, value: spec.name },
        { key: SA_KIND, value: 'bluegreen-trigger' },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    duplicate = true;
  }
  const outcome = await opts.client.workflow.getHandle<typeof blueGreenTrigger>(id).result();
  return { ...outcome, deliveryWorkflowId: id, duplicate };
}

export function blueGreenHandle(client: Client, app: string): BlueGreenHandle {
  return client.workflow.getHandle<typeof blueGreen>(blueGreenWorkflowId(app));
}

const rejections = <T>(client: Client, app: string, call: () => Promise<T>): Promise<T> =>
  askWorkflow(call, {
    refused: (reason) => new BlueGreenRejectedError(reason),
    // A closed run answers "not found" although it exists.
    missing: async () => {
      const latest = await describeLatest(client, blueGreenWorkflowId(app));
      if (!latest) return new BlueGreenNotFoundError(app);
      return new BlueGreenRejectedError(
        `the latest blue-green run of ${app} has ended (${latest.status.name.toLowerCase()}); see \`cvmflow bluegreen status ${app}\``,
      );
    },
  });

/** A control request: who asks (`by`) and why (`reason`; `note` is still accepted as its older name). */
const control =
  <R>(update: UpdateDefinition<R, [AuditRequest]>) =>
  (client: Client, app: string, request: AuditRequest): Promise<R> =>
    rejections(client, app, () => blueGreenHandle(client, app).executeUpdate(update, { args: [request] }));

export const promoteBlueGreen = control(blueGreenPromoteUpdate);
export const abortBlueGreen = control(blueGreenAbortUpdate);
export const rollbackBlueGreen = control(blueGreenRollbackUpdate);
export const pauseBlueGreen = control(blueGreenPauseUpdate);
export const resumeBlueGreen = control(blueGreenResumeUpdate);
export const finishBlueGreen = control(blueGreenFinishUpdate);

export interface BlueGreenView {
  workflowId: string;
  runId: string;
  /** The Temporal run's status: RUNNING, COMPLETED, FAILED, … */
  run: string;
  status: BlueGreenStatus;
}

/** The latest run's status (closed runs answer too: their last state is replayed). */
export async function getBlueGreenStatus(client: Client, app: string): Promise<BlueGreenView> {
  const handle = blueGreenHandle(client, app);
  const [description, status] = await rejections(client, app, () =>
    Promise.all([handle.describe(), handle.query(blueGreenStatusQuery)]),
  );
  return { workflowId: handle.workflowId, runId: description.runId, run: description.status.name, status };
}

/** Waits for the latest run to end; a failed run's result is in the failure's details. */
export async function awaitBlueGreen(client: Client, app: string, runId?: string): Promise<BlueGreenResult> {
  return client.workflow.getHandle<typeof blueGreen>(blueGreenWorkflowId(app), runId).result();
}

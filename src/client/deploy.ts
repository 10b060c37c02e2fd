// Typed client functions for the deploy pipeline, shared by the CLI, the tests and anyone embedding cvmflow.
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
  WorkflowNotFoundError,
} from '@temporalio/client';
import type { AuditRequest } from '../domain/audit-input';
import { sealEnv } from '../secrets/sealed-env';
import { allowedEnvs, type DeploymentSpec, placementNodes, resolveEnv } from '../spec';
import type { AttestationSpec } from '../spec/attestation';
import type { CodecKey } from '../temporal/codec';
import type { deployCvm } from '../workflows/deploy';
import {
  type ApprovalAccepted,
  approvalQuery,
  type DeployInput,
  type DeployStatus,
  deployStatusQuery,
  deploySubmitApprovalTxUpdate,
  deployWorkflowId,
  type PendingApproval,
  SA_APP,
  SA_KIND,
  SA_PHASE,
} from '../workflows/deploy-types';
import { askWorkflow } from './requests';

export type DeployHandle = WorkflowHandle<typeof deployCvm>;
export type StartedDeploy = WorkflowHandleWithFirstExecutionRunId<typeof deployCvm>;
export type DeployTuning = Partial<Pick<DeployInput, 'heartbeatTimeoutMs' | 'apiAttemptTimeoutMs' | 'maxParallel'>>;

export class DeployBusyError extends Error {
  readonly code = 'DEPLOY_BUSY';
  constructor(
    readonly app: string,
    readonly workflowId: string,
    readonly runId: string,
  ) {
    super(
      `app ${app} already has a deployment running (workflow ${workflowId}, run ${runId}); wait for it with \`cvmflow deploy status ${app}\`, cancel it with \`cvmflow deploy cancel ${app}\`, or set ifBusy: wait in the spec`,
    );
  }
}

/** The workflow input for a spec. Env values go in sealed, never in plaintext. */
export function toDeployInput(
  spec: DeploymentSpec,
  sealedEnv: string | undefined,
  tuning: DeployTuning = {},
): DeployInput {
  const resources =
    'instanceType' in spec.resources
      ? { instanceType: spec.resources.instanceType, diskGb: spec.resources.diskGb }
      : { ...spec.resources };
  return {
    app: spec.name,
    dockerCompose: spec.compose.dockerCompose,
    preLaunchScript: spec.compose.preLaunchScript,
    allowedEnvs: allowedEnvs(spec),
    sealedEnv,
    resources,
    image: spec.image,
    kms: spec.kms,
    nodes: placementNodes(spec),
    replicas: spec.replicas,
    visibility: spec.visibility,
    timeouts: spec.timeouts,
    retry: spec.retry,
    watch: spec.watch,
    onFailure: spec.onFailure,
    ...(spec.onchain?.approval === 'external'
      ? { approval: { mode: 'external' as const, deadlineMs: spec.onchain.deadlineMs } }
      : {}),
    ...attestationCheck(spec.attestation),
    ...tuning,
  };
}

/** The attestation check a spec requires, as deploy and rollout inputs carry it; nothing when it requires none. */
export function attestationCheck(spec: AttestationSpec | undefined) {
  if (!spec?.require) return {};
  return {
    attestation: {
      ...(spec.osImages ? { osImages: spec.osImages } : {}),
      quote: spec.quote,
      timeoutMs: spec.timeoutMs,
    },
  };
}

export interface StartDeployOptions {
  client: Client;
  taskQueue: string;
  /** The codec key ring that seals env values (the worker must hold the same keys). */
  codecKeys?: CodecKey[];
  /** Where env values are read from (`fromEnv`); defaults to this process's environment. */
  env?: NodeJS.ProcessEnv;
  tuning?: DeployTuning;
  /** Called when ifBusy is `wait` and another deployment of the app is running. */
  onWaiting?: (workflowId: string) => void;
}

/** Starts the deploy workflow of a spec; one deployment per app at a time (the workflow id is the app's). */
export async function startDeploy(spec: DeploymentSpec, opts: StartDeployOptions): Promise<StartedDeploy> {
  const vars = resolveEnv(spec.env, { env: opts.env ?? process.env });
  const sealed = vars.length ? sealEnv(vars, opts.codecKeys) : undefined;
  const input = toDeployInput(spec, sealed, opts.tuning);
  const workflowId = deployWorkflowId(spec.name);
  for (;;) {
    try {
      return await opts.client.workflow.start<typeof deployCvm>('deployCvm', {
        taskQueue: opts.taskQueue,
        workflowId,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        typedSearchAttributes: [
          { key: SA_APP, value: spec.name },
          { key: SA_KIND, value: 'deploy' },
          { key: SA_PHASE, value: 'start' },
        ],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      const running = opts.client.workflow.getHandle(workflowId);
      const { runId } = await running.describe();
      if (spec.ifBusy !== 'wait') throw new DeployBusyError(spec.name, workflowId, runId);
      opts.onWaiting?.(workflowId);
      await running.result().catch(() => undefined);
    }
  }
}

export function deployHandle(client: Client, app: string): DeployHandle {
  return client.workflow.getHandle<typeof deployCvm>(deployWorkflowId(app));
}

export function getDeployStatus(client: Client, app: string): Promise<DeployStatus> {
  return deployHandle(client, app).query(deployStatusQuery);
}
/** @deprecated the older name of getDeployStatus. */
export const getDeployProgress = getDeployStatus;

/** The on-chain transaction the app's running deployment waits for (`approval: external`), or null. */
export function getPendingApproval(client: Client, app: string): Promise<PendingApproval | null> {
  return deployHandle(client, app).query(approvalQuery);
}

/** A transaction hash the deployment refused (malformed, not approving the hash, nothing pending); it keeps waiting. */
export class ApprovalRejectedError extends Error {
  readonly code = 'APPROVAL_REJECTED';
}

/**
 * Hands the hash of the owner's addComposeHash transaction to the waiting deployment. Resolves once the chain shows
 * the hash approved; throws ApprovalRejectedError with the reason otherwise (the deployment keeps waiting). `request`
 * says who hands it over and why; both are kept with the accepted approval.
 */
export async function submitApprovalTx(
  client: Client,
  app: string,
  txHash: string,
  request: AuditRequest = {},
): Promise<ApprovalAccepted> {
  return askWorkflow(
    () => deployHandle(client, app).executeUpdate(deploySubmitApprovalTxUpdate, { args: [{ txHash, ...request }] }),
    {
      refused: (reason) => new ApprovalRejectedError(reason),
      missing: () =>
        new ApprovalRejectedError(`no deployment of ${app} is running; see \`cvmflow deploy status ${app}\``),
    },
  );
}

/** There is no running deployment of the app to cancel (never deployed, or its latest run has ended). */
export class DeployNotRunningError extends Error {
  readonly code = 'DEPLOY_NOT_RUNNING';
}

/**
 * Requests cancellation of the app's running deployment; the workflow then deletes what it created and ends as
 * cancelled. The running run is named explicitly, so a deployment that ended (or was replaced) meanwhile is never
 * cancelled by mistake; a request with nothing running is refused rather than reported as done.
 */
export async function cancelDeploy(client: Client, app: string): Promise<{ workflowId: string; runId: string }> {
  const workflowId = deployWorkflowId(app);
  let description: Awaited<ReturnType<DeployHandle['describe']>>;
  try {
    description = await deployHandle(client, app).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new DeployNotRunningError(`no deployment of ${app} was found (workflow ${workflowId}); nothing to cancel`);
    throw err;
  }
  if (description.status.name !== 'RUNNING')
    throw new DeployNotRunningError(
      `no deployment of ${app} is running: the latest (run ${description.runId}) ended ${description.status.name.toLowerCase()}${description.closeTime ? ` at ${description.closeTime.toISOString()}` : ''}; nothing to cancel`,
    );
  await client.workflow.getHandle(workflowId, description.runId).cancel();
  return { workflowId, runId: description.runId };
}

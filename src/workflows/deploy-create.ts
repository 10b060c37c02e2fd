// The steps of a deploy that creates the app, in the order deploy.ts runs them: provision → register the app
// (on-chain KMS) → encrypt env → commit the first CVM → watch it run (and attest) → replicate. Each enters its phase
// first; the commit registers the compensation that deletes what the run created.
import { workflowInfo } from '@temporalio/workflow';
import type { CvmRef, ProvisionResult } from '../activities/deploy-activities';
import { Mutex, runBounded } from './concurrency';
import type { DeployRun } from './deploy-run';

/** The app this run creates: its id, and the key env values are encrypted for. */
export interface NewApp {
  plan: ProvisionResult;
  appId: string;
  publicKey?: string;
}

type SealedEnv = { encryptedEnv: string; envKeys: string[] };

/** Finds the app's CVMs: none means a create, some an update in place. */
export async function inspect(run: DeployRun): Promise<CvmRef[]> {
  run.enter('inspect');
  const existing = await run.activities.inspect.findAppCvms({ app: run.app });
  run.status.mode = existing.length ? 'update' : 'create';
  return existing;
}

/** Plans the first CVM (node, image, compose hash); nothing exists yet. */
export async function provision(run: DeployRun): Promise<ProvisionResult> {
  const { input } = run;
  run.enter('provision');
  const plan = await run.activities.provisionPlan.provisionCvm({
    app: input.app,
    dockerCompose: input.dockerCompose,
    preLaunchScript: input.preLaunchScript,
    allowedEnvs: input.allowedEnvs,
    resources: input.resources,
    image: input.image,
    kms: input.kms,
    nodeId: input.nodes[0],
    visibility: input.visibility,
  });
  run.status.composeHash = plan.composeHash;
  return plan;
}

/**
 * The app id: given by the provision (Phala's KMS), or a DstackApp contract the chain creates (on-chain KMS). The
 * registration's key is fixed by this run, so a retry (or a second worker) finds the same contract instead of
 * registering another app.
 */
export async function registerApp(run: DeployRun, plan: ProvisionResult): Promise<NewApp> {
  const { onChain } = plan;
  let app: NewApp;
  if (onChain) {
    run.enter('register');
    const { workflowId, runId } = workflowInfo();
    const registered = await run.activities.chain.registerAppOnChain({
      kmsAddress: onChain.kmsContractAddress,
      composeHash: plan.composeHash,
      deviceId: onChain.deviceId,
      idempotencyKey: `${workflowId}/${runId}/register`,
    });
    const publicKey = await run.activities.provision.kmsEnvPubkey({ kmsId: onChain.kmsId, appId: registered.appId });
    app = { plan, appId: registered.appId, publicKey };
  } else {
    app = { plan, appId: plan.appId!, publicKey: plan.encryptPubkey };
  }
  run.status.appId = app.appId;
  return app;
}

/** The spec's sealed env values, encrypted for the app's key; undefined when the spec has none. */
export async function encryptEnv(run: DeployRun, app: NewApp): Promise<SealedEnv | undefined> {
  if (!run.input.sealedEnv) return undefined;
  run.enter('encrypt');
  return run.activities.provision.encryptEnv({ sealedEnv: run.input.sealedEnv, publicKey: app.publicKey! });
}

/** Creates the first CVM. */
export async function commitFirst(run: DeployRun, app: NewApp, env: SealedEnv | undefined): Promise<CvmRef> {
  const { appId, plan } = app;
  run.enter('commit');
  // Registered before the commit: a commit that succeeded on the server but whose reply was lost still leaves a
  // CVM, and every CVM of this brand-new app id is ours to remove. (On-chain registrations stay: see README.)
  run.compensations.add(`delete every CVM of app ${appId}`, () => run.activities.rollback.deleteAppCvms({ appId }));
  const primary = await run.activities.commit.commitCvm({
    appId,
    composeHash: plan.composeHash,
    ...env,
    ...(plan.onChain ? { kmsId: plan.onChain.kmsId } : {}),
  });
  run.recordCvm({ ...primary, created: true });
  return primary;
}

/** Waits until the first CVM runs, and attests it when the spec requires it. */
export async function watchFirst(run: DeployRun, app: NewApp, primary: CvmRef): Promise<void> {
  run.enter('running');
  const first = await run.watchRunning(primary.cvmId);
  await run.attested(primary.cvmId, app.plan.composeHash);
  run.recordCvm({ ...primary, status: first.status, created: true });
}

/** Creates the other replicas (up to maxParallel at once) from the first CVM, and waits until each runs. */
export async function replicate(run: DeployRun, app: NewApp, primary: CvmRef): Promise<void> {
  const { input } = run;
  if (input.replicas <= 1) return;
  const { appId, plan } = app;
  const { replicate: api, chain } = run.activities;
  run.enter('replicate');
  const creating = new Mutex();
  const slots = Array.from({ length: input.replicas - 1 }, (_, i) => i + 1);
  await runBounded(slots, input.maxParallel ?? 5, async (slot) => {
    // Creation is serialised: a retried createReplica adopts a CVM that only it can have made, because no
    // other creation of this app is in flight (and the per-app workflow id keeps other runs out).
    const nodeId = input.nodes.length ? input.nodes[slot % input.nodes.length] : undefined;
    const replica = await creating.run(async () => {
      // An on-chain app must allow a new node's device before a CVM may boot there.
      if (plan.onChain && nodeId !== undefined && nodeId !== plan.nodeId) {
        const deviceId = await api.nodeDeviceId({ nodeId });
        await chain.addDeviceOnChain({ appId, deviceId });
      }
      return api.createReplica({
        appId,
        sourceCvmId: primary.cvmId,
        nodeId,
        knownCvmIds: run.status.cvms.map((c) => c.cvmId),
      });
    });
    run.recordCvm({ ...replica, created: true });
    const state = await run.watchRunning(replica.cvmId);
    await run.attested(replica.cvmId, plan.composeHash);
    run.recordCvm({ ...replica, status: state.status, created: true });
  });
}

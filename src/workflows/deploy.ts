// The deploy pipeline: inspect → (create: provision → [register on chain] → encrypt env → commit → watch → replicate)
//                               (update: prepare compose update → encrypt env → [approve the hash on chain] → commit
//                                → watch, per instance)
// Every step is an activity; whatever this run created or changed is undone in reverse order, in a
// non-cancellable scope, when a later step fails or the user cancels.
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createAttestationActivities } from '../activities/attestation-activities';
import type { createChainActivities } from '../activities/chain-activities';
import type { ComposeUpdateActivities } from '../activities/compose-update-activities';
import type { CvmRef, createDeployActivities } from '../activities/deploy-activities';
import { auditEntry, requestReason } from '../domain/audit-input';
import { apiOptions, chainOptions, heartbeatingWait, localApiOptions, watchOptions } from './activity-options';
import { Compensations } from './compensations';
import { type ComposeUpdateOps, restoreCompose, updateCompose } from './compose-update';
import { Mutex, runBounded } from './concurrency';
import {
  type ApprovalAccepted,
  type AttestationSummary,
  approvalQuery,
  type DeployedCvm,
  type DeployInput,
  type DeployPhase,
  type DeployResult,
  type DeployStatus,
  deployStatusQuery,
  deployStatusQueryAlias,
  deploySubmitApprovalTxUpdate,
  type PendingApproval,
  SA_PHASE,
  TX_HASH,
} from './deploy-types';
import { describeError } from './errors';
import { phaseReporter } from './observe';

type Activities = ReturnType<typeof createDeployActivities> & ComposeUpdateActivities;
type ChainActivities = ReturnType<typeof createChainActivities>;
type AttestationActivities = ReturnType<typeof createAttestationActivities>;

export async function deployCvm(input: DeployInput): Promise<DeployResult> {
  const t = input.timeouts;
  // 'lean-deploy': the inspect and the provision run as local activities (a read and a call that only caches a plan,
  // both harmless to repeat), inside the first workflow task — two round trips through the server and ten history
  // events fewer per deploy; the phase is set once per phase (bench/efficiency.ts).
  const lean = patched('lean-deploy');
  const inspect = lean
    ? proxyLocalActivities<Activities>(localApiOptions(input, t.provisionMs))
    : proxyActivities<Activities>(apiOptions(input, t.provisionMs));
  const provision = proxyActivities<Activities>(apiOptions(input, t.provisionMs));
  const provisionPlan = lean ? proxyLocalActivities<Activities>(localApiOptions(input, t.provisionMs)) : provision;
  const commit = proxyActivities<Activities>(apiOptions(input, t.commitMs));
  const replicate = proxyActivities<Activities>(apiOptions(input, t.replicateMs));
  const watch = proxyActivities<Activities>(watchOptions(input, t.runningMs));
  const rollback = proxyActivities<Activities>(apiOptions(input, t.rollbackMs));
  const chainOps = proxyActivities<ChainActivities>(chainOptions(input, t.commitMs));
  const attest = proxyActivities<AttestationActivities>(
    heartbeatingWait(input.attestation?.timeoutMs ?? 0, input.heartbeatTimeoutMs ?? 20_000),
  );

  const progress: DeployStatus = { app: input.app, phase: 'start', cvms: [], timingsMs: {} };
  setHandler(deployStatusQuery, () => progress);
  setHandler(deployStatusQueryAlias, () => progress);
  const compensations = new Compensations();

  let phaseStartedAt = Date.now();
  const announce = phaseReporter();
  const enter = (phase: DeployPhase) => {
    const now = Date.now();
    if (progress.phase !== 'start')
      progress.timingsMs[progress.phase] = (progress.timingsMs[progress.phase] ?? 0) + now - phaseStartedAt;
    phaseStartedAt = now;
    progress.phase = phase;
    upsertSearchAttributes([{ key: SA_PHASE, value: phase }]);
    announce(phase);
  };
  const watchRunning = (cvmId: string, expectComposeHash?: string) =>
    watch.watchCvm({
      cvmId,
      target: 'running',
      timeoutMs: t.runningMs,
      intervalS: input.watch.intervalS,
      timeoutS: input.watch.timeoutS,
      expectComposeHash,
    });
  // Evidence of the CVMs that passed the attestation gate, by CVM id.
  const attestations = new Map<string, AttestationSummary>();
  /**
   * When the spec requires it, a running CVM must also prove it runs `composeHash` (src/attestation); a refusal
   * fails this step like a CVM that never ran. Only specs that ask reach patched(), so older histories replay as
   * they ran.
   */
  async function attested(cvmId: string, composeHash: string): Promise<void> {
    const gate = input.attestation;
    if (!gate || !patched('attestation-gate')) return;
    const v = await attest.verifyAttestation({
      cvmId,
      composeHash,
      appId: progress.appId,
      osImages: gate.osImages,
      quote: gate.quote,
      timeoutMs: gate.timeoutMs,
      onChainApp: input.kms !== 'phala',
    });
    attestations.set(cvmId, {
      composeHash: v.composeHash,
      registers: v.registers,
      quoteDigest: v.quoteDigest,
      quoteVerified: v.quoteVerified,
      quoteStatus: v.quoteStatus,
      checks: v.checks.length,
    });
    log.info('attestation accepted', { cvmId, composeHash, quoteStatus: v.quoteStatus });
  }
  const watchRunningAttested = async (cvmId: string, composeHash: string) => {
    const state = await watchRunning(cvmId, composeHash);
    await attested(cvmId, composeHash);
    return state;
  };
  // External approval (`approval: external`): what the owner must send, and the transaction that did it.
  let pendingApproval: PendingApproval | null = null;
  let accepted: ApprovalAccepted | undefined;
  let verifying: string | undefined;
  setHandler(approvalQuery, () => pendingApproval);
  setHandler(
    deploySubmitApprovalTxUpdate,
    async (req): Promise<ApprovalAccepted> => {
      const { txHash } = req;
      const pending = pendingApproval!;
      verifying = txHash;
      try {
        const ok = await chainOps.verifyComposeHashApproval({
          appId: pending.appId,
          composeHash: pending.composeHash,
          txHash,
        });
        accepted = {
          txHash: ok.txHash,
          blockNumber: ok.blockNumber,
          composeHash: pending.composeHash,
          ...auditEntry(req, false, Date.now()),
        };
        return accepted;
      } catch (err) {
        const reason = describeError(err);
        pending.rejected.push({ txHash, reason });
        throw ApplicationFailure.create({ type: 'ApprovalRejected', nonRetryable: true, message: reason });
      } finally {
        verifying = undefined;
      }
    },
    {
      validator: (req) => {
        const txHash: unknown = req?.txHash;
        if (typeof txHash !== 'string' || !TX_HASH.test(txHash))
          throw new Error(
            `not a transaction hash: expected 0x followed by 64 hex digits, got ${JSON.stringify(String(txHash)).slice(0, 80)}`,
          );
        if (!pendingApproval || accepted)
          throw new Error(`deploy of ${input.app} is not waiting for an on-chain approval (phase ${progress.phase})`);
        if (verifying) throw new Error(`transaction ${verifying} is being verified; wait for its answer`);
        requestReason(req, false);
      },
    },
  );
  const approvedHashes = new Set<string>();

  /** The owner sends addComposeHash (a multisig, another key); the deploy waits for its hash, checks it, goes on. */
  async function externalApproval(appId: string, composeHash: string, deadlineMs: number): Promise<void> {
    const request = await chainOps.composeHashApprovalRequest({ appId, composeHash });
    if (request.allowed) return;
    const now = Date.now();
    accepted = undefined;
    pendingApproval = {
      app: input.app,
      appId: request.contract,
      chainId: request.chainId,
      contract: request.contract,
      function: 'addComposeHash(bytes32)',
      args: [request.composeHash],
      calldata: request.calldata,
      composeHash: request.composeHash,
      owner: request.owner,
      requestedAt: new Date(now).toISOString(),
      deadline: new Date(now + deadlineMs).toISOString(),
      rejected: [],
    };
    log.info('waiting for an on-chain approval', { app: input.app, appId, composeHash, owner: request.owner });
    try {
      const inTime = await condition(() => accepted !== undefined, deadlineMs);
      // A hash handed over before the deadline is still being checked: its answer decides.
      if (!inTime) await condition(() => verifying === undefined);
      // Set by the update handler while this function waited (TypeScript cannot see that).
      const approved = accepted as ApprovalAccepted | undefined;
      if (approved) {
        log.info('on-chain approval accepted', { app: input.app, txHash: approved.txHash });
        return;
      }
      const rejected = pendingApproval.rejected.length
        ? ` (${pendingApproval.rejected.length} submitted transaction(s) rejected, last: ${pendingApproval.rejected.at(-1)!.reason})`
        : '';
      throw ApplicationFailure.create({
        type: 'ApprovalDeadline',
        nonRetryable: true,
        message: `no transaction approving compose hash ${request.composeHash} on app ${request.contract} arrived by the deadline ${pendingApproval.deadline}${rejected}`,
      });
    } finally {
      pendingApproval = null;
    }
  }

  /** The new compose hash must be on the app's on-chain allow-list before the KMS lets a CVM boot it. */
  async function approveComposeHash(appId: string, composeHash: string): Promise<void> {
    if (approvedHashes.has(composeHash)) return;
    enter('approve');
    if (input.approval?.mode === 'external') await externalApproval(appId, composeHash, input.approval.deadlineMs);
    else await chainOps.addComposeHashOnChain({ appId, composeHash });
    approvedHashes.add(composeHash);
    enter('update');
  }

  const record = (entry: DeployedCvm) => {
    const evidence = attestations.get(entry.cvmId);
    const cvm = evidence ? { ...entry, attestation: evidence } : entry;
    const i = progress.cvms.findIndex((c) => c.cvmId === cvm.cvmId);
    if (i >= 0) progress.cvms[i] = cvm;
    else progress.cvms.push(cvm);
  };

  async function create(): Promise<void> {
    enter('provision');
    const provisioned = await provisionPlan.provisionCvm({
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
    progress.composeHash = provisioned.composeHash;
    const onChain = provisioned.onChain;
    let appId: string;
    let publicKey: string | undefined;
    if (onChain) {
      // On-chain KMS: the app is a DstackApp contract the chain creates; the key is fixed by this run, so a retry
      // (or a second worker) finds the same contract instead of registering another app.
      enter('register');
      const { workflowId, runId } = workflowInfo();
      const registered = await chainOps.registerAppOnChain({
        kmsAddress: onChain.kmsContractAddress,
        composeHash: provisioned.composeHash,
        deviceId: onChain.deviceId,
        idempotencyKey: `${workflowId}/${runId}/register`,
      });
      appId = registered.appId;
      publicKey = await provision.kmsEnvPubkey({ kmsId: onChain.kmsId, appId });
    } else {
      appId = provisioned.appId!;
      publicKey = provisioned.encryptPubkey;
    }
    progress.appId = appId;

    let env: { encryptedEnv: string; envKeys: string[] } | undefined;
    if (input.sealedEnv) {
      enter('encrypt');
      env = await provision.encryptEnv({ sealedEnv: input.sealedEnv, publicKey: publicKey! });
    }

    enter('commit');
    // Registered before the commit: a commit that succeeded on the server but whose reply was lost still leaves a
    // CVM, and every CVM of this brand-new app id is ours to remove. (On-chain registrations stay: see README.)
    compensations.add(`delete every CVM of app ${appId}`, () => rollback.deleteAppCvms({ appId }));
    const primary = await commit.commitCvm({
      appId,
      composeHash: provisioned.composeHash,
      ...env,
      ...(onChain ? { kmsId: onChain.kmsId } : {}),
    });
    record({ ...primary, created: true });

    enter('running');
    const first = await watchRunning(primary.cvmId);
    await attested(primary.cvmId, provisioned.composeHash);
    record({ ...primary, status: first.status, created: true });

    if (input.replicas > 1) {
      enter('replicate');
      const creating = new Mutex();
      const slots = Array.from({ length: input.replicas - 1 }, (_, i) => i + 1);
      await runBounded(slots, input.maxParallel ?? 5, async (slot) => {
        // Creation is serialised: a retried createReplica adopts a CVM that only it can have made, because no
        // other creation of this app is in flight (and the per-app workflow id keeps other runs out).
        const nodeId = input.nodes.length ? input.nodes[slot % input.nodes.length] : undefined;
        const replica = await creating.run(async () => {
          // An on-chain app must allow a new node's device before a CVM may boot there.
          if (onChain && nodeId !== undefined && nodeId !== provisioned.nodeId) {
            const deviceId = await replicate.nodeDeviceId({ nodeId });
            await chainOps.addDeviceOnChain({ appId, deviceId });
          }
          return replicate.createReplica({
            appId,
            sourceCvmId: primary.cvmId,
            nodeId,
            knownCvmIds: progress.cvms.map((c) => c.cvmId),
          });
        });
        record({ ...replica, created: true });
        const state = await watchRunning(replica.cvmId);
        await attested(replica.cvmId, provisioned.composeHash);
        record({ ...replica, status: state.status, created: true });
      });
    }
  }

  async function update(existing: CvmRef[]): Promise<void> {
    // Runs started before the one compose-update path (shared with rollouts) go on through the old steps.
    if (patched('one-compose-update')) return await updateEach(existing);
    enter('update');
    progress.appId = existing[0]!.appId;
    for (const cvm of existing) {
      const prepared = await provision.prepareComposeUpdate({
        cvmId: cvm.cvmId,
        dockerCompose: input.dockerCompose,
        preLaunchScript: input.preLaunchScript,
        allowedEnvs: input.allowedEnvs,
        visibility: input.visibility,
      });
      progress.composeHash = prepared.composeHash;
      progress.previousComposeHash ??= prepared.previousComposeHash;
      if (prepared.composeHash === prepared.previousComposeHash && !input.sealedEnv) {
        record({ ...cvm, created: false });
        continue;
      }
      const env = input.sealedEnv
        ? await provision.encryptEnv({ sealedEnv: input.sealedEnv, publicKey: prepared.encryptPubkey })
        : undefined;
      // Histories recorded before on-chain updates were approved here go on as they ran.
      if (
        prepared.onChain &&
        prepared.composeHash !== prepared.previousComposeHash &&
        patched('onchain-compose-approval')
      )
        await approveComposeHash(prepared.onChain.appId, prepared.composeHash);
      compensations.add(`restore compose ${prepared.previousComposeHash.slice(0, 12)} on ${cvm.cvmId}`, async () => {
        const restored = await rollback.restoreCompose({
          cvmId: cvm.cvmId,
          appCompose: prepared.previousAppCompose,
          previousComposeHash: prepared.previousComposeHash,
        });
        if (restored.changed) await watchRunning(cvm.cvmId, restored.composeHash);
        return restored.changed ? [cvm.cvmId] : [];
      });
      await commit.commitComposeUpdate({ cvmId: cvm.cvmId, composeHash: prepared.composeHash, ...env });
      const state = await watchRunning(cvm.cvmId, prepared.composeHash);
      record({ ...cvm, status: state.status, created: false });
    }
  }

  /** Each CVM of the app through the compose-update step rollouts use too (src/workflows/compose-update.ts). */
  async function updateEach(existing: CvmRef[]): Promise<void> {
    enter('update');
    progress.appId = existing[0]!.appId;
    const ops: ComposeUpdateOps = {
      prepare: provision.composePrepare,
      encryptEnv: provision.encryptEnv,
      approve: approveComposeHash,
      commit: commit.composeCommit,
      watchRunning: async (cvmId, composeHash) => {
        await watchRunningAttested(cvmId, composeHash);
      },
    };
    // A restored compose is the one the CVM ran before: no gate there (rolling back must not wait on it).
    const watchRestored = async (cvmId: string, composeHash: string) => {
      await watchRunning(cvmId, composeHash);
    };
    const change = {
      dockerCompose: input.dockerCompose,
      preLaunchScript: input.preLaunchScript,
      allowedEnvs: input.allowedEnvs,
      visibility: input.visibility,
    };
    for (const cvm of existing) {
      const outcome = await updateCompose(
        ops,
        { cvmId: cvm.cvmId, change, sealedEnv: input.sealedEnv },
        {
          prepared: (p) => {
            progress.composeHash = p.composeHash;
            progress.previousComposeHash ??= p.previousComposeHash;
          },
          changing: (p) =>
            compensations.add(`restore compose ${p.previousComposeHash.slice(0, 12)} on ${cvm.cvmId}`, async () => {
              const r = await restoreCompose(
                { restore: rollback.composeRestore, watchRunning: watchRestored },
                {
                  cvmId: cvm.cvmId,
                  restore: p.restore,
                  previousComposeHash: p.previousComposeHash,
                  updateComposeHash: p.composeHash,
                  wasRunning: p.status === 'running',
                },
              );
              if (r.outcome === 'diverged')
                return [`${cvm.cvmId} left alone: it runs compose ${r.composeHash.slice(0, 12)}, set by someone else`];
              return r.outcome === 'reverted' ? [cvm.cvmId] : [];
            }),
        },
      );
      record({ ...cvm, ...(outcome.kind === 'updated' ? { status: 'running' } : {}), created: false });
    }
  }

  // Before 'lean-deploy' the phase was set twice here (this and enter('inspect') below).
  if (!lean) upsertSearchAttributes([{ key: SA_PHASE, value: 'inspect' }]);
  try {
    await CancellationScope.cancellable(async () => {
      enter('inspect');
      const existing = await inspect.findAppCvms({ app: input.app });
      progress.mode = existing.length ? 'update' : 'create';
      if (existing.length) await update(existing);
      else await create();
    });
  } catch (err) {
    const failedPhase = progress.phase;
    const cause = describeError(err);
    progress.lastError = `${failedPhase}: ${cause}`;
    let cleaned: string[] = [];
    if (input.onFailure === 'rollback' || isCancellation(err)) {
      enter('rollback');
      cleaned = await CancellationScope.nonCancellable(() => compensations.run());
      progress.cleanedUp = cleaned;
    }
    enter('failed');
    if (isCancellation(err)) throw err;
    const what =
      input.onFailure === 'keep'
        ? 'kept everything for debugging (onFailure: keep)'
        : cleaned.length
          ? `rolled back: ${cleaned.join('; ')}`
          : 'nothing to roll back';
    throw ApplicationFailure.create({
      type: 'DeployFailed',
      nonRetryable: true,
      message: `deploy of ${input.app} failed in phase ${failedPhase}: ${cause}; ${what}`,
      details: [{ phase: failedPhase, cleanedUp: cleaned }],
    });
  }

  enter('done');
  log.info('deploy finished', { app: input.app, appId: progress.appId, cvms: progress.cvms.length });
  return {
    app: input.app,
    appId: progress.appId!,
    composeHash: progress.composeHash!,
    mode: progress.mode!,
    previousComposeHash: progress.previousComposeHash,
    cvms: progress.cvms,
    timingsMs: progress.timingsMs,
  };
}

// A deploy of an app that exists: each of its CVMs, one after another, through the compose-update step rollouts use
// too (compose-update.ts): prepare → encrypt env → approve the hash on chain (deploy-approval.ts) → commit → watch
// (and attest). Before each commit, a compensation that restores the CVM's previous compose is registered.
// Runs started before 'one-compose-update' go on through the older steps (updateEachLegacy).
import { patched } from '@temporalio/workflow';
import type { CvmRef } from '../activities/deploy-activities';
import { type ComposeUpdateOps, restoreCompose, updateCompose } from './compose-update';
import { approveComposeHash } from './deploy-approval';
import type { DeployRun } from './deploy-run';

export async function updateInPlace(run: DeployRun, existing: CvmRef[]): Promise<void> {
  if (run.patchesFirst || patched('one-compose-update')) return await updateEach(run, existing);
  await updateEachLegacy(run, existing);
}

async function updateEach(run: DeployRun, existing: CvmRef[]): Promise<void> {
  const { input, activities: act, status } = run;
  run.enter('update');
  status.appId = existing[0]!.appId;
  const ops: ComposeUpdateOps = {
    prepare: act.provision.composePrepare,
    encryptEnv: act.provision.encryptEnv,
    approve: (appId, composeHash) => approveComposeHash(run, appId, composeHash),
    commit: act.commit.composeCommit,
    watchRunning: async (cvmId, composeHash) => {
      await run.watchRunningAttested(cvmId, composeHash);
    },
  };
  // A restored compose is the one the CVM ran before: no gate there (rolling back must not wait on it).
  const watchRestored = async (cvmId: string, composeHash: string) => {
    await run.watchRunning(cvmId, composeHash);
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
          status.composeHash = p.composeHash;
          status.previousComposeHash ??= p.previousComposeHash;
        },
        changing: (p) =>
          run.compensations.add(`restore compose ${p.previousComposeHash.slice(0, 12)} on ${cvm.cvmId}`, async () => {
            const r = await restoreCompose(
              { restore: act.rollback.composeRestore, watchRunning: watchRestored },
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
    run.recordCvm({ ...cvm, ...(outcome.kind === 'updated' ? { status: 'running' } : {}), created: false });
  }
}

/** The update steps before 'one-compose-update', kept for the runs (and recorded histories) that started with them. */
async function updateEachLegacy(run: DeployRun, existing: CvmRef[]): Promise<void> {
  const { input, activities: act, status } = run;
  run.enter('update');
  status.appId = existing[0]!.appId;
  for (const cvm of existing) {
    const prepared = await act.provision.prepareComposeUpdate({
      cvmId: cvm.cvmId,
      dockerCompose: input.dockerCompose,
      preLaunchScript: input.preLaunchScript,
      allowedEnvs: input.allowedEnvs,
      visibility: input.visibility,
    });
    status.composeHash = prepared.composeHash;
    status.previousComposeHash ??= prepared.previousComposeHash;
    if (prepared.composeHash === prepared.previousComposeHash && !input.sealedEnv) {
      run.recordCvm({ ...cvm, created: false });
      continue;
    }
    const env = input.sealedEnv
      ? await act.provision.encryptEnv({ sealedEnv: input.sealedEnv, publicKey: prepared.encryptPubkey })
      : undefined;
    // Histories recorded before on-chain updates were approved here go on as they ran.
    if (
      prepared.onChain &&
      prepared.composeHash !== prepared.previousComposeHash &&
      patched('onchain-compose-approval')
    )
      await approveComposeHash(run, prepared.onChain.appId, prepared.composeHash);
    run.compensations.add(`restore compose ${prepared.previousComposeHash.slice(0, 12)} on ${cvm.cvmId}`, async () => {
      const restored = await act.rollback.restoreCompose({
        cvmId: cvm.cvmId,
        appCompose: prepared.previousAppCompose,
        previousComposeHash: prepared.previousComposeHash,
      });
      if (restored.changed) await run.watchRunning(cvm.cvmId, restored.composeHash);
      return restored.changed ? [cvm.cvmId] : [];
    });
    await act.commit.commitComposeUpdate({ cvmId: cvm.cvmId, composeHash: prepared.composeHash, ...env });
    const state = await run.watchRunning(cvm.cvmId, prepared.composeHash);
    run.recordCvm({ ...cvm, status: state.status, created: false });
  }
}

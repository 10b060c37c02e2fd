// A CVM's turn in a rollout wave: jitter, then the update through the compose-update step deploy updates use
// (compose-update.ts: prepare → approve the hash on chain → commit → watch until it runs the new hash), then the
// health gate (and the attestation gate when the spec asks). With autoRevert, a CVM that fails goes back at once
// (rollout-app-revert.ts); in revert mode the turn is the revert alone. Runs started before 'one-compose-update'
// update through the older steps (updateLegacy).
import { ApplicationFailure, CancellationScope, isCancellation, patched, sleep } from '@temporalio/workflow';
import { updateCompose } from './compose-update';
import { describeError } from './errors';
import { revert } from './rollout-app-revert';
import type { RolloutAppRun } from './rollout-app-run';
import type { CvmRecord } from './rollout-types';

const NOT_RUNNING = (status: string) =>
  `was ${status}, not running, when its turn came: its health cannot be checked; start it and roll out again`;

export async function turn(run: RolloutAppRun, c: CvmRecord): Promise<void> {
  const { input } = run;
  try {
    if (run.revertMode) {
      await CancellationScope.nonCancellable(() => revert(run, c, c.reason ?? 'reverted by the rollout'));
      return;
    }
    if (input.jitterMs > 0) await sleep(Math.floor(Math.random() * input.jitterMs));
    await (run.shared ? update(run, c) : updateLegacy(run, c));
  } catch (err) {
    if (isCancellation(err) && c.state === 'pending') return;
    c.state = 'failed';
    c.reason = isCancellation(err)
      ? 'cancelled while in progress (wave deadline, or deploy-<app> cancelled)'
      : describeError(err);
    run.failures++;
    // A cancelled run leaves reverts to the rollout, which reverts everything it changed at once.
    if (input.autoRevert && !isCancellation(err) && c.restore !== undefined)
      await CancellationScope.nonCancellable(() => revert(run, c, c.reason!));
  } finally {
    c.endedAtMs = Date.now();
  }
}

/** One CVM through the compose-update step deploy updates use too, then the health gate. */
async function update(run: RolloutAppRun, c: CvmRecord): Promise<void> {
  c.state = 'updating';
  c.startedAtMs = Date.now();
  const deadlineMs = c.startedAtMs + run.input.cvmDeadlineMs;
  const v = run.input.version;
  const { api } = run;
  const outcome = await updateCompose(
    {
      prepare: api.composePrepare,
      encryptEnv: api.encryptEnv,
      approve: run.approve,
      commit: api.composeCommit,
      watchRunning: (cvmId, composeHash) => run.watchRunning(cvmId, composeHash, deadlineMs),
    },
    {
      cvmId: c.cvmId,
      change: { dockerCompose: v.dockerCompose, preLaunchScript: v.preLaunchScript, allowedEnvs: v.allowedEnvs },
      sealedEnv: v.sealedEnv,
      onlyIfRunning: true,
    },
    {
      prepared: (p) => {
        c.from = p.previousComposeHash;
        c.to = p.composeHash;
      },
      changing: (p) => run.keepRestore(c, p.restoreKey, p.restore),
    },
  );
  if (outcome.kind === 'not-running') {
    c.state = 'skipped';
    c.reason = NOT_RUNNING(outcome.prepared.status);
    return;
  }
  if (outcome.kind === 'unchanged') {
    c.state = 'already';
    return;
  }
  await healthGate(run, c, deadlineMs);
}

/** The CVM must stay healthy for minHealthy (and answer its HTTP check), then attest the new compose if asked. */
async function healthGate(run: RolloutAppRun, c: CvmRecord, deadlineMs: number): Promise<void> {
  const h = run.input.health;
  if (h.minHealthyMs > 0 || h.http) {
    await run.longRunning(deadlineMs - Date.now()).rolloutHealthGate({
      cvmId: c.cvmId,
      app: c.app,
      appId: c.appId,
      minHealthyMs: h.minHealthyMs,
      http: h.http,
      deadlineMs,
      pollMs: run.tuning.healthPollMs,
    });
  }
  // Only rollouts whose spec asks reach patched(), so older histories replay as they ran.
  if (h.attestation && c.to && patched('attestation-gate')) {
    const waitMs = Math.max(1, Math.min(h.attestation.timeoutMs, deadlineMs - Date.now()));
    const v = await run.attestation(waitMs).verifyAttestation({
      cvmId: c.cvmId,
      composeHash: c.to,
      appId: c.appId,
      osImages: h.attestation.osImages,
      quote: h.attestation.quote,
      timeoutMs: waitMs,
    });
    c.attested = `compose ${v.composeHash}, rtmr3 ${v.registers?.rtmr3.slice(0, 24)}…, quote ${v.quoteStatus}`;
  }
  c.state = 'healthy';
  c.reason = undefined;
}

/** The update steps before the one compose-update path, kept for the runs (and histories) that started with them. */
async function updateLegacy(run: RolloutAppRun, c: CvmRecord): Promise<void> {
  c.state = 'updating';
  c.startedAtMs = Date.now();
  const deadlineMs = c.startedAtMs + run.input.cvmDeadlineMs;
  const v = run.input.version;
  const { api } = run;
  const prepared = await api.rolloutPrepare({
    cvmId: c.cvmId,
    dockerCompose: v.dockerCompose,
    preLaunchScript: v.preLaunchScript,
    allowedEnvs: v.allowedEnvs,
  });
  if (prepared.status !== 'running') {
    c.state = 'skipped';
    c.reason = NOT_RUNNING(prepared.status);
    return;
  }
  c.from = prepared.previousComposeHash;
  c.to = prepared.composeHash;
  if (prepared.composeHash === prepared.previousComposeHash && !v.sealedEnv) {
    c.state = 'already';
    return;
  }
  run.keepRestore(c, prepared.restoreKey, prepared.restore);
  let env: { encryptedEnv: string; envKeys: string[] } | undefined;
  if (v.sealedEnv) {
    if (!prepared.encryptPubkey)
      throw ApplicationFailure.nonRetryable(`CVM ${c.cvmId} reports no env encryption public key`, 'InvalidInput');
    env = await api.encryptEnv({ sealedEnv: v.sealedEnv, publicKey: prepared.encryptPubkey });
  }
  await api.rolloutCommit({
    cvmId: c.cvmId,
    composeHash: prepared.composeHash,
    previousComposeHash: prepared.previousComposeHash,
    ...env,
  });
  await run.watchRunning(c.cvmId, prepared.composeHash, deadlineMs);
  await healthGate(run, c, deadlineMs);
}

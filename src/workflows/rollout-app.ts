// One app's share of a rollout wave, as a child workflow that runs under the app's deployment id, `deploy-<app>`:
// running it *is* holding the app's lock. `cvmflow deploy`, other rollouts and power schedules all see a running
// `deploy-<app>` and keep off, and the wave cannot start it while anyone else holds it, so the lock cannot race.
// It updates its CVMs (or, in revert mode, puts them back) at most `concurrency` at a time, each through the compose
// update step deploy updates use (src/workflows/compose-update.ts: prepare → approve the hash on chain → commit →
// watch until running with the new compose hash), then the health gate; with autoRevert a CVM that fails goes back
// to its previous compose at once. It answers the deploy workflow's status query, so
// `cvmflow deploy status <app>` shows what the rollout is doing to the app.
import {
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { createAttestationActivities } from '../activities/attestation-activities';
import type { createChainActivities } from '../activities/chain-activities';
import type { ComposeUpdateActivities } from '../activities/compose-update-activities';
import type { createDeployActivities } from '../activities/deploy-activities';
import type { RolloutActivities } from '../activities/rollout-activities';
import { apiCall, heartbeatingCall, heartbeatingWait } from './activity-options';
import { approvalOncePerHash, restoreCompose, updateCompose } from './compose-update';
import { type DeployStatus, deployStatusQueryAlias } from './deploy-types';
import { describeError } from './errors';
import { needsRevert } from './rollout-plan';
import {
  type AppInput,
  type AppResult,
  type CvmRecord,
  type RestorePatch,
  rolloutAppStatusQuery,
  rolloutAppStatusQueryAlias,
  type WaveControl,
  waveControlSignal,
} from './rollout-types';

type Activities = ReturnType<typeof createDeployActivities> & RolloutActivities & ComposeUpdateActivities;
type ChainActivities = ReturnType<typeof createChainActivities>;
type AttestationActivities = ReturnType<typeof createAttestationActivities>;

const DEFAULTS = {
  apiAttemptTimeoutMs: 30_000,
  heartbeatTimeoutMs: 20_000,
  healthPollMs: 1000,
  watch: { intervalS: 5, timeoutS: 300 },
};

export async function rolloutApp(input: AppInput): Promise<AppResult> {
  // Runs started before the one compose-update path (shared with deploy updates) go on through the old steps.
  const shared = patched('one-compose-update');
  const tuning = { ...DEFAULTS, ...input.tuning, watch: input.tuning.watch ?? DEFAULTS.watch };
  const revertMode = input.mode === 'revert';
  const cvms = input.cvms.map((c) => ({ ...c }));
  const restores: Record<string, RestorePatch> = { ...input.restores };
  const newRestores: Record<string, RestorePatch> = {};
  const known = new Set(input.knownRestoreKeys);
  let control: WaveControl = input.control;
  let failures = 0;
  let cancelled = false;

  setHandler(waveControlSignal, (next) => {
    control = next;
  });
  // It runs under the app's deployment id: `status` (and deploy's older `progress`) answer as a deploy would.
  const deployView = (): DeployStatus => ({
    app: input.app,
    phase: 'update',
    mode: 'update',
    ...(cvms[0] ? { appId: cvms[0].appId } : {}),
    cvms: cvms.map((c) => ({
      cvmId: c.cvmId,
      nodeId: null,
      status: `rollout ${input.rolloutId}: ${c.state}`,
      created: false,
    })),
    timingsMs: {},
  });
  setHandler(rolloutAppStatusQuery, () => ({
    ...deployView(),
    rollout: { rolloutId: input.rolloutId, wave: input.wave, mode: input.mode, cvms },
  }));
  setHandler(deployStatusQueryAlias, deployView);
  setHandler(rolloutAppStatusQueryAlias, () => cvms);

  const api = proxyActivities<Activities>(apiCall(tuning.apiAttemptTimeoutMs));
  const longRunning = (ms: number) => proxyActivities<Activities>(heartbeatingWait(ms, tuning.heartbeatTimeoutMs));

  async function watchRunning(cvmId: string, composeHash: string, deadlineMs: number): Promise<void> {
    const timeoutMs = Math.max(1, deadlineMs - Date.now());
    await longRunning(timeoutMs).watchCvm({
      cvmId,
      target: 'running',
      timeoutMs,
      intervalS: tuning.watch.intervalS,
      timeoutS: tuning.watch.timeoutS,
      expectComposeHash: composeHash,
    });
  }

  // A write waits for its confirmations, up to the CVM's deadline.
  const chainOps = proxyActivities<ChainActivities>(
    heartbeatingCall(Math.max(input.cvmDeadlineMs, tuning.apiAttemptTimeoutMs), tuning.heartbeatTimeoutMs),
  );
  // The rollout refused at its start the apps whose owner is not the worker's key (rollout.ts): the worker approves.
  const approve = approvalOncePerHash(async (appId, composeHash) => {
    await chainOps.addComposeHashOnChain({ appId, composeHash });
  });

  /** One CVM through the compose-update step deploy updates use too (src/workflows/compose-update.ts). */
  async function updateShared(c: CvmRecord): Promise<void> {
    c.state = 'updating';
    c.startedAtMs = Date.now();
    const deadlineMs = c.startedAtMs + input.cvmDeadlineMs;
    const v = input.version;
    const outcome = await updateCompose(
      {
        prepare: api.composePrepare,
        encryptEnv: api.encryptEnv,
        approve,
        commit: api.composeCommit,
        watchRunning: (cvmId, composeHash) => watchRunning(cvmId, composeHash, deadlineMs),
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
        // From here on the CVM may change, so it is revertable: the restore patch is recorded before the commit.
        changing: (p) => {
          c.restore = p.restoreKey;
          if (!(p.restoreKey in restores)) {
            restores[p.restoreKey] = p.restore;
            if (!known.has(p.restoreKey)) newRestores[p.restoreKey] = p.restore;
          }
        },
      },
    );
    if (outcome.kind === 'not-running') {
      c.state = 'skipped';
      c.reason = `was ${outcome.prepared.status}, not running, when its turn came: its health cannot be checked; start it and roll out again`;
      return;
    }
    if (outcome.kind === 'unchanged') {
      c.state = 'already';
      return;
    }
    await healthGate(c, deadlineMs);
  }

  async function healthGate(c: CvmRecord, deadlineMs: number): Promise<void> {
    const h = input.health;
    if (h.minHealthyMs > 0 || h.http) {
      await longRunning(deadlineMs - Date.now()).rolloutHealthGate({
        cvmId: c.cvmId,
        app: c.app,
        appId: c.appId,
        minHealthyMs: h.minHealthyMs,
        http: h.http,
        deadlineMs,
        pollMs: tuning.healthPollMs,
      });
    }
    // Only rollouts whose spec asks reach patched(), so older histories replay as they ran.
    if (h.attestation && c.to && patched('attestation-gate')) {
      const waitMs = Math.max(1, Math.min(h.attestation.timeoutMs, deadlineMs - Date.now()));
      const v = await proxyActivities<AttestationActivities>(
        heartbeatingWait(waitMs, tuning.heartbeatTimeoutMs),
      ).verifyAttestation({
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

  /** Before the one compose-update path (runs that started without the patch marker). */
  async function update(c: CvmRecord): Promise<void> {
    c.state = 'updating';
    c.startedAtMs = Date.now();
    const deadlineMs = c.startedAtMs + input.cvmDeadlineMs;
    const v = input.version;
    const prepared = await api.rolloutPrepare({
      cvmId: c.cvmId,
      dockerCompose: v.dockerCompose,
      preLaunchScript: v.preLaunchScript,
      allowedEnvs: v.allowedEnvs,
    });
    if (prepared.status !== 'running') {
      c.state = 'skipped';
      c.reason = `was ${prepared.status}, not running, when its turn came: its health cannot be checked; start it and roll out again`;
      return;
    }
    c.from = prepared.previousComposeHash;
    c.to = prepared.composeHash;
    if (prepared.composeHash === prepared.previousComposeHash && !v.sealedEnv) {
      c.state = 'already';
      return;
    }
    // From here on the CVM may change, so it is revertable: the restore patch is recorded before the commit.
    c.restore = prepared.restoreKey;
    if (!(prepared.restoreKey in restores)) {
      restores[prepared.restoreKey] = prepared.restore;
      if (!known.has(prepared.restoreKey)) newRestores[prepared.restoreKey] = prepared.restore;
    }
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
    await watchRunning(c.cvmId, prepared.composeHash, deadlineMs);
    await healthGate(c, deadlineMs);
  }

  async function revert(c: CvmRecord, why: string): Promise<void> {
    const patch = c.restore === undefined ? undefined : restores[c.restore];
    if (!patch || c.from === undefined || c.to === undefined) {
      c.state = 'revert-failed';
      c.reason = `${why}; no restore data recorded`;
      return;
    }
    c.state = 'reverting';
    const deadlineMs = Date.now() + input.cvmDeadlineMs;
    try {
      if (shared) {
        // Rollouts update running CVMs only, so each was running before.
        const r = await restoreCompose(
          { restore: api.composeRestore, watchRunning: (id, hash) => watchRunning(id, hash, deadlineMs) },
          { cvmId: c.cvmId, restore: patch, previousComposeHash: c.from, updateComposeHash: c.to, wasRunning: true },
        );
        if (r.outcome === 'diverged') {
          c.state = 'diverged';
          c.reason = `${why}; now on compose ${r.composeHash.slice(0, 12)}, changed by someone else since the rollout: left alone`;
          return;
        }
        c.state = 'reverted';
        c.reason = `${why}; back on ${c.from.slice(0, 12)}`;
        return;
      }
      const r = await api.rolloutRevert({
        cvmId: c.cvmId,
        restore: patch,
        previousComposeHash: c.from,
        rolloutComposeHash: c.to,
      });
      if (r.outcome === 'diverged') {
        c.state = 'diverged';
        c.reason = `${why}; now on compose ${r.composeHash.slice(0, 12)}, changed by someone else since the rollout: left alone`;
        return;
      }
      if (r.outcome === 'reverted' || r.started) await watchRunning(c.cvmId, c.from, deadlineMs);
      c.state = 'reverted';
      c.reason = `${why}; back on ${c.from.slice(0, 12)}`;
    } catch (err) {
      c.state = 'revert-failed';
      c.reason = `${why}; revert failed: ${describeError(err)}`;
    }
  }

  /** One CVM's turn in its slot: jitter, then the update (with autoRevert, the revert of a failure) or the revert. */
  async function turn(c: CvmRecord): Promise<void> {
    try {
      if (revertMode) {
        await CancellationScope.nonCancellable(() => revert(c, c.reason ?? 'reverted by the rollout'));
        return;
      }
      if (input.jitterMs > 0) await sleep(Math.floor(Math.random() * input.jitterMs));
      await (shared ? updateShared(c) : update(c));
    } catch (err) {
      if (isCancellation(err) && c.state === 'pending') return;
      c.state = 'failed';
      c.reason = isCancellation(err)
        ? 'cancelled while in progress (wave deadline, or deploy-<app> cancelled)'
        : describeError(err);
      failures++;
      // A cancelled run leaves reverts to the rollout, which reverts everything it changed at once.
      if (input.autoRevert && !isCancellation(err) && c.restore !== undefined)
        await CancellationScope.nonCancellable(() => revert(c, c.reason!));
    } finally {
      c.endedAtMs = Date.now();
    }
  }

  const queue = cvms.filter((c) =>
    revertMode ? needsRevert(c) && c.state !== 'revert-failed' : c.state === 'pending',
  );
  let next = 0;
  let inFlight = 0;
  const running: Promise<void>[] = [];
  const stopping = () => control.stop || cancelled || (!revertMode && failures > input.failuresLeft);
  const work = new CancellationScope();
  try {
    await work.run(async () => {
      while (next < queue.length) {
        await condition(() => stopping() || (!control.hold && inFlight < input.concurrency));
        if (stopping()) break;
        const c = queue[next++]!;
        inFlight++;
        running.push(
          turn(c).finally(() => {
            inFlight--;
          }),
        );
      }
      await condition(() => inFlight === 0);
    });
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled: in-flight turns end (their CVMs are reported failed, with what is needed to revert them).
    cancelled = true;
    await CancellationScope.nonCancellable(() => condition(() => inFlight === 0));
  }
  await CancellationScope.nonCancellable(() => Promise.all(running));
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  return { app: input.app, cvms, restores: newRestores, failures, ...(cancelled ? { cancelled } : {}) };
}

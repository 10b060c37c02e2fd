// One deploy run inside the workflow: its state (deploy-state.ts) plus what changing it means in Temporal — the
// phase search attribute and report, the saga of compensations — and the activities the steps call, by timeout
// profile. The steps (deploy-create, deploy-update, deploy-approval, deploy-rollback) and the message handlers
// (deploy-messages) all work on one instance of it.
import { log, patched, proxyActivities, proxyLocalActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { createAttestationActivities } from '../activities/attestation-activities';
import type { createChainActivities } from '../activities/chain-activities';
import type { ComposeUpdateActivities } from '../activities/compose-update-activities';
import type { createDeployActivities } from '../activities/deploy-activities';
import { apiOptions, chainOptions, heartbeatingWait, localApiOptions, watchOptions } from './activity-options';
import { Compensations } from './compensations';
import { DeployState } from './deploy-state';
import { type DeployInput, type DeployPhase, SA_PHASE } from './deploy-types';
import { phaseReporter } from './observe';

type Activities = ReturnType<typeof createDeployActivities> & ComposeUpdateActivities;
type ChainActivities = ReturnType<typeof createChainActivities>;
type AttestationActivities = ReturnType<typeof createAttestationActivities>;

/**
 * The activities of a run, by the phase whose timeout bounds them. With 'lean-deploy' the inspect and the plan of
 * the provision run as local activities (a read and a call that only caches a plan, both harmless to repeat), inside
 * the first workflow task — two round trips through the server and ten history events fewer per deploy
 * (bench/efficiency.ts).
 */
function deployActivities(input: DeployInput, lean: boolean) {
  const t = input.timeouts;
  const provision = proxyActivities<Activities>(apiOptions(input, t.provisionMs));
  return {
    inspect: lean
      ? proxyLocalActivities<Activities>(localApiOptions(input, t.provisionMs))
      : proxyActivities<Activities>(apiOptions(input, t.provisionMs)),
    provision,
    provisionPlan: lean ? proxyLocalActivities<Activities>(localApiOptions(input, t.provisionMs)) : provision,
    commit: proxyActivities<Activities>(apiOptions(input, t.commitMs)),
    replicate: proxyActivities<Activities>(apiOptions(input, t.replicateMs)),
    watch: proxyActivities<Activities>(watchOptions(input, t.runningMs)),
    rollback: proxyActivities<Activities>(apiOptions(input, t.rollbackMs)),
    chain: proxyActivities<ChainActivities>(chainOptions(input, t.commitMs)),
    attest: proxyActivities<AttestationActivities>(
      heartbeatingWait(input.attestation?.timeoutMs ?? 0, input.heartbeatTimeoutMs ?? 20_000),
    ),
  };
}

export class DeployRun extends DeployState {
  /** Runs started before 'lean-deploy' go on with inspect and provision as activities of their own. */
  readonly lean: boolean;
  /**
   * Runs since 'deploy-patches-first' have every later patch decided at their start: they update through the one
   * compose-update path without asking 'one-compose-update' after the inspect.
   */
  readonly patchesFirst: boolean;
  readonly activities: ReturnType<typeof deployActivities>;
  /** What this run created or changed, undone newest first when it fails or is cancelled. */
  readonly compensations = new Compensations();
  private readonly announce = phaseReporter();

  constructor(input: DeployInput) {
    super(input, Date.now());
    // The first command of every run: the patch marker precedes everything else in history.
    this.lean = patched('lean-deploy');
    // A patch judged after a local activity can be judged differently on replay (SDK 1.24): when a query arrives
    // while the activity runs, its result is recorded in one task and the code after it runs in the next, but replay
    // resumes that code inside the first task, where the marker is not, and fails the run. Runs since
    // 'deploy-patches-first' ask no patch right after a local activity: this one marker (a patch costs two history
    // events) stands for 'one-compose-update', which was asked after the inspect.
    this.patchesFirst = this.lean && patched('deploy-patches-first');
    this.activities = deployActivities(input, this.lean);
  }

  /** Enters `phase`: timed in the status, set as the phase search attribute, reported. */
  enter(phase: DeployPhase): void {
    this.enterPhase(phase, Date.now());
    upsertSearchAttributes([{ key: SA_PHASE, value: phase }]);
    this.announce(phase);
  }

  /** Waits until the CVM runs (and, given a hash, runs that compose); the watch keeps its own deadline. */
  watchRunning(cvmId: string, expectComposeHash?: string) {
    return this.activities.watch.watchCvm({
      cvmId,
      target: 'running',
      timeoutMs: this.input.timeouts.runningMs,
      intervalS: this.input.watch.intervalS,
      timeoutS: this.input.watch.timeoutS,
      expectComposeHash,
    });
  }

  /**
   * When the spec requires it, a running CVM must also prove it runs `composeHash` (src/attestation); a refusal
   * fails this step like a CVM that never ran. Only specs that ask reach patched(), so older histories replay as
   * they ran.
   */
  async attested(cvmId: string, composeHash: string): Promise<void> {
    const gate = this.input.attestation;
    if (!gate || !patched('attestation-gate')) return;
    const v = await this.activities.attest.verifyAttestation({
      cvmId,
      composeHash,
      appId: this.status.appId,
      osImages: gate.osImages,
      quote: gate.quote,
      timeoutMs: gate.timeoutMs,
      onChainApp: this.input.kms !== 'phala',
    });
    this.attestations.set(cvmId, {
      composeHash: v.composeHash,
      registers: v.registers,
      quoteDigest: v.quoteDigest,
      quoteVerified: v.quoteVerified,
      quoteStatus: v.quoteStatus,
      checks: v.checks.length,
    });
    log.info('attestation accepted', { cvmId, composeHash, quoteStatus: v.quoteStatus });
  }

  /** Running, then attested when the spec requires it. */
  async watchRunningAttested(cvmId: string, composeHash: string) {
    const state = await this.watchRunning(cvmId, composeHash);
    await this.attested(cvmId, composeHash);
    return state;
  }
}

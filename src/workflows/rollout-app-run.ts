// One app's share of a rollout wave inside the workflow: its state (rollout-app-state.ts) plus the activities the
// steps call, by timeout profile, the watch every step shares, and the loop that gives each CVM its turn, at most
// `concurrency` at a time, as the wave's control allows. The steps (rollout-app-update, rollout-app-revert) and the
// message handlers (rollout-app-messages) all work on one instance of it.
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
} from '@temporalio/workflow';
import type { createAttestationActivities } from '../activities/attestation-activities';
import type { createChainActivities } from '../activities/chain-activities';
import type { ComposeUpdateActivities } from '../activities/compose-update-activities';
import type { createDeployActivities } from '../activities/deploy-activities';
import type { RolloutActivities } from '../activities/rollout-activities';
import { apiCall, heartbeatingCall, heartbeatingWait } from './activity-options';
import { approvalOncePerHash } from './compose-update';
import { RolloutAppState } from './rollout-app-state';
import type { AppInput, CvmRecord } from './rollout-types';

type Activities = ReturnType<typeof createDeployActivities> & RolloutActivities & ComposeUpdateActivities;
type ChainActivities = ReturnType<typeof createChainActivities>;
type AttestationActivities = ReturnType<typeof createAttestationActivities>;

export class RolloutAppRun extends RolloutAppState {
  /** Runs started before the one compose-update path (shared with deploy updates) go on through the old steps. */
  readonly shared: boolean;
  /** One API call. */
  readonly api: ReturnType<typeof proxyActivities<Activities>>;
  /** Puts a hash on an app's on-chain allow-list, once per app and hash in this run. */
  readonly approve: (appId: string, composeHash: string) => Promise<void>;

  constructor(input: AppInput) {
    super(input);
    // The first command of every run: the patch marker precedes everything else in history.
    this.shared = patched('one-compose-update');
    this.api = proxyActivities<Activities>(apiCall(this.tuning.apiAttemptTimeoutMs));
    // A write waits for its confirmations, up to the CVM's deadline.
    const chain = proxyActivities<ChainActivities>(
      heartbeatingCall(Math.max(input.cvmDeadlineMs, this.tuning.apiAttemptTimeoutMs), this.tuning.heartbeatTimeoutMs),
    );
    // The rollout refused at its start the apps whose owner is not the worker's key (rollout.ts): the worker approves.
    this.approve = approvalOncePerHash(async (appId, composeHash) => {
      await chain.addComposeHashOnChain({ appId, composeHash });
    });
  }

  /** Activities that heartbeat while they wait, for up to `waitMs`. */
  longRunning(waitMs: number) {
    return proxyActivities<Activities>(heartbeatingWait(waitMs, this.tuning.heartbeatTimeoutMs));
  }

  attestation(waitMs: number) {
    return proxyActivities<AttestationActivities>(heartbeatingWait(waitMs, this.tuning.heartbeatTimeoutMs));
  }

  /** Waits until the CVM runs `composeHash`, up to the CVM's deadline. */
  async watchRunning(cvmId: string, composeHash: string, deadlineMs: number): Promise<void> {
    const timeoutMs = Math.max(1, deadlineMs - Date.now());
    await this.longRunning(timeoutMs).watchCvm({
      cvmId,
      target: 'running',
      timeoutMs,
      intervalS: this.tuning.watch.intervalS,
      timeoutS: this.tuning.watch.timeoutS,
      expectComposeHash: composeHash,
    });
  }

  /**
   * Gives each queued CVM its turn, at most `concurrency` at a time, while the wave does not hold or stop the run;
   * returns once every turn started has ended. Cancelled (wave deadline, `cvmflow deploy cancel <app>`): in-flight
   * turns end, their CVMs reported failed with what is needed to revert them.
   */
  async eachTurn(turn: (c: CvmRecord) => Promise<void>): Promise<void> {
    const queue = this.queue();
    let next = 0;
    let inFlight = 0;
    const running: Promise<void>[] = [];
    const work = new CancellationScope();
    try {
      await work.run(async () => {
        while (next < queue.length) {
          await condition(() => this.stopping() || (!this.control.hold && inFlight < this.input.concurrency));
          if (this.stopping()) break;
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
      this.cancelled = true;
      await CancellationScope.nonCancellable(() => condition(() => inFlight === 0));
    }
    await CancellationScope.nonCancellable(() => Promise.all(running));
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  }
}

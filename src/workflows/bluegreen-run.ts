// One blue-green run inside the workflow: its state (bluegreen-state.ts) plus what changing it means in Temporal —
// the phase search attribute and report, the memo that remembers what serves the app, the audit history, the wake
// counter waiting conditions watch — and the activities the steps call, by timeout profile. The steps
// (bluegreen-gates, -promotion, -routes, -teardown) and the message handlers all work on one instance of it.
import {
  CancellationScope,
  isCancellation,
  proxyActivities,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { AnalysisActivities } from '../activities/analysis-activities';
import type { BlueGreenActivities } from '../activities/bluegreen-activities';
import type { createDeployActivities } from '../activities/deploy-activities';
import { iso } from '../domain/time';
import { NON_RETRYABLE_TYPES, watchOptions } from './activity-options';
import { BlueGreenState, cvmflowActor } from './bluegreen-state';
import {
  type Actor,
  type BlueGreenInput,
  type BlueGreenMemo,
  type BlueGreenOutcome,
  type BlueGreenPhase,
  type Deployment,
  MEMO_KEY,
} from './bluegreen-types';
import { SA_PHASE } from './deploy-types';
import { describeError } from './errors';
import { phaseReporter } from './observe';

type DeployActivities = ReturnType<typeof createDeployActivities>;

const MAX_TEXT = 300;
const MAX_HISTORY = 200;

/** Thrown inside the run to end it; carries the outcome the teardown reports. */
export class RunEnd extends Error {
  constructor(
    readonly outcome: BlueGreenOutcome,
    message: string,
    readonly actor: Actor,
  ) {
    super(message);
  }
}

/** The activities of a run, by timeout profile. */
function runActivities(input: BlueGreenInput) {
  const tuning = { apiAttemptTimeoutMs: 30_000, heartbeatTimeoutMs: 20_000, ...input.tuning };
  const retry = {
    initialInterval: 1000,
    backoffCoefficient: 2,
    maximumInterval: 10_000,
    nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
  };
  return {
    api: proxyActivities<BlueGreenActivities & DeployActivities>({
      startToCloseTimeout: tuning.apiAttemptTimeoutMs,
      scheduleToCloseTimeout: 10 * 60_000,
      retry: { ...retry, maximumAttempts: 10 },
    }),
    // One attempt is a POST (and, for the local router, a read-back), each bounded by the router's timeout.
    routes: proxyActivities<BlueGreenActivities>({
      startToCloseTimeout: 2 * input.policy.router.timeoutMs + 1_000,
      scheduleToCloseTimeout: 10 * 60_000,
      retry,
    }),
    // Checks keep their own clocks and are abandoned at once when the run moves on (their answer no longer
    // matters); the bound here only catches a check that can make no progress at all.
    checks: (boundMs: number) =>
      proxyActivities<BlueGreenActivities & AnalysisActivities>({
        startToCloseTimeout: boundMs + 60_000,
        heartbeatTimeout: tuning.heartbeatTimeoutMs,
        cancellationType: 'TRY_CANCEL',
        retry: { ...retry, maximumAttempts: 5 },
      }),
    watch: proxyActivities<DeployActivities>(watchOptions(input.deploy, input.deploy.timeouts.runningMs)),
  };
}

export class BlueGreenRun extends BlueGreenState {
  /** The route table's generation: only ever grows, so a router drops a stale retry. */
  generation = 0;
  /** Bumped on every change a waiting condition may care about. */
  wake = 0;
  /** The deploy child is running: a teardown leaves green's removal to it. */
  childRunning = false;
  /** What ended the run early, if anything did. */
  failure?: RunEnd;
  /** The part of the run an abort or rollback cancels. */
  private interruptible?: CancellationScope;
  readonly activities: ReturnType<typeof runActivities>;
  private readonly announce = phaseReporter();

  constructor(input: BlueGreenInput) {
    super(input);
    this.activities = runActivities(input);
  }

  get app(): string {
    return this.input.app;
  }

  get policy(): BlueGreenInput['policy'] {
    return this.input.policy;
  }

  now(): number {
    return Date.now();
  }

  /** Wakes every condition waiting on the run's state. */
  changed(): void {
    this.wake++;
  }

  record(kind: string, detail: string, actor?: Actor): void {
    const atMs = this.now();
    this.history.push({
      atMs,
      phase: this.phase,
      kind,
      detail: detail.slice(0, MAX_TEXT),
      ...(actor ? { by: actor.by, reason: actor.reason, at: iso(atMs) } : {}),
    });
    if (this.history.length > MAX_HISTORY) this.history.splice(1, 1);
  }

  enter(next: BlueGreenPhase, detail?: string): void {
    this.phase = next;
    this.changed();
    upsertSearchAttributes([{ key: SA_PHASE, value: next }]);
    this.announce(next, detail);
    this.record('phase', detail ?? next);
  }

  /** The memo follows the active route, so the next run knows what serves the app. */
  remember(deployment: Deployment | undefined): void {
    const memo: BlueGreenMemo = {
      triggerId: this.input.trigger.triggerId,
      ...(deployment ? { active: deployment } : {}),
    };
    upsertMemo({ [MEMO_KEY]: memo });
  }

  /** Runs `steps` so that an abort or rollback cancels them; one accepted meanwhile ends the run before they start. */
  async interruptibly<T>(steps: () => Promise<T>): Promise<T> {
    this.interruptible = new CancellationScope();
    return this.interruptible.run(async () => {
      this.endIfAsked();
      return steps();
    });
  }

  /** An abort or rollback was accepted: cancel what runs (the run ends at the next step if nothing does). */
  interrupt(): void {
    this.interruptible?.cancel();
  }

  /** An abort or rollback asked for while nothing was interruptible ends the run at the next step. */
  endIfAsked(): void {
    const end = this.control.end;
    if (end) throw new RunEnd(end.kind === 'abort' ? 'aborted' : 'rolled-back', `${end.kind} requested`, end.actor);
  }

  /** Classifies what ended the run early (an error, an accepted abort or rollback, a cancellation). */
  stop(err: unknown): void {
    this.interruptible = undefined;
    const end = this.control.end;
    if (err instanceof RunEnd) this.failure = err;
    else if (end && isCancellation(err))
      this.failure = new RunEnd(end.kind === 'abort' ? 'aborted' : 'rolled-back', `${end.kind} requested`, end.actor);
    else if (isCancellation(err))
      this.failure = new RunEnd('aborted', 'workflow cancelled', {
        by: 'temporal',
        reason: 'workflow cancellation requested',
      });
    else this.failure = new RunEnd('failed', describeError(err), cvmflowActor(describeError(err)));
    const f = this.failure;
    if (f.outcome === 'failed' || f.outcome === 'expired' || f.actor.by === 'cvmflow')
      this.lastError = f.message.slice(0, MAX_TEXT);
  }

  /** The steps ran to their end: nothing is interruptible any more. */
  completed(): void {
    this.interruptible = undefined;
  }
}

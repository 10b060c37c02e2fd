// One rollout wave inside the workflow: its state (rollout-wave-state.ts) plus the activities the steps call, the
// app workflows running and the two cancellation scopes (app workflows, lock waits). The dispatcher
// (rollout-wave-dispatch), the app groups (rollout-wave-groups), the lock wait (rollout-wave-lock) and the message
// handlers (rollout-wave-messages) all work on one instance of it.
import { CancellationScope, type ChildWorkflowHandle, proxyActivities } from '@temporalio/workflow';
import type { RolloutActivities } from '../activities/rollout-activities';
import { heartbeatingWait, retryPolicy } from './activity-options';
import type { rolloutApp } from './rollout-app';
import type { WaveInput } from './rollout-types';
import { WaveState } from './rollout-wave-state';

export class WaveRun extends WaveState {
  /** One API call. */
  readonly api: ReturnType<typeof proxyActivities<RolloutActivities>>;
  /** The running app workflows, to pass the wave's control on to. */
  readonly handles = new Map<string, ChildWorkflowHandle<typeof rolloutApp>>();
  /** App workflows: cancelled only when the wave deadline passes. */
  readonly scope = new CancellationScope();
  /** Waits for other deployments' locks: cancelled when the dispatcher stops. */
  readonly waits = new CancellationScope();
  /** Each dispatched group's run, settled before the wave ends. */
  readonly tasks: Promise<void>[] = [];

  constructor(input: WaveInput) {
    super(input);
    this.api = proxyActivities<RolloutActivities>({
      startToCloseTimeout: this.tuning.apiAttemptTimeoutMs,
      retry: retryPolicy({ initialMs: 500, maximumAttempts: 5 }),
    });
  }

  /** Waits with a heartbeat, up to ms. */
  lockWait(ms: number): ReturnType<typeof proxyActivities<RolloutActivities>> {
    return proxyActivities<RolloutActivities>(heartbeatingWait(ms, this.tuning.heartbeatTimeoutMs));
  }
}

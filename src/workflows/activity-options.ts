// Activity options per pipeline phase. Each phase's timeout bounds the whole activity including retries
// (scheduleToClose), while one attempt is bounded by the API call timeout, so a dead worker is noticed quickly.
import type { ActivityOptions, LocalActivityOptions, RetryPolicy } from '@temporalio/workflow';
import { NON_RETRYABLE_TYPES } from '../domain/failures';
import type { DeployInput } from './deploy-types';

// The failure registry (src/domain/failures.ts) says which types no retry can fix.
export { NON_RETRYABLE_TYPES };

export function apiOptions(input: DeployInput, phaseTimeoutMs: number): ActivityOptions {
  return {
    startToCloseTimeout: input.apiAttemptTimeoutMs ?? 30_000,
    scheduleToCloseTimeout: phaseTimeoutMs,
    retry: {
      initialInterval: input.retry?.initialIntervalMs ?? 1000,
      backoffCoefficient: 2,
      maximumInterval: input.retry?.maximumIntervalMs ?? 30_000,
      maximumAttempts: input.retry?.maximumAttempts ?? 10,
      nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
    },
  };
}

/**
 * The same bounds for a call run as a local activity (inside the workflow task, no task of its own). Retries come
 * from the worker's local retry loop; waits longer than the SDK's local retry threshold become workflow timers.
 */
export function localApiOptions(input: DeployInput, phaseTimeoutMs: number): LocalActivityOptions {
  const { startToCloseTimeout, scheduleToCloseTimeout, retry } = apiOptions(input, phaseTimeoutMs);
  return { startToCloseTimeout, scheduleToCloseTimeout, retry };
}

/**
 * Chain writes wait for confirmations: one attempt may take as long as the commit phase allows. Chain activities
 * heartbeat every second while they wait (src/activities/chain-activities.ts), so a heartbeat timeout notices a dead
 * worker in seconds instead of at the end of that long attempt; the retry then finds the sent transaction's hash in
 * the heartbeat details.
 */
export function chainOptions(input: DeployInput, phaseTimeoutMs: number): ActivityOptions {
  return {
    ...apiOptions(input, 3 * phaseTimeoutMs),
    startToCloseTimeout: phaseTimeoutMs,
    heartbeatTimeout: input.heartbeatTimeoutMs ?? 20_000,
  };
}

export function watchOptions(input: DeployInput, phaseTimeoutMs: number): ActivityOptions {
  const heartbeatTimeout = input.heartbeatTimeoutMs ?? 20_000;
  return {
    // The watch keeps its own deadline across attempts (in its heartbeat details); these bounds only catch a
    // watch that can no longer make progress at all.
    startToCloseTimeout: phaseTimeoutMs + heartbeatTimeout,
    scheduleToCloseTimeout: phaseTimeoutMs + 2 * heartbeatTimeout + 60_000,
    heartbeatTimeout,
    retry: {
      initialInterval: 500,
      backoffCoefficient: 2,
      maximumInterval: 10_000,
      nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
    },
  };
}

/**
 * The retry policy workflows' API activities share: exponential from `initialMs`, at most 10 s apart, the registry's
 * non-retryable types never retried.
 */
export function retryPolicy(opts: { initialMs: number; maximumAttempts?: number }): RetryPolicy {
  return {
    initialInterval: opts.initialMs,
    backoffCoefficient: 2,
    maximumInterval: 10_000,
    ...(opts.maximumAttempts !== undefined ? { maximumAttempts: opts.maximumAttempts } : {}),
    nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
  };
}

/** A heartbeating wait of up to `waitMs`: one attempt lasts the wait plus a heartbeat timeout; a dead worker is seen at once. */
export function heartbeatingWait(waitMs: number, heartbeatTimeoutMs: number): ActivityOptions {
  return {
    startToCloseTimeout: Math.max(1000, waitMs) + heartbeatTimeoutMs,
    heartbeatTimeout: heartbeatTimeoutMs,
    retry: retryPolicy({ initialMs: 500 }),
  };
}

/** One API call of the rollout workflows: an attempt lasts at most `attemptMs`; five attempts, within a bound. */
export function apiCall(attemptMs: number): ActivityOptions {
  return {
    startToCloseTimeout: attemptMs,
    scheduleToCloseTimeout: 4 * attemptMs + 60_000,
    retry: retryPolicy({ initialMs: 1000, maximumAttempts: 5 }),
  };
}

/** A long call that heartbeats while it works (a chain write, an approval check): a dead worker is seen at once. */
export function heartbeatingCall(attemptMs: number, heartbeatTimeoutMs: number): ActivityOptions {
  return {
    startToCloseTimeout: attemptMs,
    heartbeatTimeout: heartbeatTimeoutMs,
    retry: retryPolicy({ initialMs: 1000, maximumAttempts: 5 }),
  };
}

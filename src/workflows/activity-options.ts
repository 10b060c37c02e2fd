// Activity options per pipeline phase. Each phase's timeout bounds the whole activity including retries
// (scheduleToClose), while one attempt is bounded by the API call timeout, so a dead worker is noticed quickly.
import type { ActivityOptions } from '@temporalio/workflow';
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

/** Chain writes wait for confirmations: one attempt may take as long as the commit phase allows. */
export function chainOptions(input: DeployInput, phaseTimeoutMs: number): ActivityOptions {
  return { ...apiOptions(input, 3 * phaseTimeoutMs), startToCloseTimeout: phaseTimeoutMs };
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

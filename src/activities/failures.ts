// Maps errors of the Phala client, the watch hub and our own checks to Temporal failures: a stable `type` that the
// workflow's retry policies know (see src/workflows/activity-options.ts), `nonRetryable` from the client's
// classification, and `nextRetryDelay` from the server's Retry-After.
import { ApplicationFailure } from '@temporalio/activity';
import type { FailureTypeName } from '../domain/failures';
import { PhalaApiError, PhalaUsageError } from '../phala/errors';
import { SealedEnvError } from '../secrets/sealed-env';
import { WatchFailure } from './watch-hub';

/** The registry's name for an API error (src/domain/failures.ts). */
export function phalaType(err: PhalaApiError): FailureTypeName {
  if (err.status === undefined) return 'PhalaNetwork';
  if (err.status >= 465 && err.status <= 468) return 'PhalaOnChain';
  if (err.status === 401 || err.status === 403) return 'PhalaAuth';
  if (err.status === 404) return 'PhalaNotFound';
  if (err.status === 409) return err.retryable ? 'PhalaBusy' : 'PhalaConflict';
  if (err.status === 429) return 'PhalaRateLimited';
  if (err.status >= 500) return 'PhalaServer';
  return 'PhalaBadRequest';
}

export function toFailure(err: unknown, context: string): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof PhalaApiError) {
    return ApplicationFailure.create({
      type: phalaType(err),
      message: `${context}: ${err.message}`,
      nonRetryable: !err.retryable,
      nextRetryDelay: err.retryAfterMs,
      details: [{ status: err.status, errorCode: err.errorCode, requestId: err.requestId }],
    });
  }
  if (err instanceof WatchFailure) {
    return ApplicationFailure.create({
      type: err.kind === 'timeout' ? 'WatchTimeout' : 'CvmFailed',
      message: `${context}: ${err.message}`,
      nonRetryable: true,
      details: [{ lastStatus: err.lastStatus }],
    });
  }
  if (err instanceof PhalaUsageError) {
    // A mistake in the call itself: the same call fails the same way, so it never retries.
    return ApplicationFailure.create({
      type: 'PhalaUsage',
      message: `${context}: ${err.message}`,
      nonRetryable: true,
      details: [{ code: err.code, field: err.field }],
    });
  }
  if (err instanceof SealedEnvError) {
    return ApplicationFailure.create({ type: 'SealedEnv', message: `${context}: ${err.message}`, nonRetryable: true });
  }
  return err;
}

/** Wraps an activity body so every error leaves it classified. */
export async function classified<T>(context: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err, context);
  }
}

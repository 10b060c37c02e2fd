// 409 "another operation is in progress" means wait, not fail: the CVM finishes its current operation first. Shared
// by every activity module that mutates CVMs.
import { sleep } from '@temporalio/activity';
import { PhalaApiError } from '../phala/errors';

export const isBusy = (err: unknown) => err instanceof PhalaApiError && err.status === 409 && err.retryable;

export interface BusyOptions {
  /** Pause between tries while the CVM is busy. Default 2 s. */
  busyRetryMs?: number;
  /** Longest total wait before the 409 is passed on (and the activity's retry policy takes over). Default 120 s. */
  busyMaxWaitMs?: number;
}

/**
 * Wraps calls so that a busy CVM is retried every `busyRetryMs` for up to `busyMaxWaitMs`, or until `giveUpAt` when
 * the caller has its own deadline.
 */
export function busyRetrier(opts: BusyOptions) {
  const retryMs = opts.busyRetryMs ?? 2000;
  const maxWaitMs = opts.busyMaxWaitMs ?? 120_000;
  return async function whileBusy<T>(fn: () => Promise<T>, giveUpAt = Date.now() + maxWaitMs): Promise<T> {
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (!isBusy(err) || Date.now() + retryMs > giveUpAt) throw err;
        await sleep(retryMs);
      }
    }
  };
}

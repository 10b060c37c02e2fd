// Waits until the wall clock shows `epochMs`. A Node timer runs on the monotonic clock and may fire a millisecond
// before `Date.now()` reaches its target; a power call held "until the instant" must never go out before it, so
// the wait is re-checked against the wall clock.
import { setTimeout as sleep } from 'node:timers/promises';

export async function sleepUntil(epochMs: number, signal?: AbortSignal): Promise<void> {
  for (let left = epochMs - Date.now(); left > 0; left = epochMs - Date.now()) {
    await sleep(left, undefined, { signal });
  }
}

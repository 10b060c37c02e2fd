// The hold of a power batch prepared ahead of its calendar change ('power-early-wake'): it waits for the instant,
// then asks its schedule whether the calls are still wanted. A pause (or a change of the desired state) during the
// hold cancels the batch in the workflow at once, but the activity hears of a cancellation only in a heartbeat's
// reply, and the SDK sends heartbeats at most every 80 % of the heartbeat timeout — too late for a 1.5 s hold. The
// query is answered from the workflow's current state, so a pause accepted before the answer stops the calls.
import { setTimeout as sleep } from 'node:timers/promises';
import { QueryNotRegisteredError } from '@temporalio/client';
import { sleepUntil } from './sleep-until';

/** Asked this long before the instant, so the answer is usually in when it comes. */
const ASK_AHEAD_MS = 250;
/** While the answer is no (or the question failed), asked again this often until the cancellation arrives. */
const ASK_AGAIN_MS = 500;

/**
 * Resolves at `notBeforeMs` once the schedule says it still wants the batch's calls. While it says no, the batch
 * waits for its cancellation (rejecting when `signal` aborts), asking again meanwhile: a no is never taken as final
 * by itself, so a batch cannot be stranded by a race. A run from before the query existed cannot answer and is
 * taken as wanting the calls, as before.
 */
export async function holdUntilInstant(
  notBeforeMs: number,
  signal: AbortSignal,
  stillWanted: () => Promise<boolean>,
): Promise<void> {
  await sleepUntil(notBeforeMs - ASK_AHEAD_MS, signal);
  const ask = () => stillWanted().catch((err) => (err instanceof QueryNotRegisteredError ? true : undefined));
  let answer = ask();
  await sleepUntil(notBeforeMs, signal);
  while ((await answer) !== true) {
    await sleep(ASK_AGAIN_MS, undefined, { signal });
    answer = ask();
  }
}

// In-process ordering for writes. viem picks a nonce by asking the node for the sender's pending transaction count,
// so two sends from one sender that overlap get the same nonce and one of them fails or replaces the other. Writes
// of one sender therefore queue here from nonce lookup to submission (not to confirmation, so a slow block does not
// hold up the queue). The queues live at module level because two clients built from the same key share the nonce.
const tails = new Map<string, Promise<unknown>>();

export async function serially<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = tails.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const tail = run.catch(() => undefined);
  tails.set(key, tail);
  try {
    return await run;
  } finally {
    if (tails.get(key) === tail) tails.delete(key);
  }
}

const inflight = new Map<string, Promise<unknown>>();

/**
 * Joins a call to an identical one already running in this process (same sender, same contract, same change), so
 * two attempts that overlap — an activity retried while its first attempt still runs — send one transaction and
 * both see its result. State reads alone cannot catch that case: the first transaction is still pending.
 */
export function once<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const running = inflight.get(key);
  if (running) return running as Promise<T>;
  const started = fn().finally(() => inflight.delete(key));
  inflight.set(key, started);
  return started;
}

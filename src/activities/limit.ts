// A counting semaphore for activities that fan out API calls: at most `n` run at once, the rest queue in order.
// Kept here rather than as a dependency because it is ten lines and has no options worth a library.

export function limiter(n: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  return async function limit<T>(fn: () => Promise<T>): Promise<T> {
    // A finishing call hands its slot straight to the next in line, so a newcomer cannot slip in between.
    if (active < n) active++;
    else await new Promise<void>((resolve) => queue.push(resolve));
    try {
      return await fn();
    } finally {
      const next = queue.shift();
      if (next) next();
      else active--;
    }
  };
}

/** Maps `items` through `fn` with at most `n` calls in flight; results keep the input order. */
export function mapLimited<T, R>(items: readonly T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const limit = limiter(n);
  return Promise.all(items.map((item) => limit(() => fn(item))));
}

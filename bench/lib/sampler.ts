// Periodic sampling of a figure (open SSE streams per key, worker memory) while a benchmark runs; keeps the maximum.
export interface Sampler {
  max(): number;
  samples(): number;
  stop(): Promise<void>;
}

export function sampleMax(intervalMs: number, read: () => number | Promise<number>): Sampler {
  let max = Number.NEGATIVE_INFINITY;
  let n = 0;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const tick = () => {
    inFlight = (async () => {
      try {
        const v = await read();
        if (Number.isFinite(v)) max = Math.max(max, v);
        n++;
      } catch {
        // A sample that could not be read (a process exiting) is skipped, not fatal.
      }
    })();
  };
  tick();
  const timer = setInterval(() => {
    if (!stopped) tick();
  }, intervalMs);
  return {
    max: () => max,
    samples: () => n,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
      tick();
      await inFlight;
    },
  };
}

// A once-a-second progress line while a command waits for a workflow's result: `poll` reads the workflow's status
// and renders one line ('' when nothing to say), `show` prints it when it changed. One poll at a time, and `stop`
// waits for the one in flight: a query still running when the command closes its connection made gRPC's retry timer
// throw "Channel has been shut down" after the result had been printed (and could change the exit status).
export interface ProgressTicker {
  stop(): Promise<void>;
}

export function startProgressTicker(
  poll: () => Promise<string>,
  show: (line: string) => void,
  everyMs = 1000,
): ProgressTicker {
  let last = '';
  let inFlight: Promise<void> | undefined;
  const timer = setInterval(() => {
    inFlight ??= poll()
      .catch(() => '')
      .then((line) => {
        if (line && line !== last) {
          last = line;
          show(line);
        }
      })
      .finally(() => {
        inFlight = undefined;
      });
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}

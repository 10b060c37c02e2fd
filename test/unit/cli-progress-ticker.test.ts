// The wait commands' progress line: one status query at a time, changed lines only, and stop() waits for the query in
// flight so the command never closes its Temporal connection under it (a "Channel has been shut down" crash after
// `bluegreen start --wait` had printed its result).
import { describe, expect, it } from 'vitest';
import { startProgressTicker } from '../../src/cli/progress-ticker';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('progress ticker', () => {
  it('never runs two polls at once, and stop() waits for the one in flight', async () => {
    let running = 0;
    let maxRunning = 0;
    let finished = 0;
    const ticker = startProgressTicker(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(60); // slower than the tick
        running--;
        finished++;
        return 'phase';
      },
      () => {},
      10,
    );
    await sleep(100);
    await ticker.stop();
    expect(maxRunning).toBe(1);
    expect(running).toBe(0);
    const after = finished;
    await sleep(50);
    expect(finished).toBe(after);
  });

  it('shows a line only when it changed, and stays quiet when a poll fails', async () => {
    const answers = ['a', 'a', 'fail', 'b', 'b', 'a'];
    const shown: string[] = [];
    const ticker = startProgressTicker(
      async () => {
        const next = answers.shift() ?? 'a';
        if (next === 'fail') throw new Error('unreachable');
        return next;
      },
      (line) => shown.push(line),
      5,
    );
    await sleep(150);
    await ticker.stop();
    expect(shown).toEqual(['a', 'b', 'a']);
  });
});

// sleepUntil must not return before the wall clock shows its target, even when a timer fires early by the wall
// clock (Node's timers run on the monotonic clock; the two may disagree by a millisecond or, after an NTP step, more).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sleepUntil } from '../../src/activities/sleep-until';

afterEach(() => vi.restoreAllMocks());

describe('sleepUntil', () => {
  it('waits again when the timer fired before the wall clock reached the target', async () => {
    const realNow = Date.now.bind(Date);
    const target = realNow() + 30;
    // After the first reading the wall clock falls 20 ms behind the timers: a single setTimeout(target - now)
    // would return 20 ms early by the wall clock.
    let readings = 0;
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() - (readings++ === 0 ? 0 : 20));
    await sleepUntil(target);
    expect(Date.now()).toBeGreaterThanOrEqual(target);
  });

  it('returns at once for an instant already past, and stops when aborted', async () => {
    await expect(sleepUntil(Date.now() - 1_000)).resolves.toBeUndefined();
    const abort = new AbortController();
    const waiting = sleepUntil(Date.now() + 60_000, abort.signal);
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
  });
});

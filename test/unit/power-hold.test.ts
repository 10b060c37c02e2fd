// The hold of a batch prepared ahead of its instant: calls only at the instant, and only while the schedule still
// wants them; a "no" waits for the cancellation (asking again), never strands the batch.
import { QueryNotRegisteredError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { holdUntilInstant } from '../../src/activities/power-hold';

describe('holdUntilInstant', () => {
  it('resolves at the instant, not before, when the schedule wants the calls', async () => {
    const at = Date.now() + 400;
    let asked = 0;
    await holdUntilInstant(at, new AbortController().signal, async () => {
      asked++;
      return true;
    });
    expect(Date.now()).toBeGreaterThanOrEqual(at);
    expect(asked).toBe(1);
  });

  it('while the answer is no, asks again and waits; the cancellation ends the hold with no calls', async () => {
    const abort = new AbortController();
    let asked = 0;
    const held = holdUntilInstant(Date.now() + 50, abort.signal, async () => {
      asked++;
      return false;
    });
    const outcome = Promise.race([held.then(() => 'resolved'), new Promise((r) => setTimeout(r, 1_300, 'holding'))]);
    expect(await outcome).toBe('holding');
    expect(asked).toBeGreaterThanOrEqual(2);
    abort.abort();
    await expect(held).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('goes ahead once a "no" turns into a "yes", and when the run cannot answer (a run from before the query)', async () => {
    let answers = [false, true];
    await holdUntilInstant(Date.now(), new AbortController().signal, async () => answers.shift()!);
    expect(answers).toEqual([]);
    answers = [];
    const old = holdUntilInstant(Date.now(), new AbortController().signal, async () => {
      throw new QueryNotRegisteredError('unknown query heldBatchWanted', 3);
    });
    await expect(old).resolves.toBeUndefined();
  });
});

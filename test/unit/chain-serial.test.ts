import { describe, expect, it } from 'vitest';
import { once, serially } from '../../src/chain/serial';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('serially', () => {
  it('runs calls with the same key one after another, even when one fails', async () => {
    const events: string[] = [];
    const job =
      (name: string, fail = false) =>
      async () => {
        events.push(`${name} start`);
        await tick();
        events.push(`${name} end`);
        if (fail) throw new Error(name);
        return name;
      };
    const results = await Promise.allSettled([
      serially('k', job('a', true)),
      serially('k', job('b')),
      serially('k', job('c')),
    ]);
    expect(events).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
  });

  it('lets different keys overlap', async () => {
    const events: string[] = [];
    const job = (name: string) => async () => {
      events.push(`${name} start`);
      await tick();
      events.push(`${name} end`);
    };
    await Promise.all([serially('k1', job('a')), serially('k2', job('b'))]);
    expect(events.slice(0, 2)).toEqual(['a start', 'b start']);
  });
});

describe('once', () => {
  it('joins a call to an identical one in flight, and runs again after it settles', async () => {
    let runs = 0;
    const fn = async () => {
      runs++;
      await tick();
      return runs;
    };
    const [a, b] = await Promise.all([once('same', fn), once('same', fn)]);
    expect([a, b, runs]).toEqual([1, 1, 1]);
    expect(await once('same', fn)).toBe(2);
  });

  it('shares a failure with the joined caller and forgets it', async () => {
    let runs = 0;
    const fn = async () => {
      runs++;
      await tick();
      throw new Error('boom');
    };
    const both = await Promise.allSettled([once('fail', fn), once('fail', fn)]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(once('fail', fn)).rejects.toThrow('boom');
    expect(runs).toBe(2);
  });
});

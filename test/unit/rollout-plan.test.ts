import { describe, expect, it } from 'vitest';
import type { Calendar } from '../../src/calendar';
import { globMatches, planWaves, sizeOf, updateOrder, windowGate } from '../../src/workflows/rollout-plan';
import type { Override, TargetCvm } from '../../src/workflows/rollout-types';

const cvm = (app: string, n: number): TargetCvm => ({
  cvmId: `${app}-${n}`,
  name: app,
  app,
  appId: app,
  status: 'running',
});
const at = (iso: string) => Date.parse(iso);

describe('sizes', () => {
  it('counts are counts; percentages round up for progress and down for limits, never below the minimum', () => {
    expect(sizeOf({ count: 3 }, 100, 'up', 1)).toBe(3);
    expect(sizeOf({ percent: 10 }, 30, 'up', 1)).toBe(3);
    expect(sizeOf({ percent: 10 }, 31, 'up', 1)).toBe(4);
    expect(sizeOf({ percent: 10 }, 31, 'down', 1)).toBe(3);
    expect(sizeOf({ percent: 2 }, 20, 'down', 0)).toBe(0);
    expect(sizeOf({ percent: 1 }, 20, 'down', 1)).toBe(1);
  });
});

describe('the plan', () => {
  it('updates one CVM of every app before a second of any, apps in the order they were resolved', () => {
    const order = updateOrder([cvm('b', 1), cvm('b', 2), cvm('b', 3), cvm('a', 1), cvm('c', 1), cvm('a', 2)]);
    expect(order.map((c) => c.cvmId)).toEqual(['b-1', 'a-1', 'c-1', 'b-2', 'a-2', 'b-3']);
  });

  it('canary first, then waves of waveSize (default maxParallel); the last wave takes the rest', () => {
    expect(
      planWaves(50, { canary: { count: 2 }, waveSize: { count: 16 }, maxParallel: 6 }).map((w) => [
        w.kind,
        w.first,
        w.count,
      ]),
    ).toEqual([
      ['canary', 0, 2],
      ['wave', 2, 16],
      ['wave', 18, 16],
      ['wave', 34, 16],
    ]);
    expect(planWaves(200, { maxParallel: 20 })).toHaveLength(10);
    expect(planWaves(7, { canary: { percent: 10 }, maxParallel: 4 }).map((w) => w.count)).toEqual([1, 4, 2]);
    expect(planWaves(1, { canary: { count: 5 }, maxParallel: 4 }).map((w) => w.count)).toEqual([1]);
  });

  it('selects names by glob, whole name only', () => {
    expect(globMatches('web-*', 'web-eu-1')).toBe(true);
    expect(globMatches('web-?', 'web-12')).toBe(false);
    expect(globMatches('web-*', 'api-web-1')).toBe(false);
    expect(globMatches('a.b', 'axb')).toBe(false);
  });
});

describe('the window gate', () => {
  const calendar: Calendar = {
    timezone: 'UTC',
    default: 'closed',
    periods: [{ days: ['mon-fri'], start: '09:00', end: '17:00', state: 'open' }],
    dates: [{ from: '2026-12-24', to: '2026-12-26', state: 'frozen' }],
  };
  const override = (kind: Override['kind'], untilMs?: number): Override => ({
    id: 'o1',
    kind,
    by: 'ops',
    reason: 'why',
    note: 'why',
    at: '2026-01-01T00:00:00.000Z',
    createdAtMs: 0,
    ...(untilMs ? { untilMs } : {}),
  });

  it('opens inside a period, closes outside, and says when to look again', () => {
    expect(windowGate(calendar, [], at('2026-06-01T10:00Z'))).toEqual({
      state: 'open',
      open: true,
      cause: 'inside the deploy window',
      recheckAtMs: at('2026-06-01T17:00Z'),
    });
    expect(windowGate(calendar, [], at('2026-06-06T10:00Z'))).toMatchObject({
      state: 'closed',
      open: false,
      recheckAtMs: at('2026-06-08T09:00Z'),
    });
  });

  it('a freeze wins over the window; lifting it reveals the window underneath; skip-window opens a closed one', () => {
    const thu = at('2026-12-24T10:00Z');
    expect(windowGate(calendar, [], thu)).toMatchObject({
      state: 'frozen',
      open: false,
      cause: 'frozen by the window calendar',
      recheckAtMs: at('2026-12-27T00:00Z'),
    });
    const lifted = windowGate(calendar, [override('liftFreeze', at('2026-12-24T12:00Z'))], thu);
    expect(lifted).toMatchObject({ state: 'frozen', open: true, recheckAtMs: at('2026-12-24T12:00Z') });
    expect(lifted.cause).toBe('freeze lifted by liftFreeze o1 (why); without the freeze the window is open');
    const evening = at('2026-12-24T18:00Z');
    expect(windowGate(calendar, [override('liftFreeze', at('2026-12-25T00:00Z'))], evening)).toMatchObject({
      open: false,
    });
    expect(
      windowGate(calendar, [override('liftFreeze', at('2026-12-25T00:00Z')), override('skipWindow')], evening),
    ).toMatchObject({ open: true });
    // Skipping the window does not lift a freeze.
    expect(windowGate(calendar, [override('skipWindow')], thu)).toMatchObject({ open: false });
    // An expired override no longer counts.
    expect(windowGate(calendar, [override('liftFreeze', at('2026-12-24T09:00Z'))], thu)).toMatchObject({ open: false });
  });
});

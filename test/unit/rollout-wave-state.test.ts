// One rollout wave as pure functions of its state: the app groups, the fleet-wide limits (free slots, unavailable
// CVMs), when the dispatcher is ready or stuck, the deadline not running while held, what an app workflow's result,
// failure or a held app does to the records, the outcome, and the status view and result. The same functions serve
// the running workflow (rollout-wave-run.ts, rollout-wave-dispatch.ts, rollout-wave-groups.ts, rollout-wave-lock.ts).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CvmRecord, CvmState, WaveInput } from '../../src/workflows/rollout-types';
import {
  holderText,
  MAX_CVMS_PER_APP_RUN,
  WaveState,
  waveResult,
  waveStatusView,
} from '../../src/workflows/rollout-wave-state';

const cvm = (id: string, app: string, state: CvmState = 'pending', more: Partial<CvmRecord> = {}): CvmRecord => ({
  cvmId: id,
  name: id,
  app,
  appId: `id-${app}`,
  wave: 1,
  state,
  ...more,
});

function waveInput(more: Partial<WaveInput> = {}): WaveInput {
  return {
    rolloutId: 'r1',
    rolloutName: 'r1',
    wave: 1,
    mode: 'update',
    cvms: [cvm('a1', 'a'), cvm('b1', 'b'), cvm('a2', 'a'), cvm('c1', 'c', 'healthy')],
    version: { dockerCompose: 'services: {}\n' } as WaveInput['version'],
    strategy: { maxParallel: 3, jitterMs: 0 },
    maxUnavailable: 2,
    unavailableBefore: 0,
    failuresLeft: 1,
    health: { minHealthyMs: 0 } as WaveInput['health'],
    deadlines: { cvmMs: 60_000, waveMs: 600_000 },
    autoRevert: true,
    onBusy: 'wait',
    restores: {},
    knownRestoreKeys: ['k0'],
    control: { hold: false, stop: false },
    tuning: {},
    ...more,
  };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_000_000);
});
afterEach(() => vi.useRealTimers());

describe('WaveState', () => {
  it('groups the CVMs still to do by app, in the wave order, and counts its runs', () => {
    const s = new WaveState(waveInput());
    expect(s.queue.map((g) => `${g.app}:${g.cvms.map((c) => c.cvmId).join(',')}`)).toEqual(['a:a1,a2', 'b:b1']);
    expect(s.st.runs).toBe(1);
    expect(s.st.startedAtMs).toBe(1_000_000);
    expect(s.startedText()).toBe('started: 3 CVMs of 2 apps (update)');
    expect(s.tuning.maxCvmsPerWaveRun).toBe(100);
  });

  it('splits an app with more CVMs than one app workflow takes', () => {
    const many = Array.from({ length: MAX_CVMS_PER_APP_RUN + 1 }, (_, i) => cvm(`a${i}`, 'a'));
    const s = new WaveState(waveInput({ cvms: many }));
    expect(s.queue.map((g) => g.cvms.length)).toEqual([MAX_CVMS_PER_APP_RUN, 1]);
  });

  it('in revert mode takes the CVMs to put back, not those that failed to revert', () => {
    const s = new WaveState(
      waveInput({
        mode: 'revert',
        cvms: [cvm('a1', 'a', 'healthy', { restore: 'k' }), cvm('a2', 'a', 'revert-failed', { restore: 'k' })],
      }),
    );
    expect(s.queue.flatMap((g) => g.cvms.map((c) => c.cvmId))).toEqual(['a1']);
  });

  it('a continued run carries the records and counts on, and picks up waiting-lock CVMs', () => {
    const first = new WaveState(waveInput());
    first.st.cvms[0]!.state = 'healthy';
    first.st.cvms[1]!.state = 'waiting-lock';
    first.st.restores.k1 = { docker_compose_file: 'v0' } as never;
    const next = new WaveState(waveInput({ cvms: [], carried: first.st }));
    expect(next.st.runs).toBe(2);
    expect(next.queue.map((g) => g.app)).toEqual(['b', 'a']);
    expect(next.known.has('k1') && next.known.has('k0')).toBe(true);
    expect(next.startedText()).toBe('continued (run 2): 2 CVMs left');
  });

  it('gives slots within maxParallel and maxUnavailable; failed CVMs count as down', () => {
    const s = new WaveState(waveInput({ unavailableBefore: 1 }));
    expect(s.free()).toBe(1);
    const { group, slots } = s.dispatch();
    expect([group.app, slots, s.used, s.startedThisRun]).toEqual(['a', 1, 1, 2]);
    expect(s.active.has('a')).toBe(true);
    expect(s.free()).toBe(0);
    // Another group of app a would wait for the first; b is pickable.
    expect(s.pickable()).toBe(0);
    s.used = 0;
    s.st.cvms[3]!.state = 'failed';
    expect(s.unavailable()).toBe(2);
    expect(s.free()).toBe(0);
    expect(s.stuck()).toBe(true);
    expect(s.ready()).toBe(true);
  });

  it('in revert mode only maxParallel limits', () => {
    const s = new WaveState(waveInput({ mode: 'revert', unavailableBefore: 5 }));
    expect(s.free()).toBe(3);
    expect(s.stuck()).toBe(false);
  });

  it('the deadline does not run while held, and control changes are logged', () => {
    const s = new WaveState(waveInput());
    expect(s.deadlineAt()).toBe(1_600_000);
    s.setControl({ hold: true, stop: false, reason: 'window closed' });
    vi.setSystemTime(1_030_000);
    s.setControl({ hold: false, stop: false });
    expect(s.deadlineAt()).toBe(1_630_000);
    s.setControl({ hold: false, stop: true, reason: 'abort' });
    expect(s.stopping()).toBe(true);
    expect(s.st.events.map((e) => e.text)).toEqual(['hold: window closed', 'released', 'stop: abort']);
    expect(s.outcome()).toBe('stopped');
    expect(waveResult(s, s.outcome()).reason).toBe('abort');
  });

  it('an app result over the budget stops new updates once; an app workflow failure fails its CVMs', () => {
    const s = new WaveState(waveInput());
    const [a, b] = s.queue as [NonNullable<(typeof s.queue)[0]>, NonNullable<(typeof s.queue)[0]>];
    s.appDone({
      app: 'a',
      cvms: [
        { ...a.cvms[0]!, state: 'failed' },
        { ...a.cvms[1]!, state: 'healthy', restore: 'k2' },
      ],
      restores: { k2: { docker_compose_file: 'v0' } as never },
      failures: 1,
    });
    expect(s.budgetExceeded).toBe(false);
    expect(s.known.has('k2')).toBe(true);
    expect(s.st.cvms.map((c) => c.state)).toEqual(['failed', 'pending', 'healthy', 'healthy']);
    s.appFailed(b, 'boom');
    expect(s.st.cvms[1]).toMatchObject({ state: 'failed', reason: 'app workflow deploy-b failed: boom' });
    expect(s.st.failures).toBe(2);
    expect(s.budgetExceeded).toBe(true);
    expect(s.outcome()).toBe('budget-exceeded');
    expect(s.continues()).toBe(false);
  });

  it('an app held by another deployment: skipped, waited for, requeued, or left pending when the wave stops', () => {
    const s = new WaveState(waveInput());
    const who = holderText({ workflowId: 'deploy-a', workflowType: 'deployCvm', kind: 'deploy', runId: 'r9' });
    expect(who).toBe('deploy-a (deployCvm, deploy, run r9)');
    const g = s.queue.shift()!;
    s.waitHeld(g, who);
    expect(g.cvms[0]).toMatchObject({ state: 'waiting-lock', reason: `app held by ${who}; waiting (onBusy: wait)` });
    s.requeue(g);
    expect(s.queue[0]).toBe(g);
    expect(g.cvms[0]).toMatchObject({ state: 'pending', reason: undefined });
    s.heldUntilStop(g);
    expect(g.cvms[0]?.reason).toBe('not started: the wave stopped while deploy-a was held');
    s.skipHeld(g, who);
    expect(s.st.cvms[0]).toMatchObject({ state: 'skipped' });
    expect(s.st.events.at(-1)?.text).toBe(`a: held by ${who}; skipped`);
  });

  it('the status view and result say what the wave did', () => {
    const s = new WaveState(waveInput());
    s.runningApps.set('a', 2);
    s.used = 2;
    s.blocked = 'nothing can start';
    expect(waveStatusView(s)).toMatchObject({ wave: 1, inFlight: 2, running: ['deploy-a'], unavailable: 2, run: 1 });
    expect(s.outcome()).toBe('blocked');
    expect(waveResult(s, s.outcome())).toMatchObject({ outcome: 'blocked', reason: 'nothing can start' });
    s.continueDue = true;
    expect(s.continues()).toBe(false);
  });
});

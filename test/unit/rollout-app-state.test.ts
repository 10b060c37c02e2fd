// One app's share of a rollout wave as pure functions of its state: which CVMs get a turn (update or revert mode),
// when the run stops starting turns, how restore patches are kept, and what the status views and the result say.
// The same functions serve the running workflow (rollout-app-run.ts, rollout-app-messages.ts).
import { describe, expect, it } from 'vitest';
import { appResult, appStatusView, deployView, RolloutAppState } from '../../src/workflows/rollout-app-state';
import type { AppInput, CvmRecord, CvmState } from '../../src/workflows/rollout-types';

const cvm = (id: string, state: CvmState, more: Partial<CvmRecord> = {}): CvmRecord => ({
  cvmId: id,
  name: id,
  app: 'webapp',
  appId: 'app1',
  wave: 0,
  state,
  ...more,
});

function appInput(more: Partial<AppInput> = {}): AppInput {
  return {
    rolloutId: 'r1',
    wave: 2,
    app: 'webapp',
    mode: 'update',
    cvms: [cvm('c1', 'pending'), cvm('c2', 'healthy', { restore: 'k1' }), cvm('c3', 'pending')],
    version: { dockerCompose: 'services: {}\n' },
    concurrency: 2,
    jitterMs: 0,
    failuresLeft: 1,
    health: { minHealthyMs: 0 } as AppInput['health'],
    cvmDeadlineMs: 60_000,
    autoRevert: true,
    restores: { k1: { docker_compose_file: 'v1' } },
    knownRestoreKeys: ['k1'],
    control: { hold: false, stop: false },
    tuning: {},
    ...more,
  };
}

describe('RolloutAppState', () => {
  it('works on copies of the records, with the default tuning under the given one', () => {
    const input = appInput({ tuning: { healthPollMs: 50 } });
    const s = new RolloutAppState(input);
    s.cvms[0]!.state = 'updating';
    expect(input.cvms[0]!.state).toBe('pending');
    expect(s.tuning).toEqual({
      apiAttemptTimeoutMs: 30_000,
      heartbeatTimeoutMs: 20_000,
      healthPollMs: 50,
      watch: { intervalS: 5, timeoutS: 300 },
    });
  });

  it('queues the pending CVMs to update, or (revert mode) those the rollout changed and not given up on', () => {
    expect(new RolloutAppState(appInput()).queue().map((c) => c.cvmId)).toEqual(['c1', 'c3']);
    const revert = appInput({
      mode: 'revert',
      cvms: [
        cvm('c1', 'healthy', { restore: 'k1' }),
        cvm('c2', 'revert-failed', { restore: 'k1' }),
        cvm('c3', 'failed', { restore: 'k1' }),
        cvm('c4', 'healthy'),
        cvm('c5', 'skipped'),
      ],
    });
    expect(new RolloutAppState(revert).queue().map((c) => c.cvmId)).toEqual(['c1', 'c3']);
  });

  it('stops starting turns on stop, on cancellation, and once failures exceed the budget (updates only)', () => {
    const s = new RolloutAppState(appInput());
    expect(s.stopping()).toBe(false);
    s.failures = 1;
    expect(s.stopping()).toBe(false);
    s.failures = 2;
    expect(s.stopping()).toBe(true);
    const r = new RolloutAppState(appInput({ mode: 'revert' }));
    r.failures = 5;
    expect(r.stopping()).toBe(false);
    r.control = { hold: true, stop: false };
    expect(r.stopping()).toBe(false);
    r.control = { hold: false, stop: true };
    expect(r.stopping()).toBe(true);
    const c = new RolloutAppState(appInput());
    c.cancelled = true;
    expect(c.stopping()).toBe(true);
  });

  it('keeps a restore patch once by key, handing back only those the rollout did not know', () => {
    const s = new RolloutAppState(appInput());
    const [c1, , c3] = s.cvms;
    s.keepRestore(c1!, 'k2', { docker_compose_file: 'v2' });
    s.keepRestore(c3!, 'k2', { docker_compose_file: 'other' });
    s.keepRestore(c3!, 'k1', { docker_compose_file: 'changed' });
    expect([c1!.restore, c3!.restore]).toEqual(['k2', 'k1']);
    expect(s.restores).toEqual({ k1: { docker_compose_file: 'v1' }, k2: { docker_compose_file: 'v2' } });
    expect(appResult(s).restores).toEqual({ k2: { docker_compose_file: 'v2' } });
  });
});

describe('views and result', () => {
  it('answers as a deploy would, naming the rollout and each CVM state', () => {
    const s = new RolloutAppState(appInput());
    expect(deployView(s)).toEqual({
      app: 'webapp',
      phase: 'update',
      mode: 'update',
      appId: 'app1',
      cvms: [
        { cvmId: 'c1', nodeId: null, status: 'rollout r1: pending', created: false },
        { cvmId: 'c2', nodeId: null, status: 'rollout r1: healthy', created: false },
        { cvmId: 'c3', nodeId: null, status: 'rollout r1: pending', created: false },
      ],
      timingsMs: {},
    });
    expect(appStatusView(s).rollout).toEqual({ rolloutId: 'r1', wave: 2, mode: 'update', cvms: s.cvms });
    expect(deployView(new RolloutAppState(appInput({ cvms: [] }))).appId).toBeUndefined();
  });

  it('reports failures, and cancelled only when it was', () => {
    const s = new RolloutAppState(appInput());
    s.failures = 1;
    expect(appResult(s)).toEqual({ app: 'webapp', cvms: s.cvms, restores: {}, failures: 1 });
    s.cancelled = true;
    expect(appResult(s).cancelled).toBe(true);
  });
});

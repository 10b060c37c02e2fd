// The rollout's Update validators are pure functions of a small view of its state: each refusal is checked here
// without a server (test/workflow/ runs them through the real workflow; test/integration/ through the CLI).
import { describe, expect, it } from 'vitest';
import { CHAIN_HEARTBEAT_MS } from '../../src/activities/chain-activities';
import { chainOptions } from '../../src/workflows/activity-options';
import type { DeployInput } from '../../src/workflows/deploy-types';
import {
  type ControlState,
  promotableWave,
  validateAbort,
  validateOverride,
  validatePause,
  validatePromote,
  validateResume,
} from '../../src/workflows/rollout-messages';

const nowMs = Date.parse('2026-03-02T08:00:00Z');
const audit = { by: 'ops', reason: 'checking', note: 'checking', at: '2026-03-02T07:00:00.000Z' };
const state = (over: Partial<ControlState> = {}): ControlState => ({
  phase: 'waiting-window',
  nextWave: 1,
  hasWindows: true,
  nowMs,
  ...over,
});
const paused = { ...audit, sinceMs: nowMs - 60_000 };
const aborting = { ...audit, revert: false, atMs: nowMs - 60_000 };

describe('rollout control validators', () => {
  it.each(['reverting', 'succeeded', 'failed', 'aborted'] as const)(
    'refuse everything once the rollout is %s',
    (phase) => {
      const s = state({ phase });
      for (const validate of [
        () => validatePause(s, {}),
        () => validateResume(s, {}),
        () => validateAbort(s, { reason: 'x' }),
        () => validatePromote(s, {}),
        () => validateOverride(s, 'skipWindow', { reason: 'x' }),
      ])
        expect(validate).toThrow(`the rollout has ended (${phase})`);
    },
  );

  it('pause: refused while paused or aborting; a reason is optional but checked', () => {
    expect(() => validatePause(state(), undefined)).not.toThrow();
    expect(() => validatePause(state({ paused }), {})).toThrow(
      /already paused since 2026-03-02T07:59:00.000Z \(checking\)/,
    );
    expect(() => validatePause(state({ abort: aborting }), {})).toThrow(/being aborted/);
    expect(() => validatePause(state(), { reason: 'x'.repeat(501) })).toThrow(/keep it under 500/);
  });

  it('resume: only while paused', () => {
    expect(() => validateResume(state(), {})).toThrow(/not paused/);
    expect(() => validateResume(state({ paused }), { by: 'ops' })).not.toThrow();
  });

  it('abort: needs a reason (or the older note); revert must be a boolean; not twice', () => {
    expect(() => validateAbort(state(), {})).toThrow(/a note is required: say why/);
    expect(() => validateAbort(state(), { reason: '   ' })).toThrow(/a note is required/);
    expect(() => validateAbort(state(), { note: 'error rate up' })).not.toThrow();
    expect(() => validateAbort(state(), { reason: 'error rate up', revert: true })).not.toThrow();
    expect(() => validateAbort(state(), { reason: 'x', revert: 'yes' as unknown as boolean })).toThrow(
      /revert must be true or false/,
    );
    expect(() => validateAbort(state({ abort: aborting }), { reason: 'again' })).toThrow(/already aborting/);
  });

  it('promote: only during a pause between waves, naming the wave it starts', () => {
    expect(() => validatePromote(state({ phase: 'frozen', waiting: 'frozen by the calendar' }), {})).toThrow(
      'nothing to promote: the rollout is frozen (frozen by the calendar), not pausing between waves',
    );
    expect(promotableWave(state({ phase: 'awaiting-promotion', nextWave: 3 }))).toBe(3);
    expect(promotableWave(state({ phase: 'pausing', nextWave: 2 }))).toBe(2);
    expect(promotableWave(state({ phase: 'updating' }))).toBeUndefined();
    expect(() => validatePromote(state({ phase: 'pausing' }), { reason: 'canary looks good' })).not.toThrow();
  });

  it('skipWindow / liftFreeze: need windows and a reason; an until in the past or too far is refused', () => {
    expect(() => validateOverride(state({ hasWindows: false }), 'skipWindow', { reason: 'x' })).toThrow(
      /no deploy windows \(spec field windows\)/,
    );
    expect(() => validateOverride(state(), 'skipWindow', {})).toThrow(/a note is required/);
    expect(() => validateOverride(state(), 'skipWindow', { reason: 'escalation' })).not.toThrow();
    expect(() => validateOverride(state(), 'skipWindow', { reason: 'x', until: '2026-03-02T07:00:00Z' })).toThrow(
      /not in the future \(the workflow's time is 2026-03-02T08:00:00.000Z\)/,
    );
    expect(() => validateOverride(state(), 'skipWindow', { reason: 'x', until: '2026-07-02T07:00:00Z' })).toThrow(
      /more than 90 days/,
    );
    expect(() => validateOverride(state(), 'liftFreeze', { reason: 'x' })).toThrow(/liftFreeze needs until/);
    expect(() => validateOverride(state(), 'liftFreeze', { note: 'x', until: '2026-03-02T18:00:00Z' })).not.toThrow();
  });
});

describe('deploy chain steps', () => {
  it('have a heartbeat timeout several times the chain activities’ heartbeat interval', () => {
    const input = { timeouts: {} } as DeployInput;
    const timeout = Number(chainOptions(input, 120_000).heartbeatTimeout);
    expect(timeout).toBe(20_000);
    expect(timeout).toBeGreaterThanOrEqual(5 * CHAIN_HEARTBEAT_MS);
    expect(Number(chainOptions({ ...input, heartbeatTimeoutMs: 7000 }, 120_000).heartbeatTimeout)).toBe(7000);
  });
});

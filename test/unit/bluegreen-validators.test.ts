// The blue-green control rules as pure functions of the run's state: which request fits which phase, and what a
// refusal says. The same functions are the update validators of the running workflow (bluegreen-messages.ts).
import { describe, expect, it } from 'vitest';
import { BlueGreenState } from '../../src/workflows/bluegreen-state';
import type { BlueGreenPhase, Deployment } from '../../src/workflows/bluegreen-types';
import {
  acceptedActor,
  auditedActor,
  validateAbort,
  validateFinish,
  validatePause,
  validatePromote,
  validateResume,
  validateRollback,
} from '../../src/workflows/bluegreen-validators';
import { statusView } from '../../src/workflows/bluegreen-view';
import { blueGreenInput } from '../support/bluegreen-input';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const ASK = { by: 'alice', reason: 'checked' };
const deployment = (name: string): Deployment => ({
  name,
  slot: 'blue',
  appId: `app-${name}`,
  composeHash: 'abc',
  cvmIds: ['c1'],
  url: `http://${name}`,
  instanceUrls: [`http://${name}/0`],
});
const BLUE = deployment('webapp-aaaaaa');

function state(phase: BlueGreenPhase, more: Partial<BlueGreenState> = {}): BlueGreenState {
  return {
    ...new BlueGreenState(blueGreenInput('webapp', { minHealthy: '2s' })),
    phase,
    blue: BLUE,
    greenId: { name: 'webapp-bbbbbb', slot: 'green' },
    ...more,
  };
}

describe('who and why (AuditRequest)', () => {
  it('records by, reason and the instant; note is the older name of reason', () => {
    expect(auditedActor(ASK, NOW)).toEqual({ by: 'alice', reason: 'checked', at: '2026-12-07T12:00:00.000Z' });
    expect(auditedActor({ by: ' bob ', note: ' from an old script ' }, NOW)).toEqual({
      by: 'bob',
      reason: 'from an old script',
      at: '2026-12-07T12:00:00.000Z',
    });
    expect(auditedActor({ by: 'bob', reason: 'new', note: 'old' }, NOW).reason).toBe('new');
  });

  it('an accepted request becomes an audit entry without further checks (the handler runs on replay too)', () => {
    expect(acceptedActor({ by: ' dave ', note: ' old name ' }, NOW)).toEqual({
      by: 'dave',
      reason: 'old name',
      at: '2026-12-07T12:00:00.000Z',
    });
    expect(acceptedActor({ by: 'dave', reason: 'r'.repeat(600) }, NOW).reason).toHaveLength(600);
  });

  it('refuses a request without by or without a reason, naming the flag', () => {
    expect(() => auditedActor({ reason: 'x' }, NOW)).toThrow(/by is required/);
    expect(() => auditedActor({ by: 'x', reason: '  ' }, NOW)).toThrow(/reason is required \(--reason/);
    expect(() => auditedActor(undefined, NOW)).toThrow(/by is required/);
    expect(() => auditedActor({ by: 'x', reason: 'r'.repeat(501) }, NOW)).toThrow(/keep it under 500/);
  });
});

describe('promote', () => {
  it('is refused until green passed the health gate and the pre-promotion analysis', () => {
    expect(() => validatePromote(state('deploying'), ASK, NOW)).toThrow(/webapp-bbbbbb is still being deployed/);
    expect(() => validatePromote(state('health-gate', { healthText: '1 check' }), ASK, NOW)).toThrow(
      'green webapp-bbbbbb is not healthy yet: it must pass /health for 2s in a row (1 check)',
    );
    expect(() => validatePromote(state('pre-analysis'), ASK, NOW)).toThrow(/analysis is still running/);
    expect(() => validatePromote(state('preview', { healthText: '3 failed' }), ASK, NOW)).toThrow(
      'green webapp-bbbbbb is unhealthy: 3 failed',
    );
    expect(() => validatePromote(state('preview', { greenHealthy: true }), ASK, NOW)).not.toThrow();
  });

  it('is refused a second time, and once the run is ending', () => {
    const asked = state('preview', { greenHealthy: true, control: { promote: { ...ASK, at: '' } } });
    expect(() => validatePromote(asked, ASK, NOW)).toThrow(/^already promoted$/);
    const done = state('warm', { greenHealthy: true, promoted: { atMs: NOW, by: 'alice' } });
    expect(() => validatePromote(done, ASK, NOW)).toThrow('already promoted at 2026-12-07T12:00:00.000Z by alice');
    const aborting = state('preview', {
      greenHealthy: true,
      control: { end: { kind: 'abort', actor: { ...ASK, at: '' } } },
    });
    expect(() => validatePromote(aborting, ASK, NOW)).toThrow('the run is being torn down (abort)');
    expect(() => validatePromote(state('done', { outcome: 'expired' }), ASK, NOW)).toThrow('the run is over (expired)');
  });

  it('is refused without a reason before anything else is looked at', () => {
    expect(() => validatePromote(state('preview', { greenHealthy: true }), { by: 'a' }, NOW)).toThrow(
      /reason is required/,
    );
  });
});

describe('abort and rollback', () => {
  it('abort fits every phase until blue is being retired', () => {
    for (const phase of ['deploying', 'health-gate', 'preview', 'post-analysis', 'warm'] as const)
      expect(() => validateAbort(state(phase), ASK, NOW)).not.toThrow();
    expect(() => validateAbort(state('retiring'), ASK, NOW)).toThrow(/being retired/);
    expect(() => validateAbort(state('warm', { control: { finish: { ...ASK, at: '' } } }), ASK, NOW)).toThrow(
      /being retired/,
    );
    const firstDeployment = state('warm', { blue: undefined, promoted: { atMs: NOW, by: 'a' } });
    expect(() => validateAbort(firstDeployment, ASK, NOW)).toThrow(/no blue to send traffic back to/);
  });

  it('rollback fits only after promotion, while blue is warm', () => {
    expect(() => validateRollback(state('preview'), ASK, NOW)).toThrow(/nothing to roll back/);
    const promoted = { promoted: { atMs: NOW, by: 'a' } };
    expect(() => validateRollback(state('warm', promoted), ASK, NOW)).not.toThrow();
    expect(() => validateRollback(state('post-analysis', promoted), ASK, NOW)).not.toThrow();
    expect(() => validateRollback(state('retiring', promoted), ASK, NOW)).toThrow(
      /no longer kept warm \(phase retiring\)/,
    );
    expect(() => validateRollback(state('warm', { ...promoted, blue: undefined }), ASK, NOW)).toThrow(
      /first deployment/,
    );
  });
});

describe('pause, resume, finish', () => {
  it('pause holds automatic steps once; resume needs something paused or held', () => {
    expect(() => validatePause(state('preview'), ASK, NOW)).not.toThrow();
    const paused = state('preview', { control: { paused: { ...ASK, at: '', atMs: NOW } } });
    expect(() => validatePause(paused, ASK, NOW)).toThrow('already paused by alice (checked)');
    expect(() => validatePause(state('retiring'), ASK, NOW)).toThrow(/nothing automatic to pause in phase retiring/);
    expect(() => validateResume(state('preview'), ASK, NOW)).toThrow(/^not paused$/);
    expect(() => validateResume(paused, ASK, NOW)).not.toThrow();
    expect(() => validateResume(state('preview', { inconclusiveHold: true }), ASK, NOW)).not.toThrow();
  });

  it('finish fits only the warm phase, once', () => {
    expect(() => validateFinish(state('warm'), ASK, NOW)).not.toThrow();
    expect(() => validateFinish(state('preview'), ASK, NOW)).toThrow(/this one is in preview/);
    expect(() => validateFinish(state('warm', { control: { finish: { ...ASK, at: '' } } }), ASK, NOW)).toThrow(
      /already finishing/,
    );
  });
});

describe('status view', () => {
  it('shows when automatic promotion happens and when the preview expires, and who paused', () => {
    const input = blueGreenInput('webapp', { autoPromote: true, autoPromoteAfter: '30s', previewTtl: '10m' });
    const s: BlueGreenState = { ...new BlueGreenState(input), phase: 'preview', previewSince: NOW };
    expect(statusView(s).promotion).toEqual({
      mode: 'automatic',
      waiting: true,
      autoAtMs: NOW + 30_000,
      expiresAtMs: NOW + 600_000,
    });
    const paused = { ...ASK, at: '2026-12-07T12:00:00.000Z', atMs: NOW };
    const held = statusView({ ...s, control: { paused } }).promotion;
    expect(held.autoAtMs).toBeUndefined();
    expect(held.paused).toEqual(paused);
  });
});

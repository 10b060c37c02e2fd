// The `status` query's answer: a pure function of the run's state, so what `cvmflow bluegreen status` shows is
// unit-tested beside the validators.
import { autoPromoteAt, type BlueGreenState } from './bluegreen-state';
import type { BlueGreenStatus } from './bluegreen-types';

export function statusView(s: BlueGreenState): BlueGreenStatus {
  const { policy } = s.input;
  const autoAt = autoPromoteAt(s);
  return {
    app: s.input.app,
    phase: s.phase,
    ...(s.outcome ? { outcome: s.outcome } : {}),
    trigger: s.input.trigger,
    ...(s.blue ? { blue: s.blue } : {}),
    ...(s.greenId ? { green: { ...s.green, ...s.greenId } } : {}),
    active: s.active,
    preview: s.previewing,
    greenHealthy: s.greenHealthy,
    ...(s.healthText ? { health: s.healthText } : {}),
    promotion: {
      mode: policy.autoPromote ? 'automatic' : 'manual',
      waiting: s.phase === 'preview',
      ...(s.phase === 'preview' && autoAt !== undefined ? { autoAtMs: autoAt } : {}),
      ...(s.previewSince !== undefined && !s.promoted ? { expiresAtMs: s.previewSince + policy.previewTtlMs } : {}),
      ...(s.control.paused ? { paused: s.control.paused } : {}),
      ...(s.promoted ? { promotedAtMs: s.promoted.atMs, promotedBy: s.promoted.by } : {}),
    },
    ...(s.warmUntil !== undefined && s.phase === 'warm' ? { rollbackUntilMs: s.warmUntil } : {}),
    history: s.history,
    ...(s.lastError ? { lastError: s.lastError } : {}),
    ...(s.analyses.length ? { analyses: s.analyses } : {}),
  };
}

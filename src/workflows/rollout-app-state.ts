// What one app's share of a rollout wave knows at any instant, as plain data: its CVM records, the restore patches
// (those the rollout already had and those this run found), the wave's control, the failures so far. No Temporal
// calls here, so which CVMs get a turn, when the run stops starting turns, and the views are pure functions of this
// state (test/unit/rollout-app-state.test.ts). RolloutAppRun (rollout-app-run.ts) adds the Temporal side.
import type { DeployStatus } from './deploy-types';
import { needsRevert } from './rollout-plan';
import type { AppInput, AppResult, CvmRecord, RestorePatch, RolloutAppStatus, WaveControl } from './rollout-types';

const DEFAULTS = {
  apiAttemptTimeoutMs: 30_000,
  heartbeatTimeoutMs: 20_000,
  healthPollMs: 1000,
  watch: { intervalS: 5, timeoutS: 300 },
};

export class RolloutAppState {
  readonly tuning: typeof DEFAULTS;
  readonly revertMode: boolean;
  /** This run's copies of the CVM records: the steps update them in place; the result returns them. */
  readonly cvms: CvmRecord[];
  /** Every restore patch by key: the rollout's and those found by this run. */
  readonly restores: Record<string, RestorePatch>;
  /** Restore patches the rollout did not know yet: handed back in the result. */
  readonly newRestores: Record<string, RestorePatch> = {};
  private readonly known: Set<string>;
  control: WaveControl;
  failures = 0;
  cancelled = false;

  constructor(readonly input: AppInput) {
    this.tuning = { ...DEFAULTS, ...input.tuning, watch: input.tuning.watch ?? DEFAULTS.watch };
    this.revertMode = input.mode === 'revert';
    this.cvms = input.cvms.map((c) => ({ ...c }));
    this.restores = { ...input.restores };
    this.known = new Set(input.knownRestoreKeys);
    this.control = input.control;
  }

  /** The CVMs this run works on, in order: pending ones to update, or (revert mode) those still to put back. */
  queue(): CvmRecord[] {
    return this.cvms.filter((c) =>
      this.revertMode ? needsRevert(c) && c.state !== 'revert-failed' : c.state === 'pending',
    );
  }

  /** No more turns start: the wave said stop, the run was cancelled, or (updating) the failure budget is spent. */
  stopping(): boolean {
    return this.control.stop || this.cancelled || (!this.revertMode && this.failures > this.input.failuresLeft);
  }

  /** From here on the CVM may change, so it is revertable: its restore patch is recorded before the commit. */
  keepRestore(c: CvmRecord, key: string, patch: RestorePatch): void {
    c.restore = key;
    if (key in this.restores) return;
    this.restores[key] = patch;
    if (!this.known.has(key)) this.newRestores[key] = patch;
  }
}

/** It runs under the app's deployment id: `status` (and deploy's older `progress`) answer as a deploy would. */
export function deployView(s: RolloutAppState): DeployStatus {
  const { input, cvms } = s;
  return {
    app: input.app,
    phase: 'update',
    mode: 'update',
    ...(cvms[0] ? { appId: cvms[0].appId } : {}),
    cvms: cvms.map((c) => ({
      cvmId: c.cvmId,
      nodeId: null,
      status: `rollout ${input.rolloutId}: ${c.state}`,
      created: false,
    })),
    timingsMs: {},
  };
}

/** The deploy view with the rollout's own per-CVM records. */
export function appStatusView(s: RolloutAppState): RolloutAppStatus {
  const { input } = s;
  return {
    ...deployView(s),
    rollout: { rolloutId: input.rolloutId, wave: input.wave, mode: input.mode, cvms: s.cvms },
  };
}

export function appResult(s: RolloutAppState): AppResult {
  return {
    app: s.input.app,
    cvms: s.cvms,
    restores: s.newRestores,
    failures: s.failures,
    ...(s.cancelled ? { cancelled: true } : {}),
  };
}

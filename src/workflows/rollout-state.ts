// One run of the rollout workflow: the state carried across continue-as-new (`st`), what this run alone knows (its
// phase, the running wave, the `dirty` flag that Updates set) and the derived limits every step reads. The steps
// (rollout-targets, rollout-windows, rollout-waves, rollout-finish) and the message handlers (rollout-messages) work
// on it; src/workflows/rollout.ts is the pipeline that calls them in order.
import { upsertSearchAttributes } from '@temporalio/workflow';
import { UNKNOWN_ACTOR } from '../domain/audit-input';
import { iso } from '../domain/time';
import { SA_PHASE } from './deploy-types';
import { phaseReporter } from './observe';
import { realDelayMs, scheduleNow } from './power-decide';
import type { ScheduleClock } from './power-types';
import type { BackgroundLoops } from './rollout-background';
import { addRecord, type Gate, sizeOf, windowGate } from './rollout-plan';
import type {
  RolloutCarried,
  RolloutConfig,
  RolloutInput,
  RolloutPhase,
  RolloutTuning,
  WaveControl,
  WaveResult,
} from './rollout-types';

const DEFAULTS = { maxWavesPerRun: 20, maxRecords: 200, apiAttemptTimeoutMs: 30_000 };
export const FINISHED: readonly RolloutPhase[] = ['reverting', 'succeeded', 'failed', 'aborted'];

/** A wave child workflow this run started, and what it has been told. */
export interface RunningWave {
  index: number;
  mode: 'update' | 'revert';
  workflowId: string;
  done: boolean;
  result?: WaveResult;
  error?: unknown;
  sent: WaveControl;
}

export class RolloutRun {
  readonly config: RolloutConfig;
  readonly tuning: RolloutTuning & typeof DEFAULTS;
  /** The rollout's clock with its real anchor fixed at the first run (carried to the next ones). */
  readonly clock: Required<ScheduleClock> | undefined;
  readonly st: RolloutCarried;
  phase: RolloutPhase;
  waiting: string | undefined;
  current: RunningWave | undefined;
  /** Set by every Update: whatever the run waits on is worth re-checking. */
  dirty = false;
  wavesThisRun = 0;
  /** Why the rollout stops as failed (budget, deadline, a blocked or failed wave, the background analysis). */
  failure: string | undefined;
  /** The background analysis' loops while they run in this run (rollout-background.ts). */
  background: BackgroundLoops | undefined;
  /** Cancels the waves' scope: the background analysis failed, so no wave may go on. */
  stopWaves: (() => void) | undefined;
  /** Target CVMs by id: their position in `st.cvms`. */
  readonly index: Map<string, number>;
  private readonly announce = phaseReporter();

  constructor(
    readonly input: RolloutInput,
    readonly rolloutId: string,
  ) {
    this.config = input.config;
    this.tuning = { ...DEFAULTS, ...input.tuning };
    this.clock = input.clock && { ...input.clock, realAnchorMs: input.clock.realAnchorMs ?? Date.now() };
    this.st = input.carried ? withAuditFields(input.carried) : freshState(this.now());
    this.st.runs++;
    this.phase = input.carried ? 'updating' : 'starting';
    this.index = new Map(this.st.cvms.map((c, i) => [c.cvmId, i]));
  }

  /** Now on the rollout's clock (scaled in tests and demos). */
  now(): number {
    return scheduleNow(this.clock, Date.now());
  }

  total(): number {
    return this.st.cvms.length;
  }

  maxUnavailable(): number {
    return sizeOf(this.config.strategy.maxUnavailable, this.total(), 'down', 1);
  }

  budget(): number {
    return sizeOf(this.config.failureBudget, this.total(), 'down', 0);
  }

  finished(): boolean {
    return FINISHED.includes(this.phase);
  }

  record(text: string): void {
    addRecord(this.st, this.now(), text, this.tuning.maxRecords);
  }

  /** Announces the first phase (a fresh rollout only; a continued run is already `updating`). */
  announceStart(): void {
    upsertSearchAttributes([{ key: SA_PHASE, value: this.phase }]);
    this.announce(this.phase);
  }

  setPhase(next: RolloutPhase, why?: string): void {
    if (next !== this.phase) upsertSearchAttributes([{ key: SA_PHASE, value: next }]);
    this.announce(next, why);
    if (why && (why !== this.waiting || next !== this.phase)) this.record(`${next}: ${why}`);
    this.phase = next;
    this.waiting = why;
  }

  /** The deploy-window calendar with the overrides applied, now; undefined without windows. */
  gate(): Gate | undefined {
    const windows = this.config.windows;
    return windows ? windowGate(windows.calendar, this.st.overrides, this.now()) : undefined;
  }

  /** The real delay until the gate may change, for a wait's timeout. */
  wakeFor(g: Gate | undefined): number | undefined {
    return g?.recheckAtMs === undefined ? undefined : realDelayMs(this.clock, g.recheckAtMs - this.now());
  }

  /** What a running update wave should be told now: stop (abort), hold (pause, window closed) or go on. */
  waveControl(): WaveControl {
    const st = this.st;
    if (st.abort) return { hold: false, stop: true, reason: `abort: ${st.abort.reason}` };
    // Set while a wave runs only by the background analysis: the wave starts no more CVMs.
    if (this.failure) return { hold: false, stop: true, reason: `failed: ${this.failure}` };
    if (st.paused) return { hold: true, stop: false, reason: `paused: ${st.paused.reason}` };
    const g = this.gate();
    if (g && !g.open && this.config.windows?.onWindowEnd === 'pause')
      return { hold: true, stop: false, reason: g.cause };
    return { hold: false, stop: false };
  }
}

function freshState(nowMs: number): RolloutCarried {
  return {
    resolved: { atMs: 0, apps: 0 },
    waves: [],
    cvms: [],
    restores: {},
    nextWave: 0,
    failures: 0,
    overrides: [],
    overrideSeq: 0,
    records: [],
    foldedRecords: 0,
    nextSeq: 1,
    waveLog: [],
    startedAtMs: nowMs,
    runs: 0,
  };
}

/** State carried from a run before `{by, reason}` holds only `note`: the reason is the note, the asker unknown. */
function withAuditFields(st: RolloutCarried): RolloutCarried {
  const fill = <T extends { note: string; by?: string; reason?: string; at?: string }>(a: T, atMs: number): T => ({
    ...a,
    by: a.by ?? UNKNOWN_ACTOR,
    reason: a.reason ?? a.note,
    at: a.at ?? iso(atMs),
  });
  return {
    ...st,
    ...(st.paused ? { paused: fill(st.paused, st.paused.sinceMs) } : {}),
    ...(st.abort ? { abort: fill(st.abort, st.abort.atMs) } : {}),
    overrides: st.overrides.map((o) => fill(o, o.createdAtMs)),
  };
}

// A rollout of a new version across a fleet of CVMs: targets resolved once and recorded, a canary, then waves —
// each wave a child workflow (src/workflows/rollout-wave.ts) that updates its CVMs under their apps' deployment
// locks. Between waves: the configured pause (a duration, or until `promote`), the deploy-window calendar (a wave
// starts only inside a window, never in a freeze, unless an override says otherwise) and `pause`. Failures beyond
// the budget, a missed wave deadline or `abort` stop the rollout; CVMs it updated are then put back on their
// previous compose (autoRevert, or abort with revert) by a revert wave. Control is through validated Updates;
// the full state moves to a fresh run (continue-as-new) between waves, so history stays small for any fleet size.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import {
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { AnalysisActivities } from '../activities/analysis-activities';
import type { ComposeUpdateActivities } from '../activities/compose-update-activities';
import type { RolloutActivities } from '../activities/rollout-activities';
import { formatInstant, safeParseCalendar } from '../calendar';
import { iso } from '../domain/time';
import { NON_RETRYABLE_TYPES } from './activity-options';
import { analysisBoundMs, metricLines } from './analysis-report';
import { SA_PHASE } from './deploy-types';
import { describeError } from './errors';
import { phaseReporter } from './observe';
import { realDelayMs, scheduleNow } from './power-decide';
import { decideWaveAnalysis, waveAnalysisVars } from './rollout-analysis';
import {
  addRecord,
  checkNote,
  checkUntil,
  countStates,
  describeSize,
  type Gate,
  isUnavailable,
  needsRevert,
  planWaves,
  sizeOf,
  updateOrder,
  windowGate,
} from './rollout-plan';
import {
  abortRolloutUpdate,
  type ControlAck,
  type CvmRecord,
  type CvmState,
  liftFreezeUpdate,
  MAX_ROLLOUT_TARGETS,
  type Override,
  type OverrideKind,
  type OverrideRequest,
  pauseRolloutUpdate,
  promoteRolloutUpdate,
  type RolloutCarried,
  type RolloutInput,
  type RolloutPhase,
  type RolloutResult,
  type RolloutStatus,
  resumeRolloutUpdate,
  rolloutStatusQuery,
  skipWindowUpdate,
  type TargetCvm,
  type WaveControl,
  type WaveInput,
  type WaveResult,
  waveControlSignal,
  waveWorkflowId,
} from './rollout-types';
import { rolloutWave } from './rollout-wave';

// The wave and app workflows are registered through this module (src/workflows/index.ts).
export { rolloutApp } from './rollout-app';
export { rolloutWave } from './rollout-wave';

const DEFAULTS = { maxWavesPerRun: 20, maxRecords: 200, apiAttemptTimeoutMs: 30_000 };
/** Apps named in a refusal's message (each with its calldata); all of them are in the failure's details. */
const MAX_NAMED_APPS = 10;
const RETRY = { initialInterval: 1000, backoffCoefficient: 2, maximumInterval: 10_000, maximumAttempts: 5 };
const SCHEDULED_BY = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);
/** Wave analyses kept in state (each carries its last measurements). */
const MAX_ANALYSES = 10;
const FINISHED: RolloutPhase[] = ['reverting', 'succeeded', 'failed', 'aborted'];

interface RunningWave {
  index: number;
  mode: 'update' | 'revert';
  workflowId: string;
  done: boolean;
  result?: WaveResult;
  error?: unknown;
  sent: WaveControl;
}

export async function rollout(input: RolloutInput): Promise<RolloutResult> {
  const config = input.config;
  checkConfig(input);
  const tuning = { ...DEFAULTS, ...input.tuning };
  const clock = input.clock && { ...input.clock, realAnchorMs: input.clock.realAnchorMs ?? Date.now() };
  const now = () => scheduleNow(clock, Date.now());
  const rolloutId = workflowInfo().workflowId;
  const strategy = config.strategy;
  const windows = config.windows;

  const st: RolloutCarried = input.carried ?? {
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
    startedAtMs: now(),
    runs: 0,
  };
  st.runs++;
  let phase: RolloutPhase = input.carried ? 'updating' : 'starting';
  let waiting: string | undefined;
  let current: RunningWave | undefined;
  /** Set by every Update: whatever the loop waits on is worth re-checking. */
  let dirty = false;
  let wavesThisRun = 0;
  const index = new Map(st.cvms.map((c, i) => [c.cvmId, i]));
  const total = () => st.cvms.length;
  const maxUnavailable = () => sizeOf(strategy.maxUnavailable, total(), 'down', 1);
  const budget = () => sizeOf(config.failureBudget, total(), 'down', 0);

  const record = (text: string) => addRecord(st, now(), text, tuning.maxRecords);
  const announce = phaseReporter();
  const setPhase = (next: RolloutPhase, why?: string) => {
    if (next !== phase) upsertSearchAttributes([{ key: SA_PHASE, value: next }]);
    announce(next, why);
    if (why && (why !== waiting || next !== phase)) record(`${next}: ${why}`);
    phase = next;
    waiting = why;
  };
  const gate = (): Gate | undefined => (windows ? windowGate(windows.calendar, st.overrides, now()) : undefined);
  const wakeFor = (g: Gate | undefined) =>
    g?.recheckAtMs === undefined ? undefined : realDelayMs(clock, g.recheckAtMs - now());

  const api = proxyActivities<RolloutActivities>({
    startToCloseTimeout: tuning.apiAttemptTimeoutMs,
    scheduleToCloseTimeout: 4 * tuning.apiAttemptTimeoutMs + 60_000,
    retry: { ...RETRY, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
  });

  // ------------------------------------------------------------------------------------------------------------
  // Messages

  const ack = (message: string): ControlAck => {
    dirty = true;
    record(message);
    return { phase, message };
  };
  const notFinished = () => {
    if (FINISHED.includes(phase)) throw new Error(`the rollout has ended (${phase}); nothing to control`);
  };

  setHandler(rolloutStatusQuery, () => statusView());

  setHandler(
    pauseRolloutUpdate,
    (req) => {
      const note = checkNote(req?.note, false) || 'paused';
      st.paused = { note, sinceMs: now() };
      return ack(`paused: no new CVM update starts until resume (${note}); updates in flight finish`);
    },
    {
      validator: (req) => {
        notFinished();
        if (st.abort) throw new Error('the rollout is being aborted');
        if (st.paused) throw new Error(`already paused since ${iso(st.paused.sinceMs)} (${st.paused.note})`);
        checkNote(req?.note, false);
      },
    },
  );

  setHandler(
    resumeRolloutUpdate,
    (req) => {
      const p = st.paused!;
      st.paused = undefined;
      const note = checkNote(req?.note, false);
      return ack(`resumed after ${Math.round((now() - p.sinceMs) / 1000)}s${note ? ` (${note})` : ''}`);
    },
    {
      validator: (req) => {
        notFinished();
        if (!st.paused) throw new Error('the rollout is not paused');
        checkNote(req?.note, false);
      },
    },
  );

  setHandler(
    abortRolloutUpdate,
    (req) => {
      const revert = req.revert === true;
      st.abort = { note: checkNote(req.note, true), revert, atMs: now() };
      const updated = st.cvms.filter(needsRevert).length;
      return ack(
        `abort (${st.abort.note}): no new CVM update starts; updates in flight finish${revert ? `; then every CVM this rollout updated (${updated} so far) goes back to its previous compose` : '; updated CVMs stay as they are'}`,
      );
    },
    {
      validator: (req) => {
        notFinished();
        if (st.abort) throw new Error(`already aborting since ${iso(st.abort.atMs)} (${st.abort.note})`);
        checkNote(req?.note, true);
        if (req.revert !== undefined && typeof req.revert !== 'boolean')
          throw new Error('revert must be true or false');
      },
    },
  );

  /** The wave whose start waits on a pause that promote may end, if any. */
  const promotable = () => (phase === 'awaiting-promotion' || phase === 'pausing' ? st.nextWave : undefined);
  setHandler(
    promoteRolloutUpdate,
    (req) => {
      const wave = promotable()!;
      st.promotedWave = wave;
      const note = checkNote(req?.note, false);
      return ack(`promoted: wave ${wave} may start${note ? ` (${note})` : ''}`);
    },
    {
      validator: (req) => {
        notFinished();
        if (promotable() === undefined)
          throw new Error(
            `nothing to promote: the rollout is ${phase}${waiting ? ` (${waiting})` : ''}, not pausing between waves`,
          );
        checkNote(req?.note, false);
      },
    },
  );

  const override = (kind: OverrideKind) => ({
    handler: (req: OverrideRequest): Override => {
      const o: Override = {
        id: `o${++st.overrideSeq}`,
        kind,
        note: checkNote(req.note, true),
        createdAtMs: now(),
        ...(req.until ? { untilMs: checkUntil(req.until, now()) } : {}),
      };
      st.overrides.push(o);
      const until = o.untilMs === undefined ? 'until the next wave ends' : `until ${iso(o.untilMs)}`;
      ack(
        `override ${o.id}: ${kind === 'skipWindow' ? 'deploy window skipped' : 'freeze lifted'} ${until} (${o.note})`,
      );
      return o;
    },
    validator: (req: OverrideRequest) => {
      notFinished();
      if (!windows) throw new Error('this rollout has no deploy windows (spec field windows)');
      checkNote(req?.note, true);
      if (kind === 'liftFreeze' && req.until === undefined)
        throw new Error('liftFreeze needs until: the instant the freeze applies again');
      if (req.until !== undefined) checkUntil(req.until, now());
    },
  });
  const skip = override('skipWindow');
  const lift = override('liftFreeze');
  setHandler(skipWindowUpdate, skip.handler, { validator: skip.validator });
  setHandler(liftFreezeUpdate, lift.handler, { validator: lift.validator });

  // ------------------------------------------------------------------------------------------------------------
  // Waves

  function control(): WaveControl {
    if (st.abort) return { hold: false, stop: true, reason: `abort: ${st.abort.note}` };
    if (st.paused) return { hold: true, stop: false, reason: `paused: ${st.paused.note}` };
    const g = gate();
    if (g && !g.open && windows?.onWindowEnd === 'pause') return { hold: true, stop: false, reason: g.cause };
    return { hold: false, stop: false };
  }

  function merge(result: WaveResult, mode: 'update' | 'revert'): void {
    for (const c of result.cvms) {
      const i = index.get(c.cvmId);
      if (i !== undefined) st.cvms[i] = c;
    }
    Object.assign(st.restores, result.restores);
    const entry = st.waveLog.find((w) => w.index === result.wave && w.mode === mode);
    if (entry) Object.assign(entry, { endedAtMs: now(), outcome: result.outcome, counts: countStates(result.cvms) });
  }

  async function runWave(
    wave: number,
    mode: 'update' | 'revert',
    cvms: CvmRecord[],
    reason: string,
  ): Promise<WaveResult> {
    const workflowId = waveWorkflowId(rolloutId, wave, mode);
    const sent = mode === 'revert' ? { hold: false, stop: false } : control();
    const args: WaveInput = {
      rolloutId,
      rolloutName: config.name,
      wave,
      mode,
      cvms,
      version: config.version,
      // A revert takes CVMs down too, so it keeps within maxUnavailable by its concurrency alone (it does not count
      // the failed CVMs it is there to fix, which could otherwise block it).
      strategy:
        mode === 'revert'
          ? { maxParallel: Math.min(strategy.maxParallel, maxUnavailable()), jitterMs: 0 }
          : { maxParallel: strategy.maxParallel, jitterMs: strategy.jitterMs },
      maxUnavailable: maxUnavailable(),
      unavailableBefore: st.cvms.filter((c) => c.wave !== wave && isUnavailable(c)).length,
      failuresLeft: Math.max(0, budget() - st.failures),
      health: config.health,
      deadlines: {
        cvmMs: config.deadlines.cvmMs,
        // A revert covers many waves' worth of CVMs: one wave deadline per maxParallel of them.
        waveMs:
          mode === 'revert'
            ? config.deadlines.waveMs * Math.ceil(cvms.length / strategy.maxParallel)
            : config.deadlines.waveMs,
      },
      autoRevert: config.autoRevert,
      onBusy: mode === 'revert' ? 'wait' : config.onBusy,
      restores: mode === 'revert' ? st.restores : {},
      knownRestoreKeys: Object.keys(st.restores),
      control: sent,
      tuning: input.tuning ?? {},
    };
    const kind = mode === 'update' ? (st.waves[wave]?.kind ?? 'wave') : 'wave';
    st.waveLog.push({ index: wave, kind, mode, startedAtMs: now() });
    record(`${mode === 'revert' ? 'revert' : kind} ${wave} started: ${cvms.length} CVMs (${reason})`);
    // Started outside the rollout's cancellation scope: a cancelled rollout stops its wave itself and waits for its
    // report, so it knows which CVMs to put back.
    const handle = await CancellationScope.nonCancellable(() => startChild(rolloutWave, { workflowId, args: [args] }));
    const running: RunningWave = { index: wave, mode, workflowId, done: false, sent };
    current = running;
    handle.result().then(
      (r) => Object.assign(running, { done: true, result: r }),
      (e) => Object.assign(running, { done: true, error: e }),
    );
    while (!running.done) {
      dirty = false;
      await condition(() => running.done || dirty, mode === 'update' ? wakeFor(gate()) : undefined);
      if (mode === 'update') await steer(running);
    }
    return finishWave(running);
  }

  /** Sends the wave the control it should have now (pause, window end, abort); the latest signal wins. */
  async function steer(running: RunningWave): Promise<void> {
    const next = control();
    if (running.done || (next.hold === running.sent.hold && next.stop === running.sent.stop)) return;
    running.sent = next;
    if (next.hold) setPhase('paused', next.reason);
    else setPhase('updating');
    await getExternalWorkflowHandle(running.workflowId)
      .signal(waveControlSignal, next)
      .catch(() => undefined);
  }

  function finishWave(running: RunningWave): WaveResult {
    current = undefined;
    if (running.error !== undefined || !running.result) {
      throw ApplicationFailure.create({
        type: 'RolloutFailed',
        nonRetryable: true,
        message: `wave ${running.index} (${running.workflowId}) failed: ${describeError(running.error)}`,
      });
    }
    merge(running.result, running.mode);
    const r = running.result;
    record(
      `${running.mode === 'revert' ? 'revert' : 'wave'} ${r.wave} ended: ${r.outcome}${r.reason ? ` (${r.reason})` : ''}; ${summary(countStates(r.cvms))}`,
    );
    return r;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Waiting between waves

  async function pauseBefore(wave: number): Promise<void> {
    if (wave === 0 || st.promotedWave === wave) return;
    const previous = st.waves[wave - 1]!;
    const pause = previous.kind === 'canary' && strategy.canary ? strategy.canary.pause : strategy.pause;
    if ('manual' in pause) {
      setPhase(
        'awaiting-promotion',
        `wave ${wave - 1} done; manual pause: \`cvmflow rollout promote\` starts wave ${wave}`,
      );
      await condition(() => st.promotedWave === wave || st.abort !== undefined);
      return;
    }
    if (pause.ms <= 0) return;
    const endedAt = st.waveLog.filter((w) => w.mode === 'update').at(-1)?.endedAtMs ?? now();
    const until = endedAt + pause.ms;
    if (until <= now()) return;
    setPhase('pausing', `pause before wave ${wave} until ${iso(until)} (promote to start it now)`);
    await condition(() => st.promotedWave === wave || st.abort !== undefined, realDelayMs(clock, until - now()));
  }

  async function startGate(wave: number): Promise<void> {
    for (;;) {
      if (st.abort) return;
      pruneOverrides();
      if (st.paused) {
        setPhase('paused', `before wave ${wave}: ${st.paused.note}`);
        await condition(() => !st.paused || st.abort !== undefined);
        continue;
      }
      const g = gate();
      if (g && !g.open) {
        const next = g.recheckAtMs === undefined ? '' : `; next change ${iso(g.recheckAtMs)}`;
        setPhase(g.state === 'frozen' ? 'frozen' : 'waiting-window', `wave ${wave} waits: ${g.cause}${next}`);
        dirty = false;
        await condition(() => dirty, wakeFor(g));
        continue;
      }
      return;
    }
  }

  function pruneOverrides(): void {
    const t = now();
    const expired = st.overrides.filter((o) => o.untilMs !== undefined && o.untilMs <= t);
    if (!expired.length) return;
    st.overrides = st.overrides.filter((o) => !expired.includes(o));
    for (const o of expired) record(`override ${o.id} (${o.kind}) expired`);
  }

  /** A skipWindow without an end covers one wave. */
  function useUpWaveOverrides(): void {
    const used = st.overrides.filter((o) => o.kind === 'skipWindow' && o.untilMs === undefined);
    if (!used.length) return;
    st.overrides = st.overrides.filter((o) => !used.includes(o));
    for (const o of used) record(`override ${o.id} (skipWindow) used up by the wave`);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Views

  function statusView(): RolloutStatus {
    const g = gate();
    const change = g?.recheckAtMs;
    return {
      rolloutId,
      name: config.name,
      phase,
      ...(waiting ? { waiting } : {}),
      nowMs: now(),
      targets: total(),
      waves: { total: st.waves.length, next: st.nextWave, log: st.waveLog },
      ...(current ? { currentWave: { index: current.index, workflowId: current.workflowId, mode: current.mode } } : {}),
      counts: countStates(st.cvms),
      failures: { count: st.failures, budget: budget() },
      limits: { maxParallel: strategy.maxParallel, maxUnavailable: maxUnavailable() },
      ...(g && windows
        ? {
            window: {
              timezone: windows.calendar.timezone,
              state: g.state,
              open: g.open,
              cause: g.cause,
              ...(change !== undefined
                ? {
                    nextChange: {
                      atMs: change,
                      at: formatInstant(windows.calendar.timezone, change),
                      state: windowGate(windows.calendar, st.overrides, change).state,
                    },
                  }
                : {}),
            },
          }
        : {}),
      overrides: st.overrides,
      ...(st.paused ? { paused: st.paused } : {}),
      ...(st.abort ? { abort: st.abort } : {}),
      cvms: st.cvms,
      records: st.records,
      foldedRecords: st.foldedRecords,
      run: st.runs,
      ...(st.analyses?.length ? { analyses: st.analyses } : {}),
    };
  }

  // ------------------------------------------------------------------------------------------------------------
  // The run

  if (!input.carried) {
    upsertSearchAttributes([{ key: SA_PHASE, value: phase }]);
    announce(phase);
    const scheduledBy = workflowInfo().typedSearchAttributes.get(SCHEDULED_BY);
    record(scheduledBy ? `started by schedule ${scheduledBy}` : 'started');
    await resolveTargets();
  }

  async function resolveTargets(): Promise<void> {
    const found = await api.rolloutResolveTargets({ targets: config.targets });
    const problems = [...found.unresolved];
    if (found.cvms.length === 0 && !problems.length) problems.push('the targets match no CVM');
    if (found.cvms.length > MAX_ROLLOUT_TARGETS)
      problems.push(
        `${found.cvms.length} CVMs match, more than the ${MAX_ROLLOUT_TARGETS} one rollout may hold: split it`,
      );
    if (problems.length) {
      setPhase('failed', problems.join('; '));
      throw ApplicationFailure.create({
        type: 'RolloutTargets',
        nonRetryable: true,
        message: `rollout ${config.name}: ${problems.join('; ')}`,
      });
    }
    const onChain = found.cvms.filter((c) => c.onChain);
    if (onChain.length && patched('one-compose-update')) await refuseExternalApprovals(onChain);
    const ordered = updateOrder(found.cvms);
    st.waves = planWaves(ordered.length, {
      canary: strategy.canary?.size,
      waveSize: strategy.waveSize,
      maxParallel: strategy.maxParallel,
    });
    const waveOf = (i: number) => st.waves.find((w) => i >= w.first && i < w.first + w.count)!.index;
    st.cvms = ordered.map((t, i) => ({
      cvmId: t.cvmId,
      name: t.name,
      app: t.app,
      appId: t.appId,
      wave: waveOf(i),
      state: 'pending',
    }));
    for (const [i, c] of st.cvms.entries()) index.set(c.cvmId, i);
    const apps = new Set(ordered.map((t) => t.app)).size;
    st.resolved = { atMs: now(), apps, ...(config.targets.selector ? { selector: config.targets.selector.name } : {}) };
    const shape = st.waves.map((w) => (w.kind === 'canary' ? `canary ${w.count}` : String(w.count))).join(' + ');
    record(
      `targets resolved: ${ordered.length} CVMs of ${apps} apps; waves ${shape}; maxParallel ${strategy.maxParallel}, maxUnavailable ${maxUnavailable()} (${describeSize(strategy.maxUnavailable)}), failure budget ${budget()} (${describeSize(config.failureBudget)})`,
    );
  }

  /**
   * On-chain apps need the new compose hash on their allow-list before a commit. The worker's key approves it for the
   * apps it owns; an app owned by another account (a multisig) is refused here, before any CVM changes, naming the
   * owner and the transaction to sign — a rollout runs unattended in a deploy window, where waiting on a person in
   * the middle of a wave would hold its slots and miss its deadline. Once the owners have sent it, a new rollout
   * finds the hash allowed and goes through.
   */
  async function refuseExternalApprovals(targets: TargetCvm[]): Promise<void> {
    const firstPerApp = [...new Map(targets.map((c) => [c.appId, c])).values()];
    const v = config.version;
    const { needed, signer } = await proxyActivities<ComposeUpdateActivities>({
      startToCloseTimeout: tuning.apiAttemptTimeoutMs * (1 + firstPerApp.length),
      heartbeatTimeout: input.tuning?.heartbeatTimeoutMs ?? 20_000,
      retry: { ...RETRY, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
    }).composeApprovalCheck({
      cvms: firstPerApp.map((c) => ({ cvmId: c.cvmId, app: c.app })),
      change: { dockerCompose: v.dockerCompose, preLaunchScript: v.preLaunchScript, allowedEnvs: v.allowedEnvs },
    });
    if (!needed.length) return;
    // The message names a few apps; the failure's details carry every one, for scripts.
    const apps = needed
      .slice(0, MAX_NAMED_APPS)
      .map(
        (n) =>
          `app ${n.app} (contract ${n.appId} on chain ${n.chainId}) is owned by ${n.owner}: it must send addComposeHash(${n.composeHash}) to ${n.appId}, data ${n.calldata}`,
      );
    if (needed.length > MAX_NAMED_APPS) apps.push(`${needed.length - MAX_NAMED_APPS} more in the failure's details`);
    const message = `rollout ${config.name}: the worker's key${signer ? ` ${signer}` : ''} may not approve the new compose hash of ${needed.length} on-chain app(s) it does not own; ${apps.join('; ')}. Once the owners have sent these transactions, start the rollout again: nothing was changed`;
    setPhase('failed', message);
    throw ApplicationFailure.create({ type: 'ApprovalNeeded', nonRetryable: true, message, details: [needed] });
  }

  /**
   * The wave's metric analysis, once its CVMs are healthy: a failure spends the budget or fails the rollout (the
   * returned reason); errors and inconclusive results pause it until someone resumes or aborts.
   */
  async function analyseWave(wave: number, analysis: NonNullable<typeof config.analysis>): Promise<string | undefined> {
    const updated = st.cvms.filter((c) => c.wave === wave && c.state === 'healthy');
    if (!updated.length) return undefined;
    setPhase('analysing', `wave ${wave}: ${analysis.metrics.length} metric(s) over ${updated.length} CVMs`);
    const result = await proxyActivities<AnalysisActivities>({
      startToCloseTimeout: analysisBoundMs(analysis.metrics) + 60_000,
      heartbeatTimeout: input.tuning?.heartbeatTimeoutMs ?? 20_000,
      retry: { ...RETRY, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
    }).analysisRun({ metrics: analysis.metrics, vars: waveAnalysisVars(config.name, wave, updated) });
    st.analyses = [...(st.analyses ?? []), { ...result, wave, atMs: now() }].slice(-MAX_ANALYSES);
    for (const line of metricLines(result)) record(`wave ${wave} analysis: ${line}`);
    const next = decideWaveAnalysis(result, {
      wave,
      onFailure: analysis.onFailure,
      failures: st.failures,
      budget: budget(),
    });
    if (next.kind === 'fail') return next.reason;
    if (next.kind === 'spend') {
      st.failures += 1;
      record(next.note);
    } else if (next.kind === 'pause') {
      st.paused = { note: next.note, sinceMs: now() };
      setPhase('paused', next.note);
      await condition(() => !st.paused || st.abort !== undefined);
    }
    return undefined;
  }

  let failure: string | undefined;
  let cancelled: unknown;
  try {
    await CancellationScope.cancellable(async () => {
      while (st.nextWave < st.waves.length && !st.abort) {
        const wave = st.nextWave;
        await pauseBefore(wave);
        if (st.abort) break;
        await startGate(wave);
        if (st.abort) break;
        setPhase('updating');
        const plan = st.waves[wave]!;
        const cvms = st.cvms.slice(plan.first, plan.first + plan.count);
        let result: WaveResult;
        try {
          result = await runWave(wave, 'update', cvms, plan.kind);
        } catch (err) {
          if (isCancellation(err)) throw err;
          // The wave workflow itself failed: stop, and put back what the rollout knows it changed.
          failure = describeError(err);
          break;
        }
        st.failures += result.failures;
        st.nextWave = wave + 1;
        wavesThisRun++;
        useUpWaveOverrides();
        if (result.outcome === 'budget-exceeded')
          failure = `failure budget exceeded: ${st.failures} CVMs failed, ${budget()} allowed${'percent' in config.failureBudget ? ` (${describeSize(config.failureBudget)})` : ''}`;
        else if (result.outcome === 'deadline-exceeded')
          failure = `wave ${wave} missed its deadline (${config.deadlines.waveMs} ms)`;
        else if (result.outcome === 'blocked') failure = `wave ${wave} could not go on: ${result.reason}`;
        if (!failure && result.outcome === 'done' && config.analysis && patched('metric-analysis'))
          failure = await analyseWave(wave, config.analysis);
        if (failure || result.outcome === 'stopped' || st.abort) break;
        const due = wavesThisRun >= tuning.maxWavesPerRun || workflowInfo().continueAsNewSuggested;
        if (due && st.nextWave < st.waves.length) {
          await condition(allHandlersFinished);
          await continueAsNew<typeof rollout>({ ...input, clock, carried: st });
        }
      }
    });
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelled = err;
    st.abort ??= { note: 'the rollout workflow was cancelled', revert: config.autoRevert, atMs: now() };
  }

  return await CancellationScope.nonCancellable(async () => {
    if (current && !current.done) {
      // Cancelled mid-wave: the wave stops starting CVMs, finishes those in flight and reports them.
      await steer(current);
      await condition(() => current?.done === true);
      const r = finishWave(current);
      st.failures += r.failures;
    }
    const revert = failure ? config.autoRevert : st.abort?.revert === true;
    const why = failure ? `rollout failed: ${failure}` : st.abort ? `rollout aborted: ${st.abort.note}` : '';
    const toRevert = revert ? st.cvms.filter(needsRevert) : [];
    if (toRevert.length) {
      setPhase('reverting', `${toRevert.length} CVMs back to their previous compose (${why})`);
      // A CVM whose own revert failed earlier gets another try here.
      const batch = toRevert.map((c) => ({
        ...c,
        state: c.state === 'revert-failed' ? ('failed' as const) : c.state,
        reason: c.state === 'healthy' ? why : `${c.reason}; ${why}`,
      }));
      await runWave(st.waveLog.filter((w) => w.mode === 'revert').length, 'revert', batch, why);
    }
    const outcome: RolloutResult['outcome'] = failure ? 'failed' : st.abort ? 'aborted' : 'succeeded';
    setPhase(outcome, failure ?? (st.abort ? st.abort.note : summary(countStates(st.cvms))));
    await condition(allHandlersFinished);
    if (cancelled) throw cancelled;
    const result: RolloutResult = {
      rolloutId,
      name: config.name,
      outcome,
      ...(failure ? { reason: failure } : st.abort ? { reason: st.abort.note } : {}),
      counts: countStates(st.cvms),
      waves: st.waveLog,
      cvms: st.cvms,
      startedAtMs: st.startedAtMs,
      endedAtMs: now(),
    };
    if (outcome === 'failed') {
      throw ApplicationFailure.create({
        type: 'RolloutFailed',
        nonRetryable: true,
        message: `rollout ${config.name} failed: ${failure}; ${revert ? revertReport(st.cvms, toRevert) : 'nothing reverted (autoRevert: false)'}`,
        details: [{ counts: result.counts, waves: result.waves }],
      });
    }
    return result;
  });
}

/**
 * Every CVM a revert acted on: those the final revert wave took, and those autoRevert put back on their own as soon
 * as they failed, during the waves (not counting the latter under-reported the revert).
 */
function revertReport(cvms: readonly CvmRecord[], finalWave: readonly CvmRecord[]): string {
  const inFinal = new Set(finalWave.map((c) => c.cvmId));
  const touched = cvms.filter((c) => inFinal.has(c.cvmId) || REVERT_STATES.has(c.state));
  return touched.length ? `revert of ${touched.length} CVMs: ${summary(countStates(touched))}` : 'nothing to revert';
}
const REVERT_STATES = new Set<CvmState>(['reverted', 'revert-failed', 'diverged']);

function summary(counts: Partial<Record<string, number>>): string {
  const parts = Object.entries(counts).map(([state, n]) => `${n} ${state}`);
  return parts.length ? parts.join(', ') : 'no CVMs';
}

function checkConfig(input: RolloutInput): void {
  const c = input?.config;
  const problems: string[] = [];
  if (!c?.name) problems.push('name is missing');
  if (!c?.targets || (c.targets.apps.length + c.targets.cvms.length === 0 && !c.targets.selector))
    problems.push('no targets');
  if (!(c?.strategy?.maxParallel >= 1)) problems.push('strategy.maxParallel must be at least 1');
  if (!c?.version?.dockerCompose && !c?.version?.sealedEnv) problems.push('version needs a compose or env');
  if (c?.windows) {
    const cal = safeParseCalendar(c.windows.calendar);
    if (!cal.ok) problems.push(...cal.issues.map((i) => `windows.calendar.${i.path}: ${i.message}`));
  }
  if (problems.length)
    throw ApplicationFailure.create({
      type: 'InvalidInput',
      nonRetryable: true,
      message: `invalid rollout: ${problems.join('; ')}`,
    });
}

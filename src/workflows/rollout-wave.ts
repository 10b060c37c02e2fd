// One wave of a rollout, as a child workflow: it hands each app's CVMs of the wave to a `rolloutApp` child that runs
// under the app's deployment id, `deploy-<app>` (src/workflows/rollout-app.ts) — the per-app lock. The wave keeps
// the fleet-wide limits: an app child gets as many update slots as are free, so that at most maxParallel CVM updates
// are in flight and at most maxUnavailable target CVMs are down (in flight, or failed and not reverted) at any time.
// An app held by another deployment is waited for (its CVMs wait, the others go on) or skipped, as onBusy says.
//
// History: a handful of events per app; after maxCvmsPerWaveRun CVMs (or when Temporal suggests it) the wave
// drains and continues as new with its records, so a wave of any size stays within history limits.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  allHandlersFinished,
  CancellationScope,
  type ChildWorkflowHandle,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { RolloutActivities } from '../activities/rollout-activities';
import { heartbeatingWait, retryPolicy } from './activity-options';
import { deployWorkflowId, SA_APP, SA_KIND, SA_PHASE } from './deploy-types';
import { describeError } from './errors';
import { rolloutApp } from './rollout-app';
import { isUnavailable, needsRevert } from './rollout-plan';
import {
  type AppInput,
  type CvmRecord,
  rolloutWaveStatusQuery,
  rolloutWaveStatusQueryAlias,
  type WaveCarried,
  type WaveControl,
  type WaveInput,
  type WaveResult,
  type WaveStatus,
  waveControlSignal,
} from './rollout-types';

const DEFAULTS = { maxCvmsPerWaveRun: 100, lockPollMs: 5000, heartbeatTimeoutMs: 20_000, apiAttemptTimeoutMs: 30_000 };
const MAX_EVENTS = 50;
/** CVMs of one app per app workflow: a bigger share is split, so each app workflow's history stays small too. */
const MAX_CVMS_PER_APP_RUN = 50;

interface Group {
  app: string;
  cvms: CvmRecord[];
}

interface RunningApp {
  handle: ChildWorkflowHandle<typeof rolloutApp>;
  slots: number;
}

export async function rolloutWave(input: WaveInput): Promise<WaveResult> {
  const tuning = { ...DEFAULTS, ...input.tuning };
  const st: WaveCarried = input.carried ?? {
    cvms: input.cvms.map((c) => ({ ...c })),
    restores: {},
    startedAtMs: Date.now(),
    failures: 0,
    runs: 0,
    events: [],
  };
  st.runs++;
  const revertMode = input.mode === 'revert';
  const index = new Map(st.cvms.map((c, i) => [c.cvmId, i]));
  const known = new Set([...input.knownRestoreKeys, ...Object.keys(st.restores)]);
  const running = new Map<string, RunningApp>();
  /** Apps with a group dispatched: an app's next group (over MAX_CVMS_PER_APP_RUN) waits for its lock to be free. */
  const active = new Set<string>();
  const waiting = new Set<string>();
  let used = 0;
  let budgetExceeded = false;
  let deadlineExceeded = false;
  let blocked: string | undefined;

  let control: WaveControl = input.control;
  let heldMs = 0;
  let heldSince: number | undefined = control.hold ? Date.now() : undefined;
  setHandler(waveControlSignal, (next) => {
    if (next.hold && heldSince === undefined) heldSince = Date.now();
    if (!next.hold && heldSince !== undefined) {
      heldMs += Date.now() - heldSince;
      heldSince = undefined;
    }
    if (next.hold !== control.hold || next.stop !== control.stop)
      event(next.stop ? `stop: ${next.reason ?? 'asked'}` : next.hold ? `hold: ${next.reason ?? 'asked'}` : 'released');
    control = next;
    // App workflows obey the same control: held ones start no new CVM update, stopped ones none again.
    for (const r of running.values()) void r.handle.signal(waveControlSignal, next).catch(() => undefined);
  });

  const status = (): WaveStatus => ({
    wave: input.wave,
    mode: input.mode,
    control,
    inFlight: used,
    running: [...running.keys()].map(deployWorkflowId),
    unavailable: unavailable(),
    failures: st.failures,
    cvms: st.cvms,
    events: st.events,
    run: st.runs,
  });
  setHandler(rolloutWaveStatusQuery, status);
  setHandler(rolloutWaveStatusQueryAlias, status);

  function event(text: string): void {
    st.events.push({ atMs: Date.now(), text });
    if (st.events.length > MAX_EVENTS) st.events.shift();
  }

  /** Slots in use count as down: never fewer than the simulator shows. Failed CVMs stay down until reverted. */
  function unavailable(): number {
    return input.unavailableBefore + used + st.cvms.filter(isUnavailable).length;
  }
  const free = () =>
    revertMode
      ? input.strategy.maxParallel - used
      : Math.min(input.strategy.maxParallel - used, input.maxUnavailable - unavailable());
  /** The wave deadline does not run while the wave is held (a pause or a closed window). */
  const deadlineAt = () => st.startedAtMs + input.deadlines.waveMs + heldMs;
  const stopping = () => control.stop || budgetExceeded || deadlineExceeded;

  const api = proxyActivities<RolloutActivities>({
    startToCloseTimeout: tuning.apiAttemptTimeoutMs,
    retry: retryPolicy({ initialMs: 500, maximumAttempts: 5 }),
  });
  const lockWait = (ms: number) => proxyActivities<RolloutActivities>(heartbeatingWait(ms, tuning.heartbeatTimeoutMs));

  // ------------------------------------------------------------------------------------------------------------
  // Groups: each app's CVMs of this wave, in the wave's order

  const queue: Group[] = [];
  for (const c of st.cvms) {
    const todo = revertMode
      ? needsRevert(c) && c.state !== 'revert-failed'
      : c.state === 'pending' || c.state === 'waiting-lock';
    if (!todo) continue;
    const last = queue.findLast((g) => g.app === c.app);
    if (last && last.cvms.length < MAX_CVMS_PER_APP_RUN) last.cvms.push(c);
    else queue.push({ app: c.app, cvms: [c] });
  }

  function merge(cvms: CvmRecord[]): void {
    for (const c of cvms) {
      const i = index.get(c.cvmId);
      if (i !== undefined) st.cvms[i] = c;
    }
  }

  /** Runs one app's share: takes its lock by starting `deploy-<app>`, or waits for / skips the app when it is held. */
  async function runGroup(g: Group, slots: number, scope: CancellationScope): Promise<void> {
    try {
      await runGroupLocked(g, slots, scope);
    } finally {
      active.delete(g.app);
    }
  }

  async function runGroupLocked(g: Group, slots: number, scope: CancellationScope): Promise<void> {
    let handle: ChildWorkflowHandle<typeof rolloutApp>;
    const appInput: AppInput = {
      rolloutId: input.rolloutId,
      wave: input.wave,
      app: g.app,
      mode: input.mode,
      cvms: g.cvms,
      version: input.version,
      concurrency: slots,
      jitterMs: input.strategy.jitterMs,
      failuresLeft: Math.max(0, input.failuresLeft - st.failures),
      health: input.health,
      cvmDeadlineMs: input.deadlines.cvmMs,
      autoRevert: input.autoRevert,
      restores: revertMode ? input.restores : {},
      knownRestoreKeys: [...known],
      control,
      tuning: input.tuning,
    };
    try {
      handle = await scope.run(() =>
        startChild(rolloutApp, {
          workflowId: deployWorkflowId(g.app),
          args: [appInput],
          typedSearchAttributes: [
            { key: SA_APP, value: g.app },
            { key: SA_KIND, value: 'rollout' },
            { key: SA_PHASE, value: input.mode },
          ],
        }),
      );
    } catch (err) {
      // Counted as waiting from this instant, so the dispatcher never sees the group nowhere.
      if (err instanceof WorkflowExecutionAlreadyStartedError) waiting.add(g.app);
      used -= slots;
      if (err instanceof WorkflowExecutionAlreadyStartedError) return await busy(g);
      for (const c of g.cvms) Object.assign(c, { state: 'pending', reason: `not started: ${describeError(err)}` });
      merge(g.cvms);
      return;
    }
    running.set(g.app, { handle, slots });
    try {
      const r = await handle.result();
      merge(r.cvms);
      Object.assign(st.restores, r.restores);
      for (const key of Object.keys(r.restores)) known.add(key);
      st.failures += r.failures;
      if (!revertMode && st.failures > input.failuresLeft && !budgetExceeded) {
        budgetExceeded = true;
        event(
          `failure budget exceeded (${st.failures} failed in this wave, ${input.failuresLeft} allowed): no new updates`,
        );
      }
    } catch (err) {
      // The app workflow itself failed (not a CVM of it): what it did is unknown, so its CVMs count as failed.
      for (const c of g.cvms)
        Object.assign(c, { state: 'failed', reason: `app workflow deploy-${g.app} failed: ${describeError(err)}` });
      merge(g.cvms);
      st.failures += g.cvms.length;
      budgetExceeded ||= !revertMode && st.failures > input.failuresLeft;
    } finally {
      running.delete(g.app);
      used -= slots;
    }
  }

  /** Another deployment holds the app: report who, then wait for it (the group goes back in line) or skip it. */
  async function busy(g: Group): Promise<void> {
    try {
      await waitForLock(g);
    } finally {
      waiting.delete(g.app);
    }
  }

  async function waitForLock(g: Group): Promise<void> {
    const holder = await api.rolloutLockHolder({ app: g.app });
    if (!holder) {
      queue.unshift(g);
      return;
    }
    const who = `${holder.workflowId} (${holder.workflowType}${holder.kind ? `, ${holder.kind}` : ''}, run ${holder.runId})`;
    if (input.onBusy === 'skip') {
      for (const c of g.cvms)
        Object.assign(c, { state: 'skipped', reason: `app held by ${who}; skipped (onBusy: skip)` });
      merge(g.cvms);
      event(`${g.app}: held by ${who}; skipped`);
      return;
    }
    for (const c of g.cvms)
      Object.assign(c, { state: 'waiting-lock', reason: `app held by ${who}; waiting (onBusy: wait)` });
    event(`${g.app}: held by ${who}; waiting`);
    try {
      await waits.run(() =>
        lockWait(Math.max(1000, deadlineAt() - Date.now())).rolloutAwaitAppFree({
          app: g.app,
          pollMs: tuning.lockPollMs,
        }),
      );
    } catch (err) {
      // The wave stopped (or continues as new) while this app was held: its CVMs were never touched.
      if (!isCancellation(err)) throw err;
      for (const c of g.cvms)
        Object.assign(c, { state: 'pending', reason: `not started: the wave stopped while deploy-${g.app} was held` });
      return;
    }
    for (const c of g.cvms) Object.assign(c, { state: 'pending', reason: undefined });
    queue.unshift(g);
  }

  // ------------------------------------------------------------------------------------------------------------
  // The dispatcher

  /** App workflows (cancelled only when the wave deadline passes) and waits for other deployments' locks. */
  const scope = new CancellationScope();
  const waits = new CancellationScope();
  const tasks: Promise<void>[] = [];
  let startedThisRun = 0;
  let continueDue = false;
  const total = queue.reduce((n, g) => n + g.cvms.length, 0);
  event(
    st.runs === 1
      ? `started: ${total} CVMs of ${new Set(queue.map((g) => g.app)).size} apps (${input.mode})`
      : `continued (run ${st.runs}): ${total} CVMs left`,
  );

  /** Nothing in flight or waiting, and too many CVMs down for any to start: waiting would wait forever. */
  const stuck = () => used === 0 && waiting.size === 0 && !revertMode && unavailable() >= input.maxUnavailable;
  // The dispatcher lives until every group has run: a group back from waiting for a lock needs dispatching too.
  const idle = () => queue.length === 0 && waiting.size === 0 && used === 0;
  while (!idle()) {
    if (control.hold && !stopping()) {
      await condition(() => stopping() || !control.hold);
      continue;
    }
    const pickable = () => queue.findIndex((g) => !active.has(g.app));
    const ready = () => stopping() || control.hold || (pickable() >= 0 && (free() >= 1 || stuck())) || idle();
    if (!(await condition(ready, Math.max(1, deadlineAt() - Date.now())))) {
      deadlineExceeded = true;
      event(`wave deadline exceeded (${input.deadlines.waveMs} ms, not counting holds)`);
      break;
    }
    if (stopping()) break;
    if (control.hold || pickable() < 0) continue;
    if (free() < 1) {
      blocked = `${unavailable()} target CVMs are down (failed and not reverted), at maxUnavailable ${input.maxUnavailable}: nothing can start`;
      event(blocked);
      break;
    }
    if (startedThisRun >= tuning.maxCvmsPerWaveRun || workflowInfo().continueAsNewSuggested) {
      continueDue = true;
      break;
    }
    const [g] = queue.splice(pickable(), 1) as [Group];
    active.add(g.app);
    const slots = Math.min(g.cvms.length, free());
    used += slots;
    startedThisRun += g.cvms.length;
    tasks.push(runGroup(g, slots, scope));
  }

  // Drain: app workflows in flight finish, unless the deadline passes first (then they are cancelled and report
  // their CVMs, changed or not, so the rollout can revert them). Waits for held apps end at once.
  waits.cancel();
  if (deadlineExceeded) scope.cancel();
  const drained = await condition(
    () => running.size === 0 && used === 0 && waiting.size === 0,
    Math.max(1, deadlineAt() - Date.now()),
  );
  if (!drained) {
    deadlineExceeded = true;
    event('wave deadline exceeded with CVMs in progress: cancelled');
    scope.cancel();
  }
  await CancellationScope.nonCancellable(() => Promise.allSettled(tasks));

  if (continueDue && !stopping() && !blocked) {
    await condition(allHandlersFinished);
    return await continueAsNew<typeof rolloutWave>({ ...input, cvms: [], control, carried: st });
  }

  const outcome: WaveResult['outcome'] = budgetExceeded
    ? 'budget-exceeded'
    : deadlineExceeded
      ? 'deadline-exceeded'
      : blocked
        ? 'blocked'
        : control.stop
          ? 'stopped'
          : 'done';
  event(`ended: ${outcome}`);
  await condition(allHandlersFinished);
  return {
    wave: input.wave,
    cvms: st.cvms,
    restores: st.restores,
    failures: st.failures,
    outcome,
    ...(outcome === 'blocked' ? { reason: blocked } : outcome === 'stopped' ? { reason: control.reason } : {}),
    events: st.events,
    startedAtMs: st.startedAtMs,
    endedAtMs: Date.now(),
  };
}

// A blue-green deployment of one app (workflow `bluegreen-<app>`, the app's lock):
//   find blue → deploy green beside it (the deploy pipeline, as a child workflow) → health gate → pre-promotion
//   analysis → preview (the preview route points at green) → promotion (manual, or automatic after
//   autoPromoteAfter; an unpromoted preview expires at previewTtl) → traffic switch → post-promotion analysis
//   (failure: automatic rollback) → blue kept warm for scaleDownDelay (rollback = an immediate switch back) → blue
//   retired.
// Control is by validated Updates (promote, abort, rollback, pause, resume, finish), each recording who and why.
// Whatever ends a run early, the teardown runs in a non-cancellable scope: traffic back to blue, green deleted or
// stopped as abortPolicy says, blue never touched — except to start it again for a rollback.
import {
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { AnalysisActivities } from '../activities/analysis-activities';
import type { BlueGreenActivities } from '../activities/bluegreen-activities';
import type { createDeployActivities } from '../activities/deploy-activities';
import type { RouteTable, Upstream } from '../router/types';
import { NON_RETRYABLE_TYPES, watchOptions } from './activity-options';
import { analysisBoundMs, metricLines, summedTally } from './analysis-report';
import {
  type Actor,
  type AnalysisCheck,
  type AnalysisReport,
  abortUpdate,
  type BlueGreenInput,
  type BlueGreenMemo,
  type BlueGreenOutcome,
  type BlueGreenPhase,
  type BlueGreenResult,
  type BlueGreenStatus,
  blueGreenStatusQuery,
  type Deployment,
  finishUpdate,
  greenName,
  type HistoryEntry,
  MEMO_KEY,
  type MetricAnalysis,
  type PromoteResult,
  pauseUpdate,
  promoteUpdate,
  resumeUpdate,
  rollbackUpdate,
  type TeardownReport,
} from './bluegreen-types';
import { deployCvm } from './deploy';
import { deployWorkflowId, SA_APP, SA_KIND, SA_PHASE } from './deploy-types';
import { describeError } from './errors';
import { phaseReporter } from './observe';

type DeployActivities = ReturnType<typeof createDeployActivities>;

const MAX_TEXT = 300;
/** Phases in which green has not taken traffic yet. */
const BEFORE_PROMOTION: BlueGreenPhase[] = ['starting', 'deploying', 'health-gate', 'pre-analysis', 'preview'];

/** Thrown inside the run to end it; carries the outcome the teardown reports. */
class RunEnd extends Error {
  constructor(
    readonly outcome: BlueGreenOutcome,
    message: string,
    readonly actor: Actor,
  ) {
    super(message);
  }
}

export async function blueGreen(input: BlueGreenInput): Promise<BlueGreenResult> {
  const { policy, app } = input;
  const tuning = { apiAttemptTimeoutMs: 30_000, heartbeatTimeoutMs: 20_000, ...input.tuning };
  const retry = {
    initialInterval: 1000,
    backoffCoefficient: 2,
    maximumInterval: 10_000,
    nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
  };
  const api = proxyActivities<BlueGreenActivities & DeployActivities>({
    startToCloseTimeout: tuning.apiAttemptTimeoutMs,
    scheduleToCloseTimeout: 10 * 60_000,
    retry: { ...retry, maximumAttempts: 10 },
  });
  // One attempt is a POST (and, for the local router, a read-back), each bounded by the router's timeout.
  const routes = proxyActivities<BlueGreenActivities>({
    startToCloseTimeout: 2 * policy.router.timeoutMs + 1_000,
    scheduleToCloseTimeout: 10 * 60_000,
    retry,
  });
  // Checks keep their own clocks and are abandoned at once when the run moves on (their answer no longer
  // matters); the bound here only catches a check that can make no progress at all.
  const checks = (boundMs: number) =>
    proxyActivities<BlueGreenActivities>({
      startToCloseTimeout: boundMs + 60_000,
      heartbeatTimeout: tuning.heartbeatTimeoutMs,
      cancellationType: 'TRY_CANCEL',
      retry: { ...retry, maximumAttempts: 5 },
    });
  const webCheckBoundMs = (c: AnalysisCheck) => (c.count + c.errorLimit + 1) * (c.intervalMs + c.timeoutMs);
  const watch = proxyActivities<DeployActivities>(watchOptions(input.deploy, input.deploy.timeouts.runningMs));

  // ------------------------------------------------------------------------------------------------------------
  // State

  const history: HistoryEntry[] = [];
  const analyses: AnalysisReport[] = [];
  let phase: BlueGreenPhase = 'starting';
  let blue: Deployment | undefined;
  let green: Deployment | undefined;
  let greenId: { name: string; slot: Deployment['slot'] } | undefined;
  /** Known as soon as the deploy finished, before green is described: what a teardown must remove. */
  let greenAppId: string | undefined;
  let active: 'blue' | 'green' | 'none' = 'none';
  let previewing = false;
  let greenHealthy = false;
  let healthText: string | undefined;
  let promoted: { atMs: number; by: string } | undefined;
  let previewSince: number | undefined;
  let inconclusiveHold = false;
  let blueStopped = false;
  let warmUntil: number | undefined;
  let outcome: BlueGreenOutcome | undefined;
  let lastError: string | undefined;
  let generation = 0;
  /** Bumped on every change a waiting condition may care about. */
  let wake = 0;
  const control: {
    promote?: Actor;
    end?: { kind: 'abort' | 'rollback'; actor: Actor };
    finish?: Actor;
    paused?: Actor & { atMs: number };
  } = {};
  let report: TeardownReport | undefined;
  let interruptible: CancellationScope | undefined;

  const now = () => Date.now();
  const record = (kind: string, detail: string, actor?: Actor) => {
    history.push({
      atMs: now(),
      phase,
      kind,
      detail: detail.slice(0, MAX_TEXT),
      ...(actor ? { by: actor.by, reason: actor.reason } : {}),
    });
    if (history.length > 200) history.splice(1, 1);
  };
  const announce = phaseReporter();
  const enter = (next: BlueGreenPhase, detail?: string) => {
    phase = next;
    wake++;
    upsertSearchAttributes([{ key: SA_PHASE, value: next }]);
    announce(next, detail);
    record('phase', detail ?? next);
  };
  const remember = (deployment: Deployment | undefined) => {
    const memo: BlueGreenMemo = { triggerId: input.trigger.triggerId, ...(deployment ? { active: deployment } : {}) };
    upsertMemo({ [MEMO_KEY]: memo });
  };
  const upstream = (d: Deployment): Upstream => ({ name: d.name, url: d.url, version: d.composeHash });
  const autoAt = () =>
    policy.autoPromote && !inconclusiveHold && !control.paused && previewSince !== undefined
      ? previewSince + policy.autoPromoteAfterMs
      : undefined;

  /**
   * Points the routes and records it; the memo follows the active route, so the next run knows. A route change is
   * never interrupted half-way: an abort arriving meanwhile acts once the router confirmed, on a known state.
   */
  async function route(to: { active?: Deployment; preview?: Deployment }, reason: string): Promise<void> {
    generation = Math.max(generation + 1, now());
    const table: RouteTable = {
      app,
      generation,
      active: to.active ? upstream(to.active) : null,
      preview: to.preview ? upstream(to.preview) : null,
      reason,
    };
    await CancellationScope.nonCancellable(() => routes.bgApplyRoutes({ router: policy.router, table }));
    active = !to.active ? 'none' : to.active === green ? 'green' : 'blue';
    previewing = to.preview !== undefined;
    remember(to.active);
    record(
      'switch',
      `active → ${to.active?.name ?? 'nothing'}, preview → ${to.preview?.name ?? 'nothing'} (${reason})`,
    );
  }

  // ------------------------------------------------------------------------------------------------------------
  // Status and control

  const status = (): BlueGreenStatus => ({
    app,
    phase,
    ...(outcome ? { outcome } : {}),
    trigger: input.trigger,
    ...(blue ? { blue } : {}),
    ...(greenId ? { green: { ...green, ...greenId } } : {}),
    active,
    preview: previewing,
    greenHealthy,
    ...(healthText ? { health: healthText } : {}),
    promotion: {
      mode: policy.autoPromote ? 'automatic' : 'manual',
      waiting: phase === 'preview',
      ...(phase === 'preview' && autoAt() !== undefined ? { autoAtMs: autoAt() } : {}),
      ...(previewSince !== undefined && !promoted ? { expiresAtMs: previewSince + policy.previewTtlMs } : {}),
      ...(control.paused ? { paused: control.paused } : {}),
      ...(promoted ? { promotedAtMs: promoted.atMs, promotedBy: promoted.by } : {}),
    },
    ...(warmUntil !== undefined && phase === 'warm' ? { rollbackUntilMs: warmUntil } : {}),
    history,
    ...(lastError ? { lastError } : {}),
    ...(analyses.length ? { analyses } : {}),
  });
  setHandler(blueGreenStatusQuery, status);

  const checkActor = (actor: Actor | undefined) => {
    if (!actor || typeof actor.by !== 'string' || !actor.by.trim())
      throw new Error('say who asks: by is required (the CLI fills it in from --by or your user name)');
    if (typeof actor.reason !== 'string' || !actor.reason.trim())
      throw new Error('say why: reason is required (--reason "…")');
  };
  const ended = () => control.end !== undefined || phase === 'tearing-down' || phase === 'done';
  const over = () =>
    phase === 'done' ? `the run is over (${outcome})` : `the run is being torn down (${control.end?.kind ?? outcome})`;

  setHandler(
    promoteUpdate,
    async (actor): Promise<PromoteResult> => {
      control.promote = actor;
      record('promote', 'promotion requested', actor);
      wake++;
      await condition(() => promoted !== undefined || ended());
      if (!promoted)
        throw ApplicationFailure.create({ type: 'PromoteFailed', message: `not promoted: ${lastError ?? over()}` });
      return { promotedAtMs: promoted.atMs, green: greenId!.name, phase };
    },
    {
      validator: (actor) => {
        checkActor(actor);
        if (ended()) throw new Error(over());
        if (promoted || control.promote)
          throw new Error(
            `already promoted${promoted ? ` at ${new Date(promoted.atMs).toISOString()} by ${promoted.by}` : ''}`,
          );
        if (phase === 'deploying' || phase === 'starting')
          throw new Error(
            `green ${greenId?.name ?? ''} is still being deployed; it can be promoted once it passed the health gate`,
          );
        if (phase === 'health-gate')
          throw new Error(
            `green ${greenId?.name} is not healthy yet: it must pass ${policy.health.path} for ${policy.minHealthyMs / 1000}s in a row${healthText ? ` (${healthText})` : ''}`,
          );
        if (phase === 'pre-analysis') throw new Error('the pre-promotion analysis is still running');
        if (!greenHealthy)
          throw new Error(`green ${greenId?.name} is unhealthy: ${healthText ?? 'failing its health check'}`);
      },
    },
  );

  const endRequest =
    (kind: 'abort' | 'rollback') =>
    async (actor: Actor): Promise<TeardownReport> => {
      control.end = { kind, actor };
      record(kind, `${kind} requested`, actor);
      wake++;
      interruptible?.cancel();
      await condition(() => report !== undefined);
      return report!;
    };
  setHandler(abortUpdate, endRequest('abort'), {
    validator: (actor) => {
      checkActor(actor);
      if (ended()) throw new Error(over());
      if (phase === 'retiring' || control.finish)
        throw new Error(`green is live and blue ${blue?.name} is being retired; deploy again to change`);
      if (promoted && !blue) throw new Error('green is live and there is no blue to send traffic back to');
    },
  });
  setHandler(rollbackUpdate, endRequest('rollback'), {
    validator: (actor) => {
      checkActor(actor);
      if (ended()) throw new Error(over());
      if (!promoted) throw new Error('nothing to roll back: traffic still goes to blue (use abort to drop green)');
      if (!blue) throw new Error('there is no blue to roll back to: this was the app’s first deployment');
      if ((phase !== 'post-analysis' && phase !== 'warm') || control.finish)
        throw new Error(
          `blue ${blue.name} is no longer kept warm (phase ${phase}); deploy the old version again instead`,
        );
    },
  });
  setHandler(
    pauseUpdate,
    (actor) => {
      control.paused = { ...actor, atMs: now() };
      record('pause', 'automatic progress paused', actor);
      wake++;
      return status().promotion;
    },
    {
      validator: (actor) => {
        checkActor(actor);
        if (ended()) throw new Error(over());
        if (control.paused) throw new Error(`already paused by ${control.paused.by} (${control.paused.reason})`);
        if (!BEFORE_PROMOTION.includes(phase) && phase !== 'warm' && phase !== 'post-analysis')
          throw new Error(`nothing automatic to pause in phase ${phase}`);
      },
    },
  );
  setHandler(
    resumeUpdate,
    (actor) => {
      control.paused = undefined;
      inconclusiveHold = false;
      record('resume', 'automatic progress resumed', actor);
      wake++;
      return status().promotion;
    },
    {
      validator: (actor) => {
        checkActor(actor);
        if (ended()) throw new Error(over());
        if (!control.paused && !inconclusiveHold) throw new Error('not paused');
      },
    },
  );
  setHandler(
    finishUpdate,
    async (actor) => {
      control.finish = actor;
      record('finish', 'retire blue now', actor);
      wake++;
      await condition(() => phase === 'done');
      return { retired: blue ? [blue.name] : [] };
    },
    {
      validator: (actor) => {
        checkActor(actor);
        if (phase !== 'warm')
          throw new Error(`only a run keeping blue warm can be finished early; this one is in ${phase}`);
        if (control.finish) throw new Error('already finishing');
      },
    },
  );

  // ------------------------------------------------------------------------------------------------------------
  // The steps

  async function deployGreen(): Promise<void> {
    enter('deploying', `deploying ${greenId!.name} beside ${blue?.name ?? 'nothing (first deployment)'}`);
    const child = await startChild(deployCvm, {
      workflowId: deployWorkflowId(greenId!.name),
      args: [{ ...input.deploy, app: greenId!.name }],
      // A terminated blue-green run must not leave a half-made green: the child is asked to roll back.
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      typedSearchAttributes: [
        { key: SA_APP, value: greenId!.name },
        { key: SA_KIND, value: 'deploy' },
        { key: SA_PHASE, value: 'start' },
      ],
    });
    const result = await child.result();
    greenAppId = result.appId;
    green = await api.bgDescribeDeployment({ name: greenId!.name, slot: greenId!.slot, appId: result.appId });
    record(
      'deployed',
      `${green.name}: app ${green.appId}, ${green.cvmIds.length} CVM(s), compose ${green.composeHash.slice(0, 12)}`,
    );
  }

  async function healthGate(): Promise<void> {
    greenHealthy = false;
    healthText = `waiting for ${policy.minHealthyMs / 1000}s of healthy checks`;
    const passed = await checks(policy.health.deadlineMs).bgHealthGate({
      urls: green!.instanceUrls,
      check: policy.health,
      minHealthyMs: policy.minHealthyMs,
    });
    greenHealthy = true;
    healthText = `healthy (${passed.checks} checks)`;
    wake++;
    record('health', `green passed the health gate after ${passed.checks} checks`);
  }

  function analysisVars(which: 'pre' | 'post'): Record<string, string> {
    return {
      app,
      green: green!.name,
      greenUrl: green!.url,
      blueUrl: blue?.url ?? '',
      version: green!.composeHash,
      phase: which,
    };
  }

  /** A web check (bgAnalysis, as always) or, for a spec with `metrics`, the metric analysis (issue 23). */
  async function analyse(check: AnalysisCheck | MetricAnalysis, which: 'pre' | 'post') {
    if (!('metrics' in check && patched('metric-analysis')))
      return checks(webCheckBoundMs(check as AnalysisCheck)).bgAnalysis({
        check: check as AnalysisCheck,
        vars: analysisVars(which),
      });
    const result = await proxyActivities<AnalysisActivities>({
      startToCloseTimeout: analysisBoundMs(check.metrics) + 60_000,
      heartbeatTimeout: tuning.heartbeatTimeoutMs,
      cancellationType: 'TRY_CANCEL',
      retry: { ...retry, maximumAttempts: 5 },
    }).analysisRun({
      metrics: check.metrics,
      vars: { ...analysisVars(which), cvm: green!.cvmIds.join('|') },
    });
    analyses.push({ ...result, step: which === 'pre' ? 'pre-promotion' : 'post-promotion', atMs: now() });
    for (const line of metricLines(result)) record('analysis', line);
    return { verdict: result.verdict, tally: summedTally(result), last: result.reason };
  }

  async function previewGreen(): Promise<'manual' | 'automatic'> {
    enter(
      'preview',
      policy.autoPromote ? `promoting after ${policy.autoPromoteAfterMs / 1000}s of preview` : 'waiting for promote',
    );
    await route({ ...(blue ? { active: blue } : {}), preview: green }, `preview of ${green!.name}`);
    previewSince = now();
    // Green stays under watch while it waits: a green that turns unhealthy cannot be promoted until it passed the
    // gate again; failing the gate this time (failureThreshold more failures, or its deadline) ends the run.
    const watching = new CancellationScope();
    const healthLoop = watching.run(async () => {
      for (;;) {
        const bad = await checks(policy.previewTtlMs + policy.health.deadlineMs).bgWatchHealth({
          urls: green!.instanceUrls,
          check: policy.health,
        });
        greenHealthy = false;
        healthText = bad.detail;
        wake++;
        record('health', `green turned unhealthy: ${bad.detail}`);
        await healthGate();
      }
    });
    try {
      return await Promise.race([healthLoop, waitForPromotion()]);
    } finally {
      watching.cancel();
      await healthLoop.catch(() => undefined);
    }
  }

  async function waitForPromotion(): Promise<'manual' | 'automatic'> {
    const expiresAt = previewSince! + policy.previewTtlMs;
    for (;;) {
      if (control.promote && greenHealthy) return 'manual';
      const auto = autoAt();
      if (auto !== undefined && now() >= auto && greenHealthy) return 'automatic';
      if (now() >= expiresAt)
        throw new RunEnd('expired', `green was not promoted within previewTtl (${policy.previewTtlMs / 1000}s)`, {
          by: 'cvmflow',
          reason: 'previewTtl reached',
        });
      const seen = wake;
      const until = Math.min(expiresAt, auto !== undefined && auto > now() ? auto : expiresAt);
      await condition(() => wake !== seen, Math.max(1, until - now()));
    }
  }

  async function promote(how: 'manual' | 'automatic'): Promise<void> {
    const actor: Actor =
      how === 'manual'
        ? control.promote!
        : { by: 'cvmflow', reason: `automatic promotion after ${policy.autoPromoteAfterMs / 1000}s of preview` };
    enter('switching', `promoting ${green!.name} (${how}, by ${actor.by})`);
    // Not interrupted half-way: an abort arriving now is handled once the router confirmed the switch.
    await CancellationScope.nonCancellable(() => route({ active: green }, `promoted by ${actor.by}: ${actor.reason}`));
    promoted = { atMs: now(), by: actor.by };
    record('promote', `traffic switched to ${green!.name}`, actor);
  }

  async function postAnalysis(): Promise<void> {
    const check = policy.analysis.postPromotion;
    if (!check) return;
    enter('post-analysis');
    const result = await analyse(check, 'post');
    record(
      'analysis',
      `post-promotion analysis: ${result.verdict} (${result.tally.passes} pass, ${result.tally.failures} fail, ${result.tally.inconclusive} inconclusive, ${result.tally.errors} errors; last: ${result.last})`,
    );
    if (result.verdict === 'fail' || result.verdict === 'error') {
      if (!blue) {
        lastError = `post-promotion analysis ${result.verdict}; there is no blue to roll back to, green stays live`;
        record('error', lastError);
        return;
      }
      throw new RunEnd('rolled-back', `post-promotion analysis ${result.verdict}ed: ${result.last}`, {
        by: 'cvmflow',
        reason: `post-promotion analysis ${result.verdict}`,
      });
    }
    if (result.verdict === 'inconclusive') {
      control.paused = {
        by: 'cvmflow',
        reason: 'post-promotion analysis inconclusive: blue is kept until someone decides',
        atMs: now(),
      };
      record('pause', control.paused.reason);
    }
  }

  async function keepBlueWarm(): Promise<void> {
    if (!blue) return;
    enter('warm', `blue ${blue.name} kept ${policy.blueDuringDelay} for ${policy.scaleDownDelayMs / 1000}s`);
    warmUntil = now() + policy.scaleDownDelayMs;
    if (policy.blueDuringDelay === 'stopped') {
      // Marked first: a rollback arriving while blue stops must start it again.
      blueStopped = true;
      await powerAndWait(blue, 'stop');
    }
    for (;;) {
      if (control.finish) return;
      if (!control.paused && now() >= warmUntil) return;
      const seen = wake;
      await condition(() => wake !== seen, control.paused ? undefined : Math.max(1, warmUntil - now()));
    }
  }

  async function retireBlue(): Promise<void> {
    if (!blue) return;
    enter('retiring', `deleting blue ${blue.name}`);
    const deleted = await api.deleteAppCvms({ appId: blue.appId });
    record('retire', `blue ${blue.name} deleted (${deleted.length} CVM(s))`);
  }

  async function powerAndWait(d: Deployment, action: 'start' | 'stop'): Promise<string[]> {
    const acted = await api.bgPowerApp({ appId: d.appId, action });
    await Promise.all(
      acted.map((cvmId) =>
        watch.watchCvm({
          cvmId,
          target: action === 'start' ? 'running' : 'stopped',
          timeoutMs: input.deploy.timeouts.runningMs,
          intervalS: input.deploy.watch.intervalS,
          timeoutS: input.deploy.watch.timeoutS,
        }),
      ),
    );
    return acted;
  }

  /** Puts traffic back on blue (if green had it or its preview) and removes green as abortPolicy says. */
  async function teardown(result: BlueGreenOutcome, actor: Actor, childRunning: boolean): Promise<TeardownReport> {
    const from = phase;
    const requestedAt = now();
    enter('tearing-down', `${result}: ${actor.reason}`);
    const actions: string[] = [];
    let trafficBackMs: number | undefined;
    const step = async (label: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
        actions.push(label);
      } catch (err) {
        const why = describeError(err);
        actions.push(`${label} FAILED: ${why}`);
        lastError = `${label}: ${why}`;
        log.error('blue-green teardown step failed', { app, label, error: why });
      }
    };
    if (active === 'green' && blue) {
      if (blueStopped) await step(`started blue ${blue.name} again`, () => powerAndWait(blue!, 'start'));
      await step(`traffic back to blue ${blue.name}`, () =>
        route({ active: blue }, `${result} by ${actor.by}: ${actor.reason}`),
      );
      trafficBackMs = now() - requestedAt;
    } else if (previewing) {
      await step('preview route removed', () =>
        route({ ...(blue ? { active: blue } : {}) }, `${result}: preview of ${green!.name} withdrawn`),
      );
    }
    if (childRunning) {
      const kept = input.deploy.onFailure === 'keep' && result === 'failed';
      actions.push(
        `the deploy of ${greenId?.name} ended early; it ${kept ? 'kept what it made (onFailure: keep)' : 'deleted what it had made'}`,
      );
    } else if (green && policy.abortPolicy === 'stop')
      await step(`green ${green.name} stopped (abortPolicy: stop)`, () => powerAndWait(green!, 'stop'));
    else if (greenAppId) await step(`green ${greenId?.name} deleted`, () => api.deleteAppCvms({ appId: greenAppId! }));
    actions.push(`blue ${blue ? `${blue.name} serves the app` : 'absent: the app has no deployment'}`);
    return { phase: from, outcome: result, actions, ...(trafficBackMs !== undefined ? { trafficBackMs } : {}) };
  }

  // ------------------------------------------------------------------------------------------------------------
  // The run

  let childRunning = false;
  let failure: RunEnd | undefined;
  /** An abort or rollback asked for while nothing was interruptible ends the run at the next step. */
  const checkEnd = () => {
    if (control.end)
      throw new RunEnd(
        control.end.kind === 'abort' ? 'aborted' : 'rolled-back',
        `${control.end.kind} requested`,
        control.end.actor,
      );
  };
  try {
    const found = await api.bgFindDeployment({
      app,
      ...(input.recordedActive ? { recorded: input.recordedActive } : {}),
    });
    blue = found.blue;
    greenId = greenName(app, blue, workflowInfo().firstExecutionRunId, !patched('instance-names-without-colour'));
    record(
      'start',
      `${found.note}; green will be ${greenId.name} (trigger by ${input.trigger.by}: ${input.trigger.reason})`,
    );
    // A known starting point for the router: only blue, no stale preview from an earlier run.
    await route(blue ? { active: blue } : {}, 'run start');

    interruptible = new CancellationScope();
    const how = await interruptible.run(async () => {
      checkEnd();
      childRunning = true;
      await deployGreen();
      childRunning = false;
      enter(
        'health-gate',
        `${green!.name} must pass ${policy.health.path} for ${policy.minHealthyMs / 1000}s in a row`,
      );
      await healthGate();
      if (policy.analysis.prePromotion) {
        enter('pre-analysis');
        const check = policy.analysis.prePromotion;
        const result = await analyse(check, 'pre');
        record('analysis', `pre-promotion analysis: ${result.verdict} (last: ${result.last})`);
        if (result.verdict === 'fail' || result.verdict === 'error')
          throw new RunEnd('failed', `pre-promotion analysis ${result.verdict}: ${result.last}`, {
            by: 'cvmflow',
            reason: `pre-promotion analysis ${result.verdict}`,
          });
        if (result.verdict === 'inconclusive') {
          inconclusiveHold = true;
          record('pause', 'pre-promotion analysis inconclusive: automatic promotion held (promote by hand, or resume)');
        }
      }
      return previewGreen();
    });
    checkEnd();
    await promote(how);
    interruptible = new CancellationScope();
    await interruptible.run(async () => {
      checkEnd();
      await postAnalysis();
      await keepBlueWarm();
    });
    interruptible = undefined;
  } catch (err) {
    interruptible = undefined;
    if (err instanceof RunEnd) failure = err;
    else if (control.end && isCancellation(err))
      failure = new RunEnd(
        control.end.kind === 'abort' ? 'aborted' : 'rolled-back',
        `${control.end.kind} requested`,
        control.end.actor,
      );
    else if (isCancellation(err))
      failure = new RunEnd('aborted', 'workflow cancelled', {
        by: 'temporal',
        reason: 'workflow cancellation requested',
      });
    else failure = new RunEnd('failed', describeError(err), { by: 'cvmflow', reason: describeError(err) });
    if (failure.outcome === 'failed' || failure.outcome === 'expired' || failure.actor.by === 'cvmflow')
      lastError = failure.message.slice(0, MAX_TEXT);
  }

  if (failure) {
    report = await CancellationScope.nonCancellable(() => teardown(failure.outcome, failure.actor, childRunning));
    outcome = failure.outcome;
  } else {
    await CancellationScope.nonCancellable(retireBlue);
    outcome = 'promoted';
    // An abort or rollback accepted in the same instant the last step ended found nothing left to interrupt.
    if (control.end)
      report = {
        phase,
        outcome,
        actions: [`too late to ${control.end.kind}: green was already live and blue retired`],
      };
  }
  const serving = outcome === 'promoted' ? green : blue;
  enter('done', `${outcome}: ${serving ? `${serving.name} serves ${app}` : `${app} has no deployment`}`);
  const result: BlueGreenResult = {
    app,
    outcome,
    ...(serving ? { active: serving } : {}),
    green: greenId?.name ?? '',
    summary: failure
      ? `${outcome}: ${failure.message}`
      : `promoted ${greenId?.name}${blue ? `; retired ${blue.name}` : ''}`,
    history,
  };
  // Let update handlers (abort, finish, promote) hand back their answers before the run closes.
  await condition(allHandlersFinished);
  if (failure?.outcome === 'failed' || (failure?.outcome === 'rolled-back' && failure.actor.by === 'cvmflow'))
    throw ApplicationFailure.create({
      type: 'BlueGreenFailed',
      nonRetryable: true,
      message: result.summary,
      details: [result],
    });
  if (failure?.actor.by === 'temporal')
    throw ApplicationFailure.create({
      type: 'BlueGreenCancelled',
      nonRetryable: true,
      message: result.summary,
      details: [result],
    });
  return result;
}

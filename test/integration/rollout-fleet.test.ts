// Fleet rollouts on the real stack: Temporal dev server, the Phala simulator over HTTP, an in-process worker with the
// real activities. Every limit is checked against the simulator's own CVM state histories, not the workflow's word.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import {
  abortRollout,
  createRolloutSchedule,
  deleteRolloutSchedule,
  describeRolloutSchedule,
  getRolloutStatus,
  liftFreeze,
  pauseRollout,
  pauseRolloutSchedule,
  promoteRollout,
  RolloutRequestRejectedError,
  resumeRollout,
  startRollout,
  triggerRolloutSchedule,
} from '../../src/client/rollout';
import { validateSpec } from '../../src/spec';
import type { RolloutSpec } from '../../src/spec/rollout';
import type { ScheduleClock } from '../../src/workflows/power-types';
import type { RolloutTuning } from '../../src/workflows/rollout-types';
import { recordHistory } from '../support/replay';
import { startStack, type TestStack } from '../support/stack';
import { TEST_CODEC_KEY_TEXT, TEST_CODEC_KEYS, temporalTarget, uniqueId } from '../support/temporal';

const V1 = 'services:\n  web:\n    image: nginx:1.27-alpine\n';
const V2 = 'services:\n  web:\n    image: nginx:1.28-alpine\n';
const TUNING = { lockPollMs: 100, healthPollMs: 50, heartbeatTimeoutMs: 5000 };

let stack: TestStack;
let health: Server;
let healthUrl: string;
/** CVM names whose HTTP health check answers 503. */
const unhealthy = new Set<string>();

beforeAll(async () => {
  // Simulated delays × 0.005: create 100 ms, boot 150 ms, update 25 ms + restart 200 ms.
  stack = await startStack({ sim: { timeScale: 0.005, delays: { delete: 10 } } });
  await stack.startWorker();
  health = createServer((req, res) => {
    const name = decodeURIComponent(req.url?.split('/').pop() ?? '');
    res.statusCode = unhealthy.has(name) ? 503 : 200;
    res.end();
  });
  await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
  healthUrl = `http://127.0.0.1:${(health.address() as AddressInfo).port}/health/{app}`;
});
afterAll(async () => {
  health?.close();
  await stack?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** `count` single-CVM apps named `<prefix>-00`…, all running V1. */
async function createFleet(prefix: string, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
  const ids: string[] = [];
  for (let i = 0; i < names.length; i += 10) {
    const batch = await Promise.all(
      names.slice(i, i + 10).map(async (name) => {
        const p = await stack.phala.provisionCvm({ name, compose_file: { docker_compose_file: V1 }, node_id: 1 });
        const cvm = await stack.phala.commitCvmProvision({ app_id: p.app_id!, compose_hash: p.compose_hash });
        return cvm.vm_uuid!;
      }),
    );
    ids.push(...batch);
  }
  await until('fleet running', () => fleet(prefix).every((c) => c.status === 'running' && c.operation === null));
  return ids;
}

const fleet = (prefix: string) => stack.sim.cvms().filter((c) => c.name.startsWith(`${prefix}-`));

function spec(name: string, fields: Record<string, unknown>): RolloutSpec {
  return validateSpec(
    { apiVersion: 'cvmflow/v1', kind: 'Rollout', name, version: { compose: { inline: V2 } }, ...fields },
    { source: 'test', baseDir: '.', kinds: ['Rollout'] },
  );
}

const start = (s: RolloutSpec, clock?: ScheduleClock, tuning: RolloutTuning = {}) =>
  startRollout(s, {
    client: stack.client,
    taskQueue: stack.taskQueue,
    codecKeys: TEST_CODEC_KEYS,
    tuning: { ...TUNING, ...tuning },
    ...(clock ? { clock } : {}),
  });

interface Interval {
  name: string;
  from: number;
  to: number;
}

/** Per CVM, the spans since `sinceTs` in which it was not running (a span still open ends at +∞). */
function downSpans(prefix: string, sinceTs: number, startStatus?: string): Interval[] {
  const spans: Interval[] = [];
  for (const c of fleet(prefix)) {
    let from: number | undefined;
    for (const h of c.history) {
      if (h.ts < sinceTs) continue;
      if (from === undefined && h.status !== 'running' && (!startStatus || h.status === startStatus)) from = h.ts;
      else if (from !== undefined && h.status === 'running') {
        spans.push({ name: c.name, from, to: h.ts });
        from = undefined;
      }
    }
    if (from !== undefined) spans.push({ name: c.name, from, to: Number.POSITIVE_INFINITY });
  }
  return spans;
}

function maxOverlap(spans: Interval[]): number {
  const edges = spans.flatMap((s) => [
    { at: s.from, d: 1 },
    { at: s.to, d: -1 },
  ]);
  // An end and a start at the same instant do not overlap.
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let max = 0;
  for (const e of edges) {
    now += e.d;
    max = Math.max(max, now);
  }
  return max;
}

const statusOf = (id: string) => getRolloutStatus(stack.client, id);

/** The CLI in this process, against the test stack: exit code and what it printed. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const env = {
    TEMPORAL_ADDRESS: temporalTarget().address,
    TEMPORAL_NAMESPACE: temporalTarget().namespace,
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
    CVMFLOW_CODEC_KEY: TEST_CODEC_KEY_TEXT,
  };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  try {
    return { code: await main(['node', 'cvmflow', ...args]), out, err };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('rollouts across a fleet', () => {
  it('50 CVMs: canary then waves, never more than maxParallel updating or maxUnavailable down, each CVM updated once', async () => {
    const prefix = uniqueId('f50');
    await createFleet(prefix, 50);
    const since = performance.timeOrigin + performance.now();
    const s = spec(uniqueId('r50'), {
      targets: { selector: { name: `${prefix}-*` } },
      strategy: { canary: { size: 2 }, waveSize: 16, maxParallel: 6, maxUnavailable: 8 },
      health: { minHealthy: '100ms' },
    });
    // Small history budgets, so both continue-as-new paths run: the rollout every 2 waves, a wave every 12 CVMs.
    const handle = await start(s, undefined, { maxWavesPerRun: 2, maxCvmsPerWaveRun: 12 });
    const result = await handle.result();

    expect(result.outcome).toBe('succeeded');
    expect(result.counts).toEqual({ healthy: 50 });
    expect(result.waves.map((w) => `${w.kind}:${w.counts?.healthy}`)).toEqual([
      'canary:2',
      'wave:16',
      'wave:16',
      'wave:16',
    ]);
    // Each app's compose carries its name, so every CVM has its own hash: the one the rollout recorded for it.
    const recorded = new Map(result.cvms.map((c) => [c.cvmId, c]));
    for (const c of fleet(prefix)) {
      expect(c.composeHash).toBe(recorded.get(c.vmUuid)?.to);
      expect(c.composeHash).not.toBe(recorded.get(c.vmUuid)?.from);
    }

    const updating = downSpans(prefix, since, 'updating');
    const down = downSpans(prefix, since);
    expect(updating).toHaveLength(50);
    expect(new Set(updating.map((u) => u.name)).size).toBe(50);
    expect(maxOverlap(updating)).toBeLessThanOrEqual(6);
    expect(maxOverlap(updating)).toBe(6);
    expect(maxOverlap(down)).toBeLessThanOrEqual(6);

    // Waves are barriers: every CVM of a wave was back before any CVM of the next went down.
    const waveOf = new Map(result.cvms.map((c) => [c.name, c.wave]));
    for (let w = 1; w < 4; w++) {
      const before = updating.filter((u) => waveOf.get(u.name) === w - 1);
      const after = updating.filter((u) => waveOf.get(u.name) === w);
      expect(Math.min(...after.map((u) => u.from))).toBeGreaterThan(Math.max(...before.map((u) => u.to)));
    }
    expect((await statusOf(handle.workflowId)).run).toBe(2);
    const runs = async (workflowId: string) => {
      let n = 0;
      for await (const _ of stack.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) n++;
      return n;
    };
    expect(await runs(`${handle.workflowId}-wave-1`)).toBe(2);
    // A wave that continued as new after maxCvmsPerWaveRun CVMs: its first run and the run that carried on.
    const waveRuns: string[] = [];
    for await (const w of stack.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}-wave-1'` }))
      waveRuns.push(w.runId);
    const [last, first] = waveRuns; // newest first
    await recordHistory(
      stack.client.workflow.getHandle(`${handle.workflowId}-wave-1`, first),
      'rollout-wave-continuing',
    );
    await recordHistory(stack.client.workflow.getHandle(`${handle.workflowId}-wave-1`, last), 'rollout-wave-continued');
    // One compose commit per CVM.
    const commits = stack.sim
      .requests({ method: 'PATCH', route: '/cvms/:id/compose_file' })
      .filter((r) => r.status < 300);
    const mine = new Set(fleet(prefix).map((c) => c.vmUuid.replaceAll('-', '')));
    const target = (path: string) => /\/cvms\/([^/]+)\/compose_file$/.exec(path)?.[1]?.replaceAll('-', '') ?? '';
    expect(commits.filter((r) => mine.has(target(r.path))).length).toBe(50);
  });

  it('failures beyond the budget stop the rollout and put every CVM it updated back on its previous compose', async () => {
    const prefix = uniqueId('fb');
    await createFleet(prefix, 20);
    const original = new Map(fleet(prefix).map((c) => [c.vmUuid, c.composeHash]));
    // Wave 0 is fb-00…fb-04: fb-01 crashes right after its update, fb-02 never passes its HTTP check.
    stack.sim.addFaults({ cvms: [{ cvm: `${prefix}-01`, crashAfterMs: 10000, count: 1 }] });
    unhealthy.add(`${prefix}-02`);
    const s = spec(uniqueId('rb'), {
      targets: { selector: { name: `${prefix}-*` } },
      strategy: { waveSize: 5, maxParallel: 5, maxUnavailable: 3 },
      health: { minHealthy: '300ms', http: { url: healthUrl, interval: '50ms', timeout: '1s' } },
      deadlines: { cvm: '1500ms' },
      failureBudget: 1,
    });
    const since = performance.timeOrigin + performance.now();
    const handle = await start(s);
    const err = await handle.result().catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause?.message).toMatch(/failure budget exceeded: 2 CVMs failed, 1 allowed/);
    // The two failed CVMs went back at once (autoRevert), the three healthy ones in the revert wave: all five count.
    expect((err as WorkflowFailedError).cause?.message).toMatch(/; revert of 5 CVMs: 5 reverted$/);

    // Every CVM of the fleet is on the compose it had before, and running.
    for (const c of fleet(prefix)) {
      expect(c.composeHash, c.name).toBe(original.get(c.vmUuid));
      expect(c.status, c.name).toBe('running');
    }
    const status = await statusOf(handle.workflowId);
    expect(status.phase).toBe('failed');
    await recordHistory(handle, 'rollout-budget-exceeded');
    // Each app's child runs as deploy-<app>: -01 failed and went back at once (autoRevert), -00 in the revert wave.
    await recordHistory(stack.client.workflow.getHandle(`deploy-${prefix}-01`), 'rollout-app-autorevert');
    await recordHistory(stack.client.workflow.getHandle(`deploy-${prefix}-00`), 'rollout-app-revert');
    await recordHistory(stack.client.workflow.getHandle(`${handle.workflowId}-wave-0`), 'rollout-wave-budget-exceeded');
    await recordHistory(stack.client.workflow.getHandle(`${handle.workflowId}-revert-0`), 'rollout-wave-revert');
    const byName = new Map(status.cvms.map((c) => [c.name, c]));
    expect(byName.get(`${prefix}-01`)?.state).toBe('reverted');
    expect(byName.get(`${prefix}-01`)?.reason).toMatch(/exited/);
    expect(byName.get(`${prefix}-02`)?.reason).toMatch(/not healthy .* answered 503/);
    expect(status.counts.reverted).toBe(5);
    expect(status.counts.pending).toBe(15);
    expect(status.waves.log.map((w) => `${w.mode}:${w.outcome}`)).toEqual(['update:budget-exceeded', 'revert:done']);
    // The fleet never had more than maxUnavailable CVMs down while the wave updated it (the revert's own
    // concurrency is capped at maxUnavailable as well).
    const revertStart = status.waves.log[1]!.startedAtMs;
    const spans = downSpans(prefix, since);
    expect(maxOverlap(spans.filter((x) => x.from < revertStart))).toBeLessThanOrEqual(3);
    expect(maxOverlap(spans)).toBeLessThanOrEqual(3 + 2);
    unhealthy.clear();
  });

  it('deploy windows: a wave waits for the window, holds when it closes (onWindowEnd: pause) and resumes when it reopens', async () => {
    const prefix = uniqueId('fw');
    const ids = await createFleet(prefix, 8);
    // 60× clock: a calendar minute is a real second. Monday 2026-06-01, Berlin is on CEST (UTC+2).
    const clock = { virtualAnchorMs: Date.parse('2026-06-01T09:58:30Z'), realAnchorMs: Date.now(), speed: 60 };
    const s = spec(uniqueId('rw'), {
      targets: { selector: { name: `${prefix}-*` } },
      strategy: { waveSize: 8, maxParallel: 1 },
      health: { minHealthy: '300ms' },
      windows: {
        onWindowEnd: 'pause',
        calendar: {
          timezone: 'Europe/Berlin',
          default: 'closed',
          periods: [
            { days: ['mon'], start: '12:00', end: '12:02', state: 'open' },
            { days: ['mon'], start: '12:05', end: '13:00', state: 'open' },
          ],
        },
      },
    });
    const handle = await start(s, clock);
    const waiting = await until('waiting for the window', async () => {
      const st = await statusOf(handle.workflowId).catch(() => undefined);
      return st?.phase === 'waiting-window' && st;
    });
    expect(waiting.waiting).toMatch(/outside the deploy window; next change 2026-06-01T10:00:00.000Z/);
    expect(waiting.window).toMatchObject({ state: 'closed', open: false });
    const result = await handle.result();
    expect(result.outcome).toBe('succeeded');

    const virtual = (at: string) => clock.virtualAnchorMs + (Date.parse(at) - clock.realAnchorMs) * clock.speed;
    const mine = new Set(ids.map((id) => id.replaceAll('-', '')));
    const starts = stack.sim
      .requests({ method: 'PATCH', route: '/cvms/:id/compose_file' })
      .filter((r) => mine.has(/\/cvms\/([^/]+)\//.exec(r.path)?.[1]?.replaceAll('-', '') ?? ''))
      .map((r) => virtual(r.at));
    expect(starts).toHaveLength(8);
    expect(Math.min(...starts)).toBeGreaterThanOrEqual(Date.parse('2026-06-01T10:00:00Z'));
    // Once the window closed at 10:02Z (seen within a calendar minute), no update started before it reopened.
    const held = starts.filter(
      (t) => t >= Date.parse('2026-06-01T10:03:00Z') && t < Date.parse('2026-06-01T10:05:00Z'),
    );
    expect(held).toEqual([]);
    expect(starts.some((t) => t < Date.parse('2026-06-01T10:03:00Z'))).toBe(true);
    expect(starts.some((t) => t >= Date.parse('2026-06-01T10:05:00Z'))).toBe(true);
    const status = await statusOf(handle.workflowId);
    expect(status.records.some((r) => /paused: outside the deploy window/.test(r.text))).toBe(true);
    await recordHistory(handle, 'rollout-window-hold');
    await recordHistory(stack.client.workflow.getHandle(`${handle.workflowId}-wave-0`), 'rollout-wave-held');
  });

  it('a freeze blocks until lifted, and skip-window starts a wave outside the window; both recorded with their notes', async () => {
    const prefix = uniqueId('fz');
    await createFleet(prefix, 2);
    const clock = { virtualAnchorMs: Date.parse('2026-12-24T10:00:00Z'), realAnchorMs: Date.now(), speed: 60 };
    const fields = {
      targets: { selector: { name: `${prefix}-*` } },
      strategy: { maxParallel: 2 },
      health: { minHealthy: '0s' },
      windows: {
        calendar: {
          timezone: 'UTC',
          default: 'closed',
          periods: [{ days: ['mon-fri'], start: '09:00', end: '17:00', state: 'open' }],
          dates: [{ from: '2026-12-24', to: '2026-12-26', state: 'frozen', note: 'holidays' }],
        },
      },
    };
    const s = spec(uniqueId('rz'), fields);
    const handle = await start(s, clock);
    const id = handle.workflowId;
    await until('frozen', async () => (await statusOf(id).catch(() => undefined))?.phase === 'frozen');
    await expect(liftFreeze(stack.client, id, '   ', '2027-01-01T00:00Z')).rejects.toThrow(/a note is required/);
    await expect(promoteRollout(stack.client, id)).rejects.toBeInstanceOf(RolloutRequestRejectedError);
    // The CLI: status as JSON (0), a request the rollout rejects (2), a rollout that does not exist (1).
    const shown = await cli('rollout', 'status', id, '--json');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out)).toMatchObject({
      rolloutId: id,
      phase: 'frozen',
      workflowStatus: 'RUNNING',
      window: { state: 'frozen', open: false },
    });
    const rejected = await cli('rollout', 'promote', id);
    expect(rejected).toMatchObject({ code: 2 });
    expect(rejected.err).toMatch(/rejected: nothing to promote: the rollout is frozen/);
    expect((await cli('rollout', 'status', 'no-such-rollout')).code).toBe(1);
    await pauseRollout(stack.client, id, 'checking');
    await expect(pauseRollout(stack.client, id)).rejects.toThrow(/already paused/);
    await resumeRollout(stack.client, id);
    expect(
      stack.sim.requests({ method: 'PATCH', route: '/cvms/:id/compose_file' }).filter((r) => r.path.includes(prefix)),
    ).toEqual([]);

    // The freeze lifted, the window underneath is open (a Thursday 10:00 UTC): the wave starts.
    // A local time without an offset is read in the window calendar's zone (UTC here).
    const lifted = await cli(
      'rollout',
      'lift-freeze',
      id,
      '--until',
      '2026-12-24T12:00',
      '--note',
      'hotfix CVE-2026-0001, approved by ops',
      '--json',
    );
    expect(lifted.code).toBe(0);
    expect(JSON.parse(lifted.out)).toMatchObject({ kind: 'liftFreeze', untilMs: Date.parse('2026-12-24T12:00Z') });
    const result = await handle.result();
    expect(result.counts).toEqual({ healthy: 2 });
    const status = await statusOf(id);
    expect(status.records.map((r) => r.text).join('\n')).toMatch(
      /override o1: freeze lifted until 2026-12-24T12:00:00.000Z \(hotfix CVE-2026-0001, approved by ops\)/,
    );
    await recordHistory(handle, 'rollout-freeze-paused-lifted');

    // Outside the window (a Saturday), skip-window lets the next rollout's wave start, once.
    const sat = { virtualAnchorMs: Date.parse('2027-01-02T10:00:00Z'), realAnchorMs: Date.now(), speed: 60 };
    const again = await start(spec(s.name, { ...fields, version: { compose: { inline: V1 } } }), sat);
    await until(
      'waiting',
      async () => (await statusOf(again.workflowId).catch(() => undefined))?.phase === 'waiting-window',
    );
    const skipped = await cli(
      'rollout',
      'skip-window',
      again.workflowId,
      '--reason',
      'customer escalation 991',
      '--by',
      'oncall',
      '--json',
    );
    expect(skipped.code).toBe(0);
    expect(JSON.parse(skipped.out)).toMatchObject({
      kind: 'skipWindow',
      by: 'oncall',
      reason: 'customer escalation 991',
    });
    expect((await again.result()).counts).toEqual({ healthy: 2 });
    await recordHistory(again, 'rollout-skip-window');
  });

  it('an app held by another deployment: the wave waits for it (onBusy: wait) or skips it (onBusy: skip), and says who holds it', async () => {
    const prefix = uniqueId('fl');
    await createFleet(prefix, 3);
    const held = `${prefix}-01`;
    const hold = async (compose: string) => {
      stack.sim.addFaults({
        routes: [{ method: 'POST', path: '/cvms/:id/compose_file/provision', cvm: held, latencyMs: 1500, count: 1 }],
      });
      const { startDeploy } = await import('../../src/client/deploy');
      const { testSpec } = await import('../support/specs');
      return startDeploy(testSpec({ name: held, compose: { inline: compose } }), {
        client: stack.client,
        taskQueue: stack.taskQueue,
        codecKeys: TEST_CODEC_KEYS,
      });
    };

    const deploy = await hold('services:\n  web:\n    image: nginx:1.29-alpine\n');
    const fields = {
      targets: { selector: { name: `${prefix}-*` } },
      strategy: { maxParallel: 3 },
      health: { minHealthy: '0s' },
    };
    const s = spec(uniqueId('rl'), fields);
    const handle = await start(s);
    const waitingFor = await until('waiting for the lock', async () => {
      const st = await statusOf(handle.workflowId).catch(() => undefined);
      return st?.cvms.find((c) => c.name === held && c.state === 'waiting-lock');
    });
    expect(waitingFor.reason).toMatch(
      new RegExp(`app held by deploy-${held} \\(deployCvm, deploy, run [0-9a-f-]+\\); waiting \\(onBusy: wait\\)`),
    );
    const deployed = await deploy.result();
    const result = await handle.result();
    expect(result.counts).toEqual({ healthy: 3 });
    const mine = result.cvms.find((c) => c.name === held)!;
    expect(mine.from).toBe(deployed.composeHash);
    const closed = (await stack.client.workflow.getHandle(`deploy-${held}`, deploy.firstExecutionRunId).describe())
      .closeTime!;
    expect(mine.startedAtMs).toBeGreaterThanOrEqual(closed.getTime());
    await recordHistory(stack.client.workflow.getHandle(`${handle.workflowId}-wave-0`), 'rollout-wave-lock-wait');

    await hold(V1);
    const skipping = await start(spec(s.name, { ...fields, version: { compose: { inline: V1 } }, onBusy: 'skip' }));
    const skipped = await skipping.result();
    expect(skipped.counts).toEqual({ healthy: 2, skipped: 1 });
    expect(skipped.cvms.find((c) => c.name === held)?.reason).toMatch(/app held by deploy-.*skipped \(onBusy: skip\)/);
    await recordHistory(stack.client.workflow.getHandle(`${skipping.workflowId}-wave-0`), 'rollout-wave-lock-skip');
  });

  it('a Schedule starts the rollout; overlap skip drops a second run, buffer-one queues it; pause keeps its note', async () => {
    const prefix = uniqueId('fs');
    await createFleet(prefix, 3);
    const s = spec(uniqueId('rs'), {
      targets: { selector: { name: `${prefix}-*` } },
      strategy: { canary: { size: 1, pause: 'manual' }, maxParallel: 2 },
      health: { minHealthy: '0s' },
    });
    const scheduleId = await createRolloutSchedule(s, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
      tuning: TUNING,
      cron: ['0 3 1 1 *'],
      timezone: 'Europe/Berlin',
    });
    try {
      await triggerRolloutSchedule(stack.client, scheduleId);
      // The schedule's list of running actions lags; its record of actions taken does not.
      const first = await until(
        'a scheduled run',
        async () => (await describeRolloutSchedule(stack.client, scheduleId)).recent[0]?.workflowId,
      );
      expect(first.startsWith(`rollout-${s.name}-`)).toBe(true);
      const paused = await until('the canary pause', async () => {
        const st = await statusOf(first).catch(() => undefined);
        return st?.phase === 'awaiting-promotion' && st;
      });
      expect(paused.records[0]?.text).toBe(`started by schedule ${scheduleId}`);

      await triggerRolloutSchedule(stack.client, scheduleId);
      const skippedRun = await until('the overlap skip', async () => {
        const d = await describeRolloutSchedule(stack.client, scheduleId);
        return d.skippedOverlap >= 1 && d;
      });
      expect(skippedRun.recent.map((r) => r.workflowId)).toEqual([first]);

      await triggerRolloutSchedule(stack.client, scheduleId, 'buffer-one');
      await promoteRollout(stack.client, first, 'canary looks good');
      await stack.client.workflow.getHandle(first).result();
      const second = await until(
        'the buffered run',
        async () => (await describeRolloutSchedule(stack.client, scheduleId)).recent[1]?.workflowId,
      );
      await until(
        'second canary',
        async () => (await statusOf(second).catch(() => undefined))?.phase === 'awaiting-promotion',
      );
      await abortRollout(stack.client, second, 'nothing left to roll out');
      const aborted = await stack.client.workflow.getHandle(second).result();
      expect(aborted).toMatchObject({ outcome: 'aborted', counts: { already: 1, pending: 2 } });

      await pauseRolloutSchedule(stack.client, scheduleId, 'release freeze: incident 4711');
      const d = await describeRolloutSchedule(stack.client, scheduleId);
      expect(d).toMatchObject({
        paused: true,
        note: 'release freeze: incident 4711',
        overlap: 'SKIP',
        timezone: 'Europe/Berlin',
        cron: ['0 3 1 1 *'],
      });
      expect(d.recent.map((r) => r.workflowId)).toEqual([first, second]);
    } finally {
      await deleteRolloutSchedule(stack.client, scheduleId);
    }
  });
});

// The rollout workflow on the real Temporal dev server with stubbed activities: plain functions over an in-memory
// fleet, registered on a worker here, while the rollout, wave and app workflows are the real ones. Deploy-window
// waits, skip-window, pause/resume and the Update validators run in seconds without the simulator. Windows run on a
// scaled clock (60×: a calendar minute is a real second); each commit the stubs take is logged at its real time.
// The real activities against the simulator are covered in test/integration/rollout-fleet.test.ts.
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComposeUpdateActivities } from '../../src/activities/compose-update-activities';
import type { createDeployActivities } from '../../src/activities/deploy-activities';
import type { RolloutActivities } from '../../src/activities/rollout-activities';
import {
  abortRollout,
  getRolloutStatus,
  pauseRollout,
  RolloutRequestRejectedError,
  resumeRollout,
  skipWindow,
} from '../../src/client/rollout';
import type { ScheduleClock } from '../../src/workflows/power-types';
import type { rollout } from '../../src/workflows/rollout';
import type { RolloutConfig, RolloutStatus } from '../../src/workflows/rollout-types';
import { type StubbedWorker, startStubbedWorker } from '../support/stubbed-worker';
import { uniqueId } from '../support/temporal';

const SPEED = 60;
const V2 = 'services:\n  web:\n    image: nginx:1.28-alpine\n';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CVMs of each app, and every commit the stubs took (real time). */
const fleet = new Map<string, string[]>();
const commits: { cvmId: string; atMs: number }[] = [];
/** How long a commit takes: a wave long enough to pause in the middle of. */
let commitMs = 0;

type Stubs = Pick<RolloutActivities, 'rolloutResolveTargets' | 'rolloutLockHolder' | 'rolloutAwaitAppFree'> &
  Pick<ComposeUpdateActivities, 'composePrepare' | 'composeCommit'> &
  Pick<ReturnType<typeof createDeployActivities>, 'watchCvm'>;

const stubs: Stubs = {
  async rolloutResolveTargets({ targets }) {
    const cvms = targets.apps.flatMap((app) =>
      (fleet.get(app) ?? []).map((cvmId) => ({ cvmId, name: cvmId, app, appId: `id-${app}`, status: 'running' })),
    );
    return { cvms, unresolved: [] };
  },
  async rolloutLockHolder() {
    return null;
  },
  async rolloutAwaitAppFree() {
    return { waitedMs: 0 };
  },
  async composePrepare({ cvmId }) {
    return {
      status: 'running',
      composeHash: `new-${cvmId}`,
      previousComposeHash: `old-${cvmId}`,
      restore: { docker_compose_file: 'services: {}\n' },
      restoreKey: `restore-${cvmId}`,
    };
  },
  async composeCommit({ cvmId }) {
    commits.push({ cvmId, atMs: Date.now() });
    await sleep(commitMs);
    return { committed: true };
  },
  async watchCvm() {
    return { status: 'running', elapsedMs: 0 };
  },
};

let stubbed: StubbedWorker;
let client: Client;
const taskQueue = uniqueId('rollout-workflow');

beforeAll(async () => {
  stubbed = await startStubbedWorker(taskQueue, stubs);
  client = stubbed.client;
});

afterAll(async () => {
  await stubbed?.stop();
});

/** Weekdays 09:00–17:00 UTC open, the rest closed. */
const officeHours: NonNullable<RolloutConfig['windows']> = {
  calendar: {
    timezone: 'UTC',
    default: 'closed',
    periods: [{ days: ['mon-fri'], start: '09:00', end: '17:00', state: 'open' }],
  },
  onWindowEnd: 'finish',
};

/** A rollout of `cvms` fresh CVMs of one app, on a 60× clock that starts at `virtualStart`. */
async function start(virtualStart: string, cvms: number, fields: Partial<RolloutConfig> = {}) {
  const app = uniqueId('app');
  const ids = Array.from({ length: cvms }, (_, i) => `${app}-cvm${i}`);
  fleet.set(app, ids);
  const clock: Required<ScheduleClock> = {
    realAnchorMs: Date.now(),
    virtualAnchorMs: Date.parse(virtualStart),
    speed: SPEED,
  };
  const config: RolloutConfig = {
    name: uniqueId('rollout'),
    targets: { apps: [app], cvms: [] },
    version: { dockerCompose: V2 },
    strategy: { maxParallel: 1, maxUnavailable: { count: 1 }, pause: { ms: 0 }, jitterMs: 0 },
    health: { minHealthyMs: 0 },
    deadlines: { cvmMs: 60_000, waveMs: 120_000 },
    failureBudget: { count: 0 },
    autoRevert: false,
    onBusy: 'wait',
    ...fields,
  };
  const handle = await client.workflow.start<typeof rollout>('rollout', {
    taskQueue,
    workflowId: `rollout-${config.name}`,
    args: [{ config, clock }],
  });
  const virtual = (realMs: number) => clock.virtualAnchorMs + (realMs - clock.realAnchorMs) * SPEED;
  return {
    handle,
    id: handle.workflowId,
    /** Commits of this rollout's CVMs, at their time on the rollout's clock. */
    commitsAt: () => commits.filter((c) => ids.includes(c.cvmId)).map((c) => virtual(c.atMs)),
    status: () => getRolloutStatus(client, handle.workflowId),
  };
}

async function until(what: string, check: () => Promise<RolloutStatus | undefined | false>): Promise<RolloutStatus> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = await check().catch(() => undefined);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('rollout workflow, stubbed activities', () => {
  it('waits for the deploy window to open, then runs the wave inside it', async () => {
    // Monday 08:59:00 UTC: the window opens in a calendar minute, a real second.
    const r = await start('2026-03-02T08:59:00Z', 2, { windows: officeHours });
    const waiting = await until('the window wait', async () => {
      const s = await r.status();
      return s.phase === 'waiting-window' && s;
    });
    expect(waiting.waiting).toBe('wave 0 waits: outside the deploy window; next change 2026-03-02T09:00:00.000Z');
    expect(waiting.window).toMatchObject({ state: 'closed', open: false, nextChange: { state: 'open' } });
    expect(r.commitsAt()).toEqual([]);

    const result = await r.handle.result();
    expect(result.outcome).toBe('succeeded');
    expect(result.counts).toEqual({ healthy: 2 });
    const at = r.commitsAt();
    expect(at).toHaveLength(2);
    expect(Math.min(...at)).toBeGreaterThanOrEqual(Date.parse('2026-03-02T09:00:00Z'));
  });

  it('skip-window starts a wave outside the window once; refuses an until in the past and a missing reason', async () => {
    // Saturday: closed until Monday 09:00, far beyond the test.
    const r = await start('2026-03-07T10:00:00Z', 1, { windows: officeHours });
    await until('the window wait', async () => {
      const s = await r.status();
      return s.phase === 'waiting-window' && s;
    });
    await expect(
      skipWindow(client, r.id, { by: 'alice', reason: 'escalation' }, '2026-03-07T09:00:00Z'),
    ).rejects.toThrow(/until 2026-03-07T09:00:00Z is not in the future/);
    await expect(skipWindow(client, r.id, { by: 'alice' })).rejects.toBeInstanceOf(RolloutRequestRejectedError);
    await expect(skipWindow(client, r.id, { by: 'alice', reason: ' ' })).rejects.toThrow(/a note is required/);
    expect((await r.status()).overrides).toEqual([]);

    const override = await skipWindow(client, r.id, { by: 'alice', reason: 'customer escalation 991' });
    expect(override).toMatchObject({
      id: 'o1',
      kind: 'skipWindow',
      by: 'alice',
      reason: 'customer escalation 991',
      note: 'customer escalation 991',
    });
    expect(override.untilMs).toBeUndefined();
    const result = await r.handle.result();
    expect(result.counts).toEqual({ healthy: 1 });
    const status = await r.status();
    expect(status.overrides).toEqual([]);
    const records = status.records.map((x) => x.text);
    expect(records).toContain(
      'override o1: deploy window skipped until the next wave ends (customer escalation 991) by alice',
    );
    expect(records).toContain('override o1 (skipWindow) used up by the wave');
  });

  it('pause holds a running wave (no CVM update starts) until resume; answers status under both query names', async () => {
    commitMs = 400;
    try {
      const r = await start('2026-03-02T10:00:00Z', 4);
      await until('the first commit', async () => r.commitsAt().length > 0 && (await r.status()));
      const ack = await pauseRollout(client, r.id, { by: 'bob', reason: 'checking dashboards' });
      expect(ack.message).toMatch(/^paused by bob: no new CVM update starts until resume \(checking dashboards\)/);
      await expect(pauseRollout(client, r.id, 'again')).rejects.toThrow(
        /already paused since .* \(checking dashboards\)/,
      );
      const paused = await until('the wave held', async () => {
        const s = await r.status();
        return s.wave?.control.hold === true && s;
      });
      expect(paused.phase).toBe('paused');
      expect(paused.paused).toMatchObject({ by: 'bob', reason: 'checking dashboards', note: 'checking dashboards' });
      const before = r.commitsAt().length;
      await sleep(1500);
      expect(r.commitsAt().length).toBe(before);
      expect(before).toBeLessThan(4);

      // The older wire name answers with the same view.
      const [current, legacy] = await Promise.all([
        r.handle.query<RolloutStatus>('status'),
        r.handle.query<RolloutStatus>('rolloutStatus'),
      ]);
      expect(legacy.paused).toEqual(current.paused);
      expect(legacy.phase).toBe(current.phase);

      const resumed = await resumeRollout(client, r.id, { by: 'bob', reason: 'dashboards fine' });
      expect(resumed.message).toMatch(/^resumed by bob after \d+s \(dashboards fine\)/);
      await expect(resumeRollout(client, r.id)).rejects.toThrow(/not paused/);
      const result = await r.handle.result();
      expect(result.counts).toEqual({ healthy: 4 });
      expect(r.commitsAt()).toHaveLength(4);
    } finally {
      commitMs = 0;
    }
  });

  it('abort: refused without a reason; accepted with the older `note` field, recorded with who asked', async () => {
    const r = await start('2026-03-07T10:00:00Z', 1, { windows: officeHours });
    await until('the window wait', async () => {
      const s = await r.status();
      return s.phase === 'waiting-window' && s;
    });
    await expect(abortRollout(client, r.id, { by: 'carol' })).rejects.toThrow(/a note is required: say why/);
    // A script written before `reason` sends `note` alone.
    const ack = await r.handle.executeUpdate<{ message: string }, [{ note: string; by: string }]>('abort', {
      args: [{ note: 'release cancelled', by: 'carol' }],
    });
    expect(ack.message).toMatch(/^abort by carol \(release cancelled\): no new CVM update starts/);
    const result = await r.handle.result();
    expect(result).toMatchObject({ outcome: 'aborted', reason: 'release cancelled', counts: { pending: 1 } });
    expect(r.commitsAt()).toEqual([]);
  });
});

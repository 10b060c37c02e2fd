// Crash safety with real processes: the worker running a rollout is SIGKILLed in the middle of a wave, a new worker
// process takes over, and the rollout finishes with every CVM updated exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRolloutStatus, startRollout } from '../../src/client/rollout';
import { validateSpec } from '../../src/spec';
import type { RolloutSpec } from '../../src/spec/rollout';
import { startStack, TEST_API_KEY, type TestStack } from '../support/stack';
import { TEST_CODEC_KEYS, uniqueId } from '../support/temporal';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';

const V1 = 'services:\n  web:\n    image: nginx:1.27-alpine\n';
const V2 = 'services:\n  web:\n    image: nginx:1.28-alpine\n';

describe('a rollout survives a worker crash', () => {
  let stack: TestStack;
  const workers: WorkerProcess[] = [];
  const startWorker = async () => {
    const w = await spawnWorker({ taskQueue: stack.taskQueue, phalaUrl: stack.sim.url, apiKey: TEST_API_KEY });
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    // Real-time delays long enough to crash inside a wave: an update restarts a CVM for about 2 s.
    stack = await startStack({
      sim: { timeScale: 1, delays: { create: 100, boot: 200, update: 300, restart: 1800, delete: 10, jitter: 0 } },
    });
  });
  afterAll(async () => {
    for (const w of workers) await w.kill();
    await stack?.close();
  });

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('SIGKILL mid-wave: a new worker process finishes the rollout, no CVM updated twice', async () => {
    const prefix = uniqueId('fc');
    const names = Array.from({ length: 6 }, (_, i) => `${prefix}-${i}`);
    for (const name of names) {
      const p = await stack.phala.provisionCvm({ name, compose_file: { docker_compose_file: V1 }, node_id: 1 });
      await stack.phala.commitCvmProvision({ app_id: p.app_id!, compose_hash: p.compose_hash });
    }
    const fleet = () => stack.sim.cvms().filter((c) => c.name.startsWith(`${prefix}-`));
    while (!fleet().every((c) => c.status === 'running' && c.operation === null)) await sleep(50);

    const first = await startWorker();
    const spec: RolloutSpec = validateSpec(
      {
        apiVersion: 'cvmflow/v1',
        kind: 'Rollout',
        name: uniqueId('rc'),
        targets: { selector: { name: `${prefix}-*` } },
        version: { compose: { inline: V2 } },
        strategy: { waveSize: 3, maxParallel: 3 },
        health: { minHealthy: '0s' },
      },
      { source: 'test', baseDir: '.', kinds: ['Rollout'] },
    );
    const since = performance.timeOrigin + performance.now();
    const handle = await startRollout(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
      tuning: { heartbeatTimeoutMs: 2000, apiAttemptTimeoutMs: 3000, lockPollMs: 200, healthPollMs: 100 },
    });
    // The replacement starts now (a worker takes seconds to bundle) and is up only after the kill below.
    let secondUp = false;
    const second = startWorker().then((w) => {
      secondUp = true;
      return w;
    });
    // Kill while the first wave's CVMs restart on the new compose.
    const giveUp = Date.now() + 30_000;
    while (!fleet().some((c) => c.status === 'restarting')) {
      if (Date.now() > giveUp) throw new Error(`no CVM restarted; worker output:\n${first.output()}`);
      await sleep(20);
    }
    const inWave = await getRolloutStatus(stack.client, handle.workflowId);
    expect(inWave.currentWave?.index).toBe(0);
    await first.kill();
    // Nobody else was polling when the first worker died: the second one picks up where it left off.
    expect(secondUp).toBe(false);
    await second;
    const result = await handle.result();

    expect(result.outcome).toBe('succeeded');
    expect(result.counts).toEqual({ healthy: 6 });
    const recorded = new Map(result.cvms.map((c) => [c.cvmId, c]));
    for (const c of fleet()) {
      expect(c.composeHash, c.name).toBe(recorded.get(c.vmUuid)?.to);
      expect(c.status, c.name).toBe('running');
      // Exactly one update operation per CVM since the rollout started.
      const updates = c.history.filter((h) => h.ts >= since && h.status === 'updating');
      expect(updates, c.name).toHaveLength(1);
    }
    const bare = new Set(fleet().map((c) => c.vmUuid.replaceAll('-', '')));
    const commits = stack.sim
      .requests({ method: 'PATCH', route: '/cvms/:id/compose_file' })
      .filter((r) => r.status < 300 && bare.has(/\/cvms\/([^/]+)\//.exec(r.path)?.[1]?.replaceAll('-', '') ?? ''));
    expect(commits).toHaveLength(6);
  });

  it('SIGKILL mid-wave with a background analysis: it goes on measuring under the new worker, nothing lost', async () => {
    const prefix = uniqueId('fb');
    for (const name of [`${prefix}-0`, `${prefix}-1`]) {
      const p = await stack.phala.provisionCvm({ name, compose_file: { docker_compose_file: V1 }, node_id: 1 });
      await stack.phala.commitCvmProvision({ app_id: p.app_id!, compose_hash: p.compose_hash });
    }
    const fleet = () => stack.sim.cvms().filter((c) => c.name.startsWith(`${prefix}-`));
    while (!fleet().every((c) => c.status === 'running' && c.operation === null)) await sleep(50);

    const first = await startWorker();
    const spec: RolloutSpec = validateSpec(
      {
        apiVersion: 'cvmflow/v1',
        kind: 'Rollout',
        name: uniqueId('rb'),
        targets: { selector: { name: `${prefix}-*` } },
        version: { compose: { inline: V2 } },
        strategy: { waveSize: 1, maxParallel: 1 },
        health: { minHealthy: '1s' },
        analysis: {
          background: {
            metrics: [{ name: 'smoke', provider: { job: { command: ['true'] } }, interval: '300ms', timeout: '1s' }],
          },
        },
      },
      { source: 'test', baseDir: '.', kinds: ['Rollout'] },
    );
    const handle = await startRollout(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
      tuning: { heartbeatTimeoutMs: 2000, apiAttemptTimeoutMs: 3000, lockPollMs: 200, healthPollMs: 100 },
    });
    const second = startWorker();
    const giveUp = Date.now() + 30_000;
    let before = await getRolloutStatus(stack.client, handle.workflowId);
    while (!fleet().some((c) => c.status === 'restarting') || (before.background?.metrics[0]?.counts.taken ?? 0) < 2) {
      if (Date.now() > giveUp) throw new Error(`no CVM restarted; worker output:\n${first.output()}`);
      await sleep(20);
      before = await getRolloutStatus(stack.client, handle.workflowId);
    }
    const killedAt = Date.now();
    await first.kill();
    await second;
    const result = await handle.result();
    expect(result.outcome).toBe('succeeded');

    const after = (await getRolloutStatus(stack.client, handle.workflowId)).background!;
    expect(after.verdict).toBe('pass');
    const [m] = after.metrics;
    // The counts went on from where they were: nothing measured before the crash was lost or counted again.
    expect(m!.counts.taken).toBeGreaterThan(before.background!.metrics[0]!.counts.taken);
    expect(m!.counts.failures + m!.counts.errors).toBe(0);
    expect(m!.measurements.at(-1)!.atMs).toBeGreaterThan(killedAt);
  });
});

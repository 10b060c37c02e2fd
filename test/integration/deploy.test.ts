// The deploy pipeline through the real stack: Temporal dev server, our simulator over HTTP/SSE, the real worker.
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeployBusyError, startDeploy, toDeployInput } from '../../src/client/deploy';
import { sealEnv } from '../../src/secrets/sealed-env';
import type { DeployInput } from '../../src/workflows/deploy-types';
import { deployWorkflowId } from '../../src/workflows/deploy-types';
import { decodedHistoryText, rawHistoryBytes } from '../support/history';
import { recordHistory } from '../support/replay';
import { COMPOSE, testSpec } from '../support/specs';
import { startStack, type TestStack } from '../support/stack';
import { TEST_CODEC_KEYS } from '../support/temporal';

const SECRET = 'hello-secret-value-42';

async function eventually<T>(fn: () => T, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function failureMessage(err: unknown): string {
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return (err as WorkflowFailedError).cause?.message ?? '';
}

describe('deploy pipeline on the real stack', () => {
  let stack: TestStack;
  const liveCvms = (app: string) => stack.sim.cvms().filter((c) => c.name === app && c.status !== 'deleting');

  /** Starts the workflow from a ready input, for tests that need deadlines shorter than a spec allows. */
  const runInput = (input: DeployInput) =>
    stack.client.workflow.execute('deployCvm', {
      taskQueue: stack.taskQueue,
      workflowId: deployWorkflowId(input.app),
      args: [input],
    });

  beforeAll(async () => {
    stack = await startStack({ sim: { delays: { delete: 10 } } });
    await stack.startWorker();
  });
  afterAll(() => stack?.close());

  it('deploys a CVM with 2 replicas; the result matches the simulator; env plaintext never reaches history', async () => {
    const spec = testSpec({ replicas: 3, env: { GREETING: { fromEnv: 'GREETING' } } });
    const handle = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
      env: { GREETING: SECRET },
    });
    const result = await handle.result();
    expect(result.mode).toBe('create');
    expect(result.cvms).toHaveLength(3);
    const sim = liveCvms(spec.name);
    expect(sim.map((c) => c.vmUuid).sort()).toEqual(result.cvms.map((c) => c.cvmId).sort());
    expect(
      sim.every((c) => c.status === 'running' && c.appId === result.appId && c.composeHash === result.composeHash),
    ).toBe(true);
    expect(sim.every((c) => c.envKeys.join() === 'GREETING')).toBe(true);
    // Neither the stored history nor its decrypted payloads hold the value: it travelled sealed.
    expect((await rawHistoryBytes(handle.workflowId)).includes(SECRET)).toBe(false);
    const decoded = await decodedHistoryText(handle.workflowId);
    expect(decoded).toContain(spec.name);
    expect(decoded).not.toContain(SECRET);
    // API calls: 1 list, provision, commit, 2 replicas, status polls; never a second commit or replica.
    const posts = stack.sim
      .requests({ method: 'POST' })
      .filter((r) => r.path.includes(result.appId) || r.route === '/cvms');
    expect(posts.filter((r) => r.route === '/cvms')).toHaveLength(1);
    expect(stack.sim.requests({ route: '/cvms/:id/replicas' })).toHaveLength(2);
    await recordHistory(handle, 'deploy-success');
  });

  it('refuses a second deployment of the same app while one runs, naming it', async () => {
    const spec = testSpec();
    stack.sim.addFaults({ routes: [{ method: 'POST', path: '/cvms/provision', latencyMs: 1500, count: 1 }] });
    const first = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
    });
    const second = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
    }).catch((e) => e);
    expect(second).toBeInstanceOf(DeployBusyError);
    expect((second as Error).message).toContain(`workflow deploy-${spec.name}, run ${first.firstExecutionRunId}`);
    await first.result();
  });

  it.each([
    ['provision', { method: 'POST', path: '/cvms/provision', status: 400, body: { detail: 'compose rejected' } }],
    [
      'commit',
      { method: 'POST', path: '/cvms', status: 400, body: { detail: 'invalid payload or provision data expired' } },
    ],
    ['replicate', { method: 'POST', path: '/cvms/:id/replicas', status: 400, body: { detail: 'image not on node' } }],
  ])('a permanent failure in %s fails the run naming the phase and leaves no CVM of the app', async (phase, fault) => {
    const spec = testSpec({ replicas: 2 });
    const f = stack.sim.addFaults({ routes: [fault] });
    const err = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
    })
      .then((h) => h.result())
      .catch((e) => e);
    stack.sim.removeFault(f.routes[0]!.id);
    const message = failureMessage(err);
    expect(message).toMatch(new RegExp(`^deploy of ${spec.name} failed in phase ${phase}: `));
    expect(message).toContain(String(fault.body.detail));
    if (phase === 'replicate')
      await recordHistory(stack.client.workflow.getHandle(deployWorkflowId(spec.name)), 'deploy-rolled-back');
    // A failed commit created nothing, so the registered compensation finds nothing to delete.
    if (phase === 'replicate')
      expect(message).toMatch(/rolled back: delete every CVM of app [0-9a-f]{40} \([0-9a-f-]{36}\)/);
    else expect(message).toContain('nothing to roll back');
    expect(
      await eventually(
        () => liveCvms(spec.name),
        (l) => l.length === 0,
      ),
    ).toEqual([]);
  });

  it('a CVM that never reaches running times out per its deadline and is rolled back', async () => {
    const spec = testSpec();
    stack.sim.addFaults({ cvms: [{ cvm: spec.name, neverReachTarget: true }] });
    const input = { ...toDeployInput(spec, undefined), heartbeatTimeoutMs: 2000 };
    input.timeouts = { ...input.timeouts, runningMs: 1500 };
    const started = Date.now();
    const err = await runInput(input).catch((e) => e);
    expect(failureMessage(err)).toMatch(
      /failed in phase running: .*did not reach running before the deadline.*rolled back/,
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(
      await eventually(
        () => liveCvms(spec.name),
        (l) => l.length === 0,
      ),
    ).toEqual([]);
  });

  it('rides out 503 and 429 storms, never retrying before Retry-After', async () => {
    const spec = testSpec({ replicas: 2 });
    const since = stack.sim.requests().at(-1)?.seq ?? 0;
    stack.sim.addFaults({
      routes: [
        { method: 'POST', path: '/cvms/provision', status: 503, retryAfter: 1, count: 2 },
        { method: 'POST', path: '/cvms', status: 429, retryAfter: 1, count: 2 },
        { method: 'POST', path: '/cvms/:id/replicas', status: 503, retryAfter: 1, count: 1 },
      ],
    });
    const result = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
    }).then((h) => h.result());
    expect(result.cvms).toHaveLength(2);
    for (const route of ['/cvms/provision', '/cvms', '/cvms/:id/replicas']) {
      const calls = stack.sim.requests({ sinceSeq: since, method: 'POST', route });
      expect(calls.filter((c) => c.status >= 500 || c.status === 429).length).toBeGreaterThan(0);
      for (let i = 1; i < calls.length; i++) {
        if (calls[i - 1]!.status !== 503 && calls[i - 1]!.status !== 429) continue;
        const gap = Date.parse(calls[i]!.at) - Date.parse(calls[i - 1]!.at);
        expect(gap, `${route} retried after ${gap} ms`).toBeGreaterThanOrEqual(1000);
      }
    }
  });

  it('completes when every SSE stream drops after one event', async () => {
    const spec = testSpec({ replicas: 2 });
    const f = stack.sim.addFaults({
      routes: [{ method: 'GET', path: '/cvms/:id/state', sse: { dropAfterEvents: 1 } }],
    });
    const result = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
    }).then((h) => h.result());
    expect(result.cvms.map((c) => c.status)).toEqual(['running', 'running']);
    expect(stack.sim.requests({ route: '/cvms/:id/state' }).some((r) => r.faults.includes(f.routes[0]!.id))).toBe(true);
    stack.sim.removeFault(f.routes[0]!.id);
  });

  it('updates an existing app in place, and rolls a failed update back to the previous compose', async () => {
    const spec = testSpec({ replicas: 2 });
    const first = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
    }).then((h) => h.result());

    const v2 = testSpec({ name: spec.name, replicas: 2, compose: { inline: COMPOSE.replace('1.27', '1.28') } });
    const second = await startDeploy(v2, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
    }).then((h) => h.result());
    expect(second.mode).toBe('update');
    expect(second.previousComposeHash).toBe(first.composeHash);
    expect(second.composeHash).not.toBe(first.composeHash);
    expect(liveCvms(spec.name).map((c) => c.composeHash)).toEqual([second.composeHash, second.composeHash]);
    expect(liveCvms(spec.name)).toHaveLength(2);

    // v3 fails on the second CVM; the first, already updated, must be restored to v2.
    const [, secondCvm] = second.cvms;
    stack.sim.addFaults({
      routes: [
        {
          method: 'PATCH',
          path: '/cvms/:id/compose_file',
          cvm: secondCvm!.cvmId,
          status: 400,
          body: { detail: 'node maintenance' },
        },
      ],
    });
    const v3 = testSpec({ name: spec.name, replicas: 2, compose: { inline: COMPOSE.replace('1.27', '1.29') } });
    const third = await startDeploy(v3, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
    });
    const err = await third.result().catch((e) => e);
    await recordHistory(third, 'deploy-update-rolled-back');
    expect(failureMessage(err)).toMatch(/failed in phase update: .*node maintenance.*rolled back: restore compose/);
    expect(liveCvms(spec.name).map((c) => c.composeHash)).toEqual([second.composeHash, second.composeHash]);
    expect(liveCvms(spec.name).every((c) => c.status === 'running')).toBe(true);
  });

  it('cancelling during replication deletes what the run created, and nothing else', async () => {
    const bystander = testSpec();
    await startDeploy(bystander, { client: stack.client, taskQueue: stack.taskQueue, codecKeys: TEST_CODEC_KEYS }).then(
      (h) => h.result(),
    );
    const spec = testSpec({ replicas: 4 });
    // Slow replica creation keeps the run in the replicate phase long enough to cancel it there.
    stack.sim.addFaults({ routes: [{ method: 'POST', path: '/cvms/:id/replicas', latencyMs: 400 }] });
    const handle = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
    });
    await eventually(
      () => liveCvms(spec.name).length,
      (n) => n >= 2,
      15_000,
    );
    await handle.cancel();
    const err = await handle.result().catch((e) => e);
    stack.sim.clearFaults();
    await recordHistory(handle, 'deploy-cancelled');
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause?.name).toBe('CancelledFailure');
    expect(
      await eventually(
        () => liveCvms(spec.name),
        (l) => l.length === 0,
      ),
    ).toEqual([]);
    expect(liveCvms(bystander.name)).toHaveLength(1);
    const progress = await handle.query('progress');
    expect((progress as { cleanedUp: string[] }).cleanedUp[0]).toMatch(/^delete every CVM of app/);
    // `status` is the query's name now; `progress`, the older one, answers the same.
    expect(await handle.query('status')).toEqual(progress);
  });

  it('seals env values with the codec key ring, and refuses without one', () => {
    expect(() => sealEnv([{ key: 'A', value: 'b' }], undefined)).toThrow(/env values need CVMFLOW_CODEC_KEY/);
  });
});

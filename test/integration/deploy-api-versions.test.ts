// The deploy pipeline with the worker's Phala client on each API version cvmflow runs on: 2026-06-23 (the default,
// hashids in commit/replica answers) and 2026-01-21 (integer ids there) — create with replicas, then update in
// place, on the real stack. The simulator's request log proves which version every JSON call spoke. The rest of the
// integration suite runs on either version with CVMFLOW_TEST_API_VERSION (test/support/stack.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeploy } from '../../src/client/deploy';
import { DEFAULT_API_VERSION } from '../../src/phala/client';
import { COMPOSE, testSpec } from '../support/specs';
import { startStack, type TestStack } from '../support/stack';
import { TEST_CODEC_KEYS } from '../support/temporal';

describe.each(['2026-06-23', '2026-01-21'] as const)('deploy with the client on API version %s', (version) => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ apiVersion: version, sim: { delays: { delete: 10 } } });
    await stack.startWorker();
  });
  afterAll(() => stack?.close());

  it('creates an app with a replica, then updates it in place, every call at that version', async () => {
    if (version === '2026-06-23') expect(DEFAULT_API_VERSION).toBe(version);
    const since = stack.sim.requests().at(-1)?.seq ?? 0;
    const spec = testSpec({ replicas: 2 });
    const opts = { client: stack.client, taskQueue: stack.taskQueue, codecKeys: TEST_CODEC_KEYS };
    const first = await startDeploy(spec, opts).then((h) => h.result());
    expect(first.mode).toBe('create');
    const live = () => stack.sim.cvms().filter((c) => c.name === spec.name && c.status !== 'deleting');
    expect(
      live()
        .map((c) => c.vmUuid)
        .sort(),
    ).toEqual(first.cvms.map((c) => c.cvmId).sort());

    const v2 = testSpec({ name: spec.name, replicas: 2, compose: { inline: COMPOSE.replace('1.27', '1.28') } });
    const second = await startDeploy(v2, opts).then((h) => h.result());
    expect(second.mode).toBe('update');
    expect(live().map((c) => c.composeHash)).toEqual([second.composeHash, second.composeHash]);
    expect(live().every((c) => c.status === 'running')).toBe(true);

    // The SSE watch carries no X-Phala-Version (as the official SDK's), so the server answers it at its default.
    const calls = stack.sim.requests({ sinceSeq: since }).filter((r) => !r.query.includes('target='));
    expect(calls.length).toBeGreaterThan(5);
    expect(new Set(calls.map((r) => r.apiVersion))).toEqual(new Set([version]));
    for (const route of ['/cvms/provision', '/cvms', '/cvms/:id/replicas', '/cvms/:id/compose_file']) {
      expect(calls.some((r) => r.route === route)).toBe(true);
    }
  });

  it('lists the fleet for power and rollout scans on that version', async () => {
    const summaries = await stack.phala.listCvmSummaries();
    expect(summaries.length).toBeGreaterThan(0);
    const page = await stack.phala.listCvms({ pageSize: 100 });
    expect(page.items.map((c) => c.id).sort()).toEqual(summaries.map((c) => c.id).sort());
  });
});

// The rollout's activities against a scripted Phala client: each reads before it writes, so a retry never
// commits or reverts a CVM twice, and a revert never puts back anything but the previous compose.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRolloutActivities } from '../../src/activities/rollout-activities';
import type { PhalaClient } from '../../src/phala/client';

const hashOf = (compose: Record<string, unknown>) => `h(${JSON.stringify(compose)})`;

/** One CVM with a compose, a status and a log of the writes made to it. */
function fakePhala(initial: { status?: string; compose?: Record<string, unknown>; statuses?: string[] } = {}) {
  let compose: Record<string, unknown> = initial.compose ?? {
    name: 'web',
    docker_compose_file: 'v1',
    allowed_envs: [],
  };
  let status = initial.status ?? 'running';
  const statuses = [...(initial.statuses ?? [])];
  const provisioned = new Map<string, Record<string, unknown>>();
  const writes: string[] = [];
  const phala = {
    getComposeFile: async () => ({ ...compose }),
    getCvm: async () => ({ status, compose_hash: hashOf(compose), kms_info: { encrypted_env_pubkey: 'pk' } }),
    provisionComposeFileUpdate: async (_id: string, next: Record<string, unknown>) => {
      provisioned.set(hashOf(next), next);
      return { compose_hash: hashOf(next) };
    },
    commitComposeFileUpdate: async (_id: string, req: { composeHash: string }) => {
      writes.push(`commit ${req.composeHash}`);
      compose = provisioned.get(req.composeHash)!;
      if (status === 'exited') status = 'stopped';
    },
    startCvm: async () => {
      writes.push('start');
      status = 'running';
    },
    getStatusBatch: async (ids: string[]) => ({
      [ids[0]!]: { status: statuses.shift() ?? status, in_progress: false },
    }),
    listCvms: async () => ({
      items: [
        { name: 'web-b', vm_uuid: 'b-1', app_id: 'ab', status: 'running' },
        { name: 'web-a', vm_uuid: 'a-1', app_id: 'aa', status: 'running' },
        { name: 'api', vm_uuid: 'c-1', app_id: 'ac', status: 'running' },
        { name: 'web-a', vm_uuid: 'a-2', app_id: 'aa', status: 'deleting' },
      ],
      pages: 1,
    }),
  };
  return {
    phala: phala as unknown as PhalaClient,
    writes,
    compose: () => compose,
    setStatus: (s: string) => (status = s),
  };
}

const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
  new MockActivityEnvironment().run(fn, ...args) as Promise<R>;

describe('rollout activities', () => {
  it('resolve: CVMs as listed, then apps, then selector matches by name, each once; misses are reported', async () => {
    const { rolloutResolveTargets } = createRolloutActivities({ phala: fakePhala().phala });
    const found = await run(rolloutResolveTargets, {
      targets: { cvms: ['c-1'], apps: ['web-b', 'gone'], selector: { name: 'web-*' } },
    });
    expect(found.cvms.map((c) => c.cvmId)).toEqual(['c-1', 'b-1', 'a-1']);
    expect(found.unresolved).toEqual(['app gone: no live CVM carries this name']);
  });

  it('prepare records only the fields the rollout changes; commit does not commit twice', async () => {
    const fake = fakePhala({
      compose: { name: 'web', docker_compose_file: 'v1', pre_launch_script: 'echo', allowed_envs: ['A'] },
    });
    const acts = createRolloutActivities({ phala: fake.phala });
    const prepared = await run(acts.rolloutPrepare, { cvmId: 'x', dockerCompose: 'v2' });
    expect(prepared.restore).toEqual({ docker_compose_file: 'v1', pre_launch_script: 'echo' });
    expect(prepared.composeHash).toBe(hashOf({ name: 'web', docker_compose_file: 'v2', allowed_envs: ['A'] }));
    const commit = { cvmId: 'x', composeHash: prepared.composeHash, previousComposeHash: prepared.previousComposeHash };
    expect(await run(acts.rolloutCommit, commit)).toEqual({ committed: true });
    // A retry after a lost reply finds the new hash in place.
    expect(await run(acts.rolloutCommit, commit)).toEqual({ committed: false });
    expect(fake.writes).toHaveLength(1);
  });

  it('revert restores the previous compose, boots a CVM the failure left off, and is a no-op the second time', async () => {
    const fake = fakePhala();
    const acts = createRolloutActivities({ phala: fake.phala });
    const prepared = await run(acts.rolloutPrepare, { cvmId: 'x', dockerCompose: 'v2' });
    await run(acts.rolloutCommit, {
      cvmId: 'x',
      composeHash: prepared.composeHash,
      previousComposeHash: prepared.previousComposeHash,
    });
    fake.setStatus('exited');
    const req = {
      cvmId: 'x',
      restore: prepared.restore,
      previousComposeHash: prepared.previousComposeHash,
      rolloutComposeHash: prepared.composeHash,
    };
    expect(await run(acts.rolloutRevert, req)).toMatchObject({
      outcome: 'reverted',
      composeHash: prepared.previousComposeHash,
      started: true,
    });
    expect(fake.compose()).toMatchObject({ docker_compose_file: 'v1' });
    expect(await run(acts.rolloutRevert, req)).toMatchObject({ outcome: 'already', started: false });
    expect(fake.writes).toEqual([`commit ${prepared.composeHash}`, `commit ${prepared.previousComposeHash}`, 'start']);
  });

  it('revert leaves alone a CVM someone deployed over, and refuses a restore that would not give the previous hash', async () => {
    const fake = fakePhala({ compose: { name: 'web', docker_compose_file: 'v3' } });
    const acts = createRolloutActivities({ phala: fake.phala });
    const current = hashOf(fake.compose());
    expect(
      await run(acts.rolloutRevert, {
        cvmId: 'x',
        restore: { docker_compose_file: 'v1' },
        previousComposeHash: 'h-v1',
        rolloutComposeHash: 'h-v2',
      }),
    ).toMatchObject({ outcome: 'diverged', composeHash: current });
    await expect(
      run(acts.rolloutRevert, {
        cvmId: 'x',
        restore: { docker_compose_file: 'v0' },
        previousComposeHash: 'h-v1',
        rolloutComposeHash: current,
      }),
    ).rejects.toMatchObject({ type: 'RevertMismatch' });
    expect(fake.writes).toEqual([]);
  });
});

describe('the health gate', () => {
  let url = '';
  let answer = 200;
  const server = createServer((_req, res) => {
    res.statusCode = answer;
    res.end();
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/{app}/health`;
  });
  afterAll(() => server.close());
  const gate = (phala: PhalaClient, extra: Record<string, unknown> = {}) =>
    run(createRolloutActivities({ phala }).rolloutHealthGate, {
      cvmId: 'x',
      app: 'web',
      appId: 'aa',
      minHealthyMs: 100,
      deadlineMs: Date.now() + 600,
      pollMs: 20,
      ...extra,
    });

  it('passes once the CVM has been running (and answering) for minHealthy without a break', async () => {
    answer = 200;
    const started = Date.now();
    const r = await gate(fakePhala({ statuses: ['restarting', 'running'] }).phala, {
      http: { url, intervalMs: 20, timeoutMs: 200 },
    });
    expect(r.healthyForMs).toBeGreaterThanOrEqual(100);
    expect(Date.now() - started).toBeLessThan(600);
  });

  it('fails at once when the CVM crashes, and at the deadline when the check keeps failing', async () => {
    await expect(gate(fakePhala({ statuses: ['running', 'exited'] }).phala)).rejects.toMatchObject({
      type: 'CvmFailed',
      message: expect.stringMatching(/is exited after the update/),
    });
    answer = 503;
    await expect(gate(fakePhala().phala, { http: { url, intervalMs: 20, timeoutMs: 200 } })).rejects.toMatchObject({
      type: 'HealthGateTimeout',
      message: expect.stringMatching(/last: GET http:\/\/127\.0\.0\.1:\d+\/web\/health answered 503/),
    });
  });
});

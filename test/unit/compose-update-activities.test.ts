// The compose-update activities deploy updates and rollouts share, against a scripted Phala client: a deploy's change
// (visibility included) is undone by its restore patch to the exact previous hash, a CVM that was stopped before the
// update is not booted by its restore, and on-chain apps are recognised so their hash is approved before the commit.
import { createHash } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import {
  applyChange,
  createComposeUpdateActivities,
  restoreKeyOf,
} from '../../src/activities/compose-update-activities';
import type { PhalaClient } from '../../src/phala/client';

const hashOf = (compose: Record<string, unknown>) =>
  createHash('sha256')
    .update(JSON.stringify(Object.fromEntries(Object.entries(compose).sort())))
    .digest('hex');

function fakePhala(status: string, extra: Record<string, unknown> = {}) {
  let compose: Record<string, unknown> = {
    name: 'web',
    docker_compose_file: 'v1',
    pre_launch_script: 'echo v1',
    allowed_envs: ['A'],
    public_logs: true,
    public_sysinfo: true,
    public_tcbinfo: false,
  };
  const provisioned = new Map<string, Record<string, unknown>>();
  const writes: string[] = [];
  const phala = {
    getComposeFile: async () => ({ ...compose }),
    getCvm: async () => ({ status, compose_hash: hashOf(compose), ...extra }),
    provisionComposeFileUpdate: async (_id: string, next: Record<string, unknown>) => {
      provisioned.set(hashOf(next), next);
      return { compose_hash: hashOf(next) };
    },
    commitComposeFileUpdate: async (_id: string, req: { composeHash: string }) => {
      writes.push(`commit ${req.composeHash}`);
      compose = provisioned.get(req.composeHash)!;
    },
    startCvm: async () => {
      writes.push('start');
    },
  };
  return { phala: phala as unknown as PhalaClient, writes, hash: () => hashOf(compose) };
}

const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
  new MockActivityEnvironment().run(fn, ...args);

describe('compose-update activities', () => {
  it("a deploy's full change is restored to the previous hash; a CVM stopped before stays stopped", async () => {
    const fake = fakePhala('stopped');
    const acts = createComposeUpdateActivities({ phala: fake.phala, busyRetryMs: 1 });
    const before = fake.hash();
    const prepared = await run(acts.composePrepare, {
      cvmId: 'x',
      change: {
        dockerCompose: 'v2',
        allowedEnvs: ['A', 'B'],
        visibility: { publicLogs: false, publicSysinfo: false, publicTcbinfo: true },
      },
    });
    expect(prepared.restore).toEqual({
      docker_compose_file: 'v1',
      pre_launch_script: 'echo v1',
      allowed_envs: ['A'],
      public_logs: true,
      public_sysinfo: true,
      public_tcbinfo: false,
    });
    expect(prepared.onChain).toBeUndefined();
    const commit = { cvmId: 'x', composeHash: prepared.composeHash, previousComposeHash: before };
    expect(await run(acts.composeCommit, commit)).toEqual({ committed: true });
    expect(await run(acts.composeCommit, commit)).toEqual({ committed: false });

    const restore = {
      cvmId: 'x',
      restore: prepared.restore,
      previousComposeHash: before,
      updateComposeHash: prepared.composeHash,
      startIfOff: prepared.status === 'running',
    };
    expect(await run(acts.composeRestore, restore)).toMatchObject({ outcome: 'reverted', started: false });
    expect(fake.hash()).toBe(before);
    expect(fake.writes).toEqual([`commit ${prepared.composeHash}`, `commit ${before}`]);
  });

  it('keys a rollout-shaped patch exactly as rollouts did before the shared path (restores held in running rollouts)', () => {
    const { restore } = applyChange({ docker_compose_file: 'v1', allowed_envs: [] }, { dockerCompose: 'v2' });
    const before = createHash('sha256')
      .update(JSON.stringify({ docker_compose_file: 'v1', pre_launch_script: null }))
      .digest('hex')
      .slice(0, 16);
    expect(restoreKeyOf(restore)).toBe(before);
  });

  it('says which app contract must allow the new hash, for on-chain KMS CVMs only', async () => {
    const app = '0x1111111111111111111111111111111111111111';
    const onChain = fakePhala('running', { kms_type: 'base', kms_info: { dstack_app_address: app } });
    const acts = createComposeUpdateActivities({ phala: onChain.phala });
    const prepared = await run(acts.composePrepare, { cvmId: 'x', change: { dockerCompose: 'v2' } });
    expect(prepared.onChain).toEqual({ appId: app });
    const central = fakePhala('running', { kms_type: 'phala', kms_info: { dstack_app_address: app } });
    const p2 = await run(createComposeUpdateActivities({ phala: central.phala }).composePrepare, {
      cvmId: 'x',
      change: { dockerCompose: 'v2' },
    });
    expect(p2.onChain).toBeUndefined();
  });
});

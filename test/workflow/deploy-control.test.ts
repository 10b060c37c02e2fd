// The deploy workflow on the real Temporal dev server with stubbed activities: plain functions over an in-memory app
// (its CVMs, the on-chain allow-list, the transactions the "chain" knows), registered on a worker here, while the
// deploy workflow is the real one. The approval update's validator and handler, the approval deadline and the
// rollback of a failed update run in seconds without the simulator or a chain; the real activities are covered in
// test/integration/deploy.test.ts and deploy-onchain-approval.test.ts.
import { type Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { createChainActivities } from '../../src/activities/chain-activities';
import type { ComposeUpdateActivities } from '../../src/activities/compose-update-activities';
import type { createDeployActivities } from '../../src/activities/deploy-activities';
import {
  ApprovalRejectedError,
  getDeployStatus,
  getPendingApproval,
  submitApprovalTx,
  toDeployInput,
} from '../../src/client/deploy';
import { replayWorkerOptions } from '../../src/worker/worker';
import type { deployCvm } from '../../src/workflows/deploy';
import { type DeployInput, deployWorkflowId } from '../../src/workflows/deploy-types';
import { splitAfterFirstLocalActivity } from '../support/history-split';
import { testSpec } from '../support/specs';
import { type StubbedWorker, startStubbedWorker } from '../support/stubbed-worker';
import { TEST_CODEC_KEYS, uniqueId } from '../support/temporal';

const tx = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;
const GOOD_TX = tx(1);
const SLOW_TX = tx(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CVMs of each app; every call the stubs took, in order. */
const apps = new Map<string, string[]>();
const calls: { name: string; cvmId?: string; txHash?: string }[] = [];
/** CVMs whose commit fails (a node in maintenance). */
const failingCommits = new Set<string>();
/** How long verifying SLOW_TX takes: long enough to submit another meanwhile. */
let slowVerifyMs = 0;

type Stubs = Pick<ReturnType<typeof createDeployActivities>, 'findAppCvms' | 'watchCvm'> &
  Pick<ComposeUpdateActivities, 'composePrepare' | 'composeCommit' | 'composeRestore'> &
  Pick<ReturnType<typeof createChainActivities>, 'composeHashApprovalRequest' | 'verifyComposeHashApproval'>;

const stubs: Stubs = {
  async findAppCvms({ app }) {
    return (apps.get(app) ?? []).map((cvmId) => ({ cvmId, appId: `0xapp-${app}`, nodeId: 1, status: 'running' }));
  },
  async composePrepare({ cvmId }) {
    calls.push({ name: 'composePrepare', cvmId });
    return {
      status: 'running',
      composeHash: 'new',
      previousComposeHash: `old-${cvmId}`,
      restore: { docker_compose_file: 'services: {}\n' },
      restoreKey: `restore-${cvmId}`,
      onChain: { appId: '0xcontract' },
    };
  },
  async composeHashApprovalRequest({ appId, composeHash }) {
    calls.push({ name: 'composeHashApprovalRequest' });
    return { chainId: 31337, contract: appId, calldata: '0xcalldata', composeHash, owner: '0xowner', allowed: false };
  },
  async verifyComposeHashApproval({ txHash }) {
    calls.push({ name: 'verifyComposeHashApproval', txHash });
    if (txHash === SLOW_TX) await sleep(slowVerifyMs);
    if (txHash !== GOOD_TX)
      throw ApplicationFailure.nonRetryable(`transaction ${txHash} is unknown on chain 31337`, 'ApprovalRejected');
    return { txHash, blockNumber: 7 };
  },
  async composeCommit({ cvmId }) {
    calls.push({ name: 'composeCommit', cvmId });
    if (failingCommits.has(cvmId)) throw ApplicationFailure.nonRetryable('node maintenance', 'PhalaBadRequest');
    return { committed: true };
  },
  async composeRestore({ cvmId, previousComposeHash }) {
    calls.push({ name: 'composeRestore', cvmId });
    return { outcome: 'reverted', composeHash: previousComposeHash, started: false };
  },
  async watchCvm() {
    return { status: 'running', elapsedMs: 0 };
  },
};

let stubbed: StubbedWorker;
let client: Client;
const taskQueue = uniqueId('deploy-workflow');

beforeAll(async () => {
  stubbed = await startStubbedWorker(taskQueue, stubs);
  client = stubbed.client;
});
afterAll(async () => {
  await stubbed?.stop();
});

/** An update of an on-chain app with `cvms` CVMs; `approval: external` with the deadline given. */
function start(app: string, cvms: string[], approvalDeadlineMs?: number) {
  apps.set(app, cvms);
  const input: DeployInput = {
    ...toDeployInput(testSpec({ name: app }), undefined),
    kms: 'ethereum',
    ...(approvalDeadlineMs ? { approval: { mode: 'external', deadlineMs: approvalDeadlineMs } } : {}),
  };
  return client.workflow.start<typeof deployCvm>('deployCvm', {
    taskQueue,
    workflowId: deployWorkflowId(app),
    args: [input],
  });
}

async function pendingApproval(app: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const pending = await getPendingApproval(client, app).catch(() => null);
    if (pending || Date.now() > deadline) return pending;
    await sleep(50);
  }
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('the request was accepted');
    },
    (err: unknown) => {
      expect(err).toBeInstanceOf(ApprovalRejectedError);
      return (err as Error).message;
    },
  );

/** The DeployFailed message and details. (Read from the failure, not the `status` query: see the note above.) */
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('the deploy succeeded');
    },
    (err: unknown) => {
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure | undefined;
      expect(cause?.type).toBe('DeployFailed');
      return { message: cause?.message ?? '', details: cause?.details };
    },
  );

describe('deploy approval update (real workflow, stubbed activities)', () => {
  it('refuses a malformed hash and one handed over during a verification; records a rejected one; commits on the right one', async () => {
    const app = uniqueId('dapprove');
    const handle = await start(app, [`${app}-c1`], 10 * 60_000);
    const pending = await pendingApproval(app);
    expect(pending).toMatchObject({ app, appId: '0xcontract', composeHash: 'new', owner: '0xowner', rejected: [] });
    expect((await getDeployStatus(client, app)).phase).toBe('approve');

    // The validator refuses before anything runs: no verification was scheduled for it.
    expect(await refusal(submitApprovalTx(client, app, '0x1234'))).toBe(
      'not a transaction hash: expected 0x followed by 64 hex digits, got "0x1234"',
    );
    expect(calls.filter((c) => c.name === 'verifyComposeHashApproval')).toHaveLength(0);

    // A slow verification: a second hash handed over meanwhile is refused by the validator, naming the first.
    slowVerifyMs = 1500;
    const slow = refusal(submitApprovalTx(client, app, SLOW_TX));
    await sleep(400);
    expect(await refusal(submitApprovalTx(client, app, GOOD_TX))).toBe(
      `transaction ${SLOW_TX} is being verified; wait for its answer`,
    );
    expect(await slow).toBe(`transaction ${SLOW_TX} is unknown on chain 31337`);
    expect((await getPendingApproval(client, app))?.rejected).toEqual([
      { txHash: SLOW_TX, reason: `transaction ${SLOW_TX} is unknown on chain 31337` },
    ]);
    expect(calls.filter((c) => c.name === 'composeCommit' && c.cvmId === `${app}-c1`)).toHaveLength(0);

    const accepted = await submitApprovalTx(client, app, GOOD_TX, { by: 'treasury', note: 'signed by the multisig' });
    expect(accepted).toEqual({
      txHash: GOOD_TX,
      blockNumber: 7,
      composeHash: 'new',
      by: 'treasury',
      reason: 'signed by the multisig',
      at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T.*Z$/),
    });
    const result = await handle.result();
    expect(result).toMatchObject({ mode: 'update', composeHash: 'new', previousComposeHash: `old-${app}-c1` });
    expect(result.timingsMs.approve).toBeGreaterThanOrEqual(1000);
    expect(await refusal(submitApprovalTx(client, app, GOOD_TX))).toBe(
      `no deployment of ${app} is running; see \`cvmflow deploy status ${app}\``,
    );
  });

  it('fails at the approval deadline, naming the rejected transaction, with nothing to roll back', async () => {
    const app = uniqueId('ddeadline');
    const handle = await start(app, [`${app}-c1`], 3_000);
    await pendingApproval(app);
    await refusal(submitApprovalTx(client, app, tx(3)));
    const { message } = await failure(handle.result());
    expect(message).toMatch(
      new RegExp(
        `^deploy of ${app} failed in phase approve: no transaction approving compose hash new on app 0xcontract arrived by the deadline \\S+Z \\(1 submitted transaction\\(s\\) rejected, last: transaction ${tx(3)} is unknown on chain 31337\\); nothing to roll back$`,
      ),
    );
    expect(calls.filter((c) => c.cvmId === `${app}-c1` && c.name !== 'composePrepare')).toEqual([]);
  });
});

describe('deploy rollback (real workflow, stubbed activities)', () => {
  it('a failed commit on the second CVM restores both, newest first, and says so', async () => {
    const app = uniqueId('drollback');
    const [c1, c2] = [`${app}-c1`, `${app}-c2`];
    failingCommits.add(c2);
    const handle = await start(app, [c1, c2], 60_000);
    const pending = await pendingApproval(app);
    expect(pending?.composeHash).toBe('new');
    await submitApprovalTx(client, app, GOOD_TX);
    const { message, details } = await failure(handle.result());
    // Labels carry the previous hash's first 12 characters, as the CLI prints hashes.
    const restored = (cvmId: string) => `restore compose ${`old-${cvmId}`.slice(0, 12)} on ${cvmId} (${cvmId})`;
    expect(message).toBe(
      `deploy of ${app} failed in phase update: node maintenance; rolled back: ${restored(c2)}; ${restored(c1)}`,
    );
    // One approval for both CVMs (same hash); c2's commit failed; restores newest first.
    expect(calls.filter((c) => c.cvmId === c1 || c.cvmId === c2).map((c) => `${c.name} ${c.cvmId}`)).toEqual([
      `composePrepare ${c1}`,
      `composeCommit ${c1}`,
      `composePrepare ${c2}`,
      `composeCommit ${c2}`,
      `composeRestore ${c2}`,
      `composeRestore ${c1}`,
    ]);
    expect(details).toEqual([{ phase: 'update', cleanedUp: [restored(c2), restored(c1)] }]);
    expect(calls.filter((c) => c.name === 'verifyComposeHashApproval' && c.txHash === GOOD_TX).length).toBeGreaterThan(
      0,
    );
  });
});

describe('a task boundary after the inspect (a local activity)', () => {
  // A query answered while the inspect ran can end the first workflow task right after the inspect's result, so the
  // code after it is recorded by the next task; replay resumes that code in the first task. A patch judged there
  // ('one-compose-update', before 'deploy-patches-first') then failed the replay: a worker restart, or a status query
  // on a finished run, failed the deploy. Runs now judge their patches before the inspect.
  it('a finished update whose history ends a task right after the inspect replays', async () => {
    const app = uniqueId('dsplit');
    const handle = await start(app, [`${app}-c1`], 60_000);
    expect(await pendingApproval(app)).toBeTruthy();
    await submitApprovalTx(client, app, GOOD_TX);
    await handle.result();
    const recorded = JSON.parse(historyToJSON(await handle.fetchHistory()));
    const split = historyFromJSON(splitAfterFirstLocalActivity(recorded));
    const options = await replayWorkerOptions(TEST_CODEC_KEYS);
    await expect(Worker.runReplayHistory(options, split, handle.workflowId)).resolves.toBeUndefined();
  });
});

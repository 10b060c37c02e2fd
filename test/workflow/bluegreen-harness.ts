// Middle tier for blue-green: the real workflow on the local Temporal dev server, with its activities stubbed as
// plain functions on a test worker (no simulator, no router, no HTTP), so validators and timer paths run in seconds.
// Every stub call is logged with the wall-clock instant it happened, for assertions on order and delays.
import { fileURLToPath } from 'node:url';
import { heartbeat, sleep } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { RouteTable } from '../../src/router/types';
import {
  type BlueGreenInput,
  type BlueGreenStatus,
  blueGreenStatusQuery,
  blueGreenWorkflowId,
  type Deployment,
  type Slot,
} from '../../src/workflows/bluegreen-types';
import { SA_APP, SA_KIND, SA_PHASE } from '../../src/workflows/deploy-types';
import { startStubbedWorker } from '../support/stubbed-worker';
import { uniqueId } from '../support/temporal';

const WORKFLOWS = fileURLToPath(new URL('./bluegreen-workflows.ts', import.meta.url));

export interface Call {
  name: string;
  atMs: number;
  req: unknown;
}

export const deployment = (name: string, slot: Slot, appId: string): Deployment => ({
  name,
  slot,
  appId,
  composeHash: 'c0ffee',
  cvmIds: [`${appId}-cvm`],
  url: `http://${name}.test`,
  instanceUrls: [`http://${name}.test/0`],
});

/** The stubbed activities: blue exists; green is healthy once `healthy()` says so; every check passes. */
export function stubActivities(blueName: string, opts: { healthy?: () => boolean } = {}) {
  const calls: Call[] = [];
  const log = (name: string, req: unknown) => calls.push({ name, atMs: Date.now(), req });
  const blue = deployment(blueName, 'blue', `app-${blueName}`);
  const activities = {
    async bgFindDeployment(req: unknown) {
      log('bgFindDeployment', req);
      return { blue, note: `blue is ${blue.name} (stub)` };
    },
    async bgDescribeDeployment(req: { name: string; slot: Slot; appId: string }) {
      log('bgDescribeDeployment', req);
      return deployment(req.name, req.slot, req.appId);
    },
    async bgHealthGate(req: { minHealthyMs: number }) {
      log('bgHealthGate', req);
      while (opts.healthy && !opts.healthy()) {
        heartbeat();
        await sleep(50);
      }
      return { healthyForMs: req.minHealthyMs, checks: 1 };
    },
    /** Green stays healthy: watches until the run cancels the watch. */
    async bgWatchHealth(req: unknown) {
      log('bgWatchHealth', req);
      for (;;) {
        heartbeat();
        await sleep(100);
      }
    },
    async bgAnalysis(req: unknown) {
      log('bgAnalysis', req);
      return { verdict: 'pass', tally: { passes: 1, failures: 0, inconclusive: 0, errors: 0 }, last: 'ok' };
    },
    async bgApplyRoutes(req: { table: RouteTable }) {
      log('bgApplyRoutes', req);
      return { router: 'stub', generation: req.table.generation, status: 200, tookMs: 0 };
    },
    async bgPowerApp(req: unknown) {
      log('bgPowerApp', req);
      return [];
    },
    async deleteAppCvms(req: { appId: string }) {
      log('deleteAppCvms', req);
      return [`${req.appId}-cvm`];
    },
    async watchCvm(req: unknown) {
      log('watchCvm', req);
      return {};
    },
  };
  return { calls, blue, activities };
}

export interface Harness {
  client: Client;
  taskQueue: string;
  close(): Promise<void>;
}

/** A worker on its own task queue, running the real blue-green workflow over `activities`. */
export async function startHarness(activities: object): Promise<Harness> {
  const taskQueue = uniqueId('bg-workflow');
  const { client, stop } = await startStubbedWorker(taskQueue, activities, WORKFLOWS);
  return { client, taskQueue, close: stop };
}

export async function startRun(h: Harness, input: BlueGreenInput) {
  return h.client.workflow.start('blueGreen', {
    taskQueue: h.taskQueue,
    workflowId: blueGreenWorkflowId(input.app),
    args: [input],
    typedSearchAttributes: [
      { key: SA_APP, value: input.app },
      { key: SA_KIND, value: 'bluegreen' },
      { key: SA_PHASE, value: 'starting' },
    ],
  });
}

/** Polls the run's status until it is in `phase` (and `also` holds of it). */
export async function waitForPhase(
  h: Harness,
  app: string,
  phase: string,
  also: (s: BlueGreenStatus) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<BlueGreenStatus> {
  const handle = h.client.workflow.getHandle(blueGreenWorkflowId(app));
  const until = Date.now() + timeoutMs;
  for (;;) {
    const status = await handle.query(blueGreenStatusQuery).catch(() => undefined);
    if (status?.phase === phase && also(status)) return status;
    if (Date.now() > until) throw new Error(`${app} did not reach ${phase}; it is in ${status?.phase}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The route tables the run sent, in order. */
export const tables = (calls: Call[]) =>
  calls
    .filter((c) => c.name === 'bgApplyRoutes')
    .map((c) => ({ atMs: c.atMs, ...(c.req as { table: RouteTable }).table }));

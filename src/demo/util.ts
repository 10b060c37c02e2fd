// Small helpers the tour steps share: waiting for a condition, building specs in code, following a deployment.

import { renderDeployProgress } from '../cli/commands/watch';
import { startDeploy } from '../client/deploy';
import { type DeploymentSpec, validateSpec } from '../spec';
import { type DeployResult, type DeployStatus, deployStatusQuery } from '../workflows/deploy-types';
import type { DemoContext, StepRecord } from './types';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > giveUp) throw new Error(`demo: timed out waiting for ${what}`);
    await sleep(100);
  }
}

export function deploymentSpec(fields: Record<string, unknown>): DeploymentSpec {
  return validateSpec(
    { apiVersion: 'cvmflow/v1', kind: 'Deployment', ...fields },
    { source: 'demo', baseDir: '.', kinds: ['Deployment'] },
  ) as DeploymentSpec;
}

/** Starts a deployment and shows its progress live until it ends. */
export async function deployAndFollow(
  ctx: DemoContext,
  spec: DeploymentSpec,
): Promise<StepRecord & { result: DeployResult }> {
  const handle = await startDeploy(spec, {
    client: ctx.client,
    taskQueue: ctx.stack.taskQueue,
    codecKeys: ctx.stack.codecKeys,
  });
  const progress = ctx.progress();
  let following = true;
  const ticker = setInterval(() => {
    handle
      .query(deployStatusQuery)
      // A query answered after the deployment ended must not print over what follows.
      .then((p: DeployStatus) => {
        if (following) progress.update(`  ${renderDeployProgress(ctx.style, p)}`);
      })
      .catch(() => undefined);
  }, 250);
  try {
    const result = await handle.result();
    following = false;
    const final = await handle.query(deployStatusQuery).catch(() => undefined);
    if (final) progress.update(`  ${renderDeployProgress(ctx.style, final)}`);
    return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, outcome: '', result };
  } finally {
    following = false;
    clearInterval(ticker);
    progress.done();
  }
}

// The concurrency benchmark's floor workflow: a deploy of 1 CVM + 2 replicas with the pipeline's shape — the same
// activities in the same order (inspect and provision inside the first workflow task, then commit, watch, replicas
// created one after another, each watched while the next is made) — and nothing else: no phases, no compensations,
// no queries, no idempotency checks. What the same server and simulator allow a deploy to cost.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { createFloorActivities } from './activities';

type Activities = ReturnType<typeof createFloorActivities>;

const remote = proxyActivities<Activities>({ startToCloseTimeout: '10 minutes', retry: { maximumAttempts: 5 } });
const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 5 } });

export async function floorDeploy(input: { name: string; apiKey: string; replicas: number }): Promise<string[]> {
  const { apiKey } = input;
  await local.inspect({ apiKey, name: input.name });
  const plan = await local.provision({ apiKey, name: input.name });
  const primary = await remote.commit({ apiKey, ...plan });
  await remote.watch({ apiKey, cvmId: primary });
  const ids = [primary];
  const watches: Promise<void>[] = [];
  for (let i = 1; i < input.replicas; i++) {
    const replica = await remote.replicate({ apiKey, cvmId: primary });
    ids.push(replica);
    watches.push(remote.watch({ apiKey, cvmId: replica }));
  }
  await Promise.all(watches);
  return ids;
}

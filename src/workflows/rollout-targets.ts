// Planning a rollout: its targets resolved once (apps, CVM ids, a name selector) and recorded, refused up front when
// an on-chain app needs an approval the worker cannot give, then cut into a canary and waves.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { ApplicationFailure, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ComposeUpdateActivities } from '../activities/compose-update-activities';
import type { RolloutActivities } from '../activities/rollout-activities';
import { apiCall, heartbeatingCall } from './activity-options';
import { describeSize, planWaves, updateOrder } from './rollout-plan';
import type { RolloutRun } from './rollout-state';
import { MAX_ROLLOUT_TARGETS, type TargetCvm } from './rollout-types';

/** Apps named in a refusal's message (each with its calldata); all of them are in the failure's details. */
const MAX_NAMED_APPS = 10;
const SCHEDULED_BY = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);

/** A fresh rollout's first step: announce it, resolve its targets, plan its waves. */
export async function planRollout(run: RolloutRun): Promise<void> {
  run.announceStart();
  const scheduledBy = workflowInfo().typedSearchAttributes.get(SCHEDULED_BY);
  run.record(scheduledBy ? `started by schedule ${scheduledBy}` : 'started');
  await resolveTargets(run);
}

async function resolveTargets(run: RolloutRun): Promise<void> {
  const { config, st } = run;
  const strategy = config.strategy;
  const api = proxyActivities<RolloutActivities>(apiCall(run.tuning.apiAttemptTimeoutMs));
  const found = await api.rolloutResolveTargets({ targets: config.targets });
  const problems = [...found.unresolved];
  if (found.cvms.length === 0 && !problems.length) problems.push('the targets match no CVM');
  if (found.cvms.length > MAX_ROLLOUT_TARGETS)
    problems.push(
      `${found.cvms.length} CVMs match, more than the ${MAX_ROLLOUT_TARGETS} one rollout may hold: split it`,
    );
  if (problems.length) {
    run.setPhase('failed', problems.join('; '));
    throw ApplicationFailure.create({
      type: 'RolloutTargets',
      nonRetryable: true,
      message: `rollout ${config.name}: ${problems.join('; ')}`,
    });
  }
  const onChain = found.cvms.filter((c) => c.onChain);
  if (onChain.length && patched('one-compose-update')) await refuseExternalApprovals(run, onChain);
  const ordered = updateOrder(found.cvms);
  st.waves = planWaves(ordered.length, {
    canary: strategy.canary?.size,
    waveSize: strategy.waveSize,
    maxParallel: strategy.maxParallel,
  });
  const waveOf = (i: number) => st.waves.find((w) => i >= w.first && i < w.first + w.count)!.index;
  st.cvms = ordered.map((t, i) => ({
    cvmId: t.cvmId,
    name: t.name,
    app: t.app,
    appId: t.appId,
    wave: waveOf(i),
    state: 'pending',
  }));
  for (const [i, c] of st.cvms.entries()) run.index.set(c.cvmId, i);
  const apps = new Set(ordered.map((t) => t.app)).size;
  st.resolved = {
    atMs: run.now(),
    apps,
    ...(config.targets.selector ? { selector: config.targets.selector.name } : {}),
  };
  const shape = st.waves.map((w) => (w.kind === 'canary' ? `canary ${w.count}` : String(w.count))).join(' + ');
  run.record(
    `targets resolved: ${ordered.length} CVMs of ${apps} apps; waves ${shape}; maxParallel ${strategy.maxParallel}, maxUnavailable ${run.maxUnavailable()} (${describeSize(strategy.maxUnavailable)}), failure budget ${run.budget()} (${describeSize(config.failureBudget)})`,
  );
}

/**
 * On-chain apps need the new compose hash on their allow-list before a commit. The worker's key approves it for the
 * apps it owns; an app owned by another account (a multisig) is refused here, before any CVM changes, naming the
 * owner and the transaction to sign — a rollout runs unattended in a deploy window, where waiting on a person in
 * the middle of a wave would hold its slots and miss its deadline. Once the owners have sent it, a new rollout
 * finds the hash allowed and goes through.
 */
async function refuseExternalApprovals(run: RolloutRun, targets: TargetCvm[]): Promise<void> {
  const { config } = run;
  const firstPerApp = [...new Map(targets.map((c) => [c.appId, c])).values()];
  const v = config.version;
  const { needed, signer } = await proxyActivities<ComposeUpdateActivities>(
    heartbeatingCall(
      run.tuning.apiAttemptTimeoutMs * (1 + firstPerApp.length),
      run.input.tuning?.heartbeatTimeoutMs ?? 20_000,
    ),
  ).composeApprovalCheck({
    cvms: firstPerApp.map((c) => ({ cvmId: c.cvmId, app: c.app })),
    change: { dockerCompose: v.dockerCompose, preLaunchScript: v.preLaunchScript, allowedEnvs: v.allowedEnvs },
  });
  if (!needed.length) return;
  // The message names a few apps; the failure's details carry every one, for scripts.
  const apps = needed
    .slice(0, MAX_NAMED_APPS)
    .map(
      (n) =>
        `app ${n.app} (contract ${n.appId} on chain ${n.chainId}) is owned by ${n.owner}: it must send addComposeHash(${n.composeHash}) to ${n.appId}, data ${n.calldata}`,
    );
  if (needed.length > MAX_NAMED_APPS) apps.push(`${needed.length - MAX_NAMED_APPS} more in the failure's details`);
  const message = `rollout ${config.name}: the worker's key${signer ? ` ${signer}` : ''} may not approve the new compose hash of ${needed.length} on-chain app(s) it does not own; ${apps.join('; ')}. Once the owners have sent these transactions, start the rollout again: nothing was changed`;
  run.setPhase('failed', message);
  throw ApplicationFailure.create({ type: 'ApprovalNeeded', nonRetryable: true, message, details: [needed] });
}

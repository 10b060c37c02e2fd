// Determinism guard: histories recorded from real runs (test/fixtures/histories) must replay against the current
// workflow code. A change that alters the order of commands fails here; put it behind patched().
import { readdirSync, readFileSync } from 'node:fs';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { replayWorkerOptions } from '../../src/worker/worker';
import { HISTORIES_DIR } from '../support/replay';
import { TEST_CODEC_KEYS } from '../support/temporal';

const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));

describe('recorded histories replay against the current workflows', () => {
  it('has histories of every workflow kind: deploy (success, rolled back, update), blue-green, rollout, power', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'deploy-success.json',
        'deploy-rolled-back.json',
        // The same before 'lean-deploy' (inspect and provision as activities of their own).
        'deploy-success-before-lean.json',
        'deploy-rolled-back-before-lean.json',
        // Compose updates through the path deploys and rollouts share ('one-compose-update'), and before it.
        'deploy-update-onchain.json',
        'deploy-update-onchain-legacy.json',
        // The rest of deploy's paths, recorded before deploy.ts was split into steps (issue 24): on-chain create with a
        // replica on another node, external approval (accepted after rejections, and timed out), an update rolled
        // back, a cancellation.
        'deploy-onchain-create.json',
        'deploy-approval-external.json',
        'deploy-approval-deadline.json',
        'deploy-update-rolled-back.json',
        'deploy-cancelled.json',
        'rollout-onchain.json',
        'rollout-app-onchain.json',
        'rollout-app-legacy-update.json',
        'rollout-app-legacy-autorevert.json',
        'rollout-app-legacy-revert.json',
        // rollout-app's other paths, recorded before it was split into steps (issue 24): autoRevert, a revert wave,
        // the attestation gate passed and refused.
        'rollout-app-autorevert.json',
        'rollout-app-revert.json',
        'rollout-app-attested.json',
        'rollout-app-attestation-refused.json',
        'bluegreen-promoted.json',
        // Blue-green runs of every ending, recorded before the workflow was split into steps (issue 24).
        'bluegreen-promoted-by-hand.json',
        'bluegreen-auto-promoted.json',
        'bluegreen-expired.json',
        'bluegreen-failed-health.json',
        'bluegreen-analysis-rolled-back.json',
        'bluegreen-rolled-back.json',
        'bluegreen-paused-resumed.json',
        'bluegreen-aborted-deploying.json',
        'bluegreen-aborted-health-gate.json',
        'bluegreen-aborted-preview.json',
        'bluegreen-aborted-warm.json',
        'rollout-budget-exceeded.json',
        // Deploy windows: a wave held when the window closed, a freeze lifted after a pause and resume, skip-window.
        'rollout-window-hold.json',
        'rollout-freeze-paused-lifted.json',
        'rollout-skip-window.json',
        // rollout-wave's paths, recorded before it was split into steps (issue 24): continue-as-new (the run that
        // continues and the one that carries on), the failure budget, a revert wave, a hold (window closed), an app
        // held by another deployment waited for (onBusy: wait) and skipped (onBusy: skip).
        'rollout-wave-continuing.json',
        'rollout-wave-continued.json',
        'rollout-wave-budget-exceeded.json',
        'rollout-wave-revert.json',
        'rollout-wave-held.json',
        'rollout-wave-lock-wait.json',
        'rollout-wave-lock-skip.json',
        'power-calendar.json',
        // Power schedules after 'power-batched-actions'; the two above without it (before batching).
        'power-batched-calendar.json',
        'power-batched-stuck-cvm.json',
        'power-stuck-cvm.json',
        // After 'power-fleet-relist': a replica made after the schedule's listing is found.
        'power-relist-replica.json',
        // Overrides through Updates (keep-running lease, pause, resume, skip), recorded before the power refactor.
        'power-overrides.json',
      ]),
    );
  });

  it.each(files)('%s replays without non-determinism', async (file) => {
    const json = JSON.parse(readFileSync(`${HISTORIES_DIR}${file}`, 'utf8'));
    const history = historyFromJSON(json);
    // The recorded workflow id: child workflow ids (rollout waves) are derived from it.
    const workflowId: string = json.events[0]?.workflowExecutionStartedEventAttributes?.workflowId ?? file;
    const result = await Worker.runReplayHistory(await replayWorkerOptions(TEST_CODEC_KEYS), history, workflowId);
    expect(result).toBeUndefined();
  });
});

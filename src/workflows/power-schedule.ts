// The power schedule: one long-running workflow per schedule (`power-<name>`) that converges its CVMs to the
// calendar's desired power state, level-triggered like Terraform's `phala_cvm_power`. The pipeline, every turn:
//   1. evaluate (power-evaluate.ts): expire overrides, read the CVMs, decide per CVM (power-decide.ts) and launch
//      the power actions, which run beside the loop (power-actions.ts);
//   2. continue-as-new at a quiet moment once the history has grown (power-carry.ts);
//   3. wait for the next calendar change, drift check, override expiry or retry — or a message (power-messages.ts:
//      the status query, apply and the override Updates, validated by power-validators.ts) or an action's end.
// State lives in PowerScheduleState (power-state.ts); views in power-views.ts. Histories from before batching (no
// 'power-batched-actions' marker) replay the one-activity-per-CVM path, and those from before re-listing (no
// 'power-fleet-relist' marker) list only where they did.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import { readActivities } from './power-actions';
import { analysing } from './power-analysis';
import { carryOver } from './power-carry';
import { evaluate, nextWakeMs, preparingWake } from './power-evaluate';
import { phaseShower, wireMessages } from './power-messages';
import { PowerScheduleState } from './power-state';
import type { PowerScheduleInput, PowerScheduleResult } from './power-types';
import { checkPowerConfig } from './power-validators';

export async function powerSchedule(input: PowerScheduleInput): Promise<PowerScheduleResult> {
  checkPowerConfig(input.config);
  const batched = patched('power-batched-actions');
  // The fleet is listed again when it can have grown: at every drift check in enforce mode, and as soon as a
  // deployment that held one of the apps lets go (it may have made replicas after the last listing). Without it a
  // schedule that listed an app mid-deployment never learnt of the replicas made after (issue 17's chaos finding).
  const relists = batched && patched('power-fleet-relist');
  // A change is prepared ahead of its instant (its reads and lock check done, its batches started and holding
  // their calls), so a large instant's calls go out on time (issue 20).
  const early = relists && patched('power-early-wake');
  // The listing after a prepared change no longer runs while its calls go out: answering and parsing a listing of
  // thousands of CVMs held those calls back by hundreds of milliseconds (issue 20, bench/power-scale.md).
  const listsAfterCalls = early && patched('power-list-after-calls');
  const s = new PowerScheduleState(input, { batched, relists, early, listsAfterCalls }, Date.now());
  const reads = readActivities(s.tuning, batched);
  const showPhase = phaseShower(s);
  wireMessages(s, showPhase);

  showPhase();
  try {
    for (;;) {
      s.dirty = false;
      await evaluate(s, reads);
      s.iteration++;
      const due = s.iteration >= s.tuning.maxIterationsPerRun || workflowInfo().continueAsNewSuggested;
      // Only at a quiet moment: actions in flight, analyses measuring, updates being handled and a change prepared
      // but not yet due belong to this run.
      if (due && s.inFlight.size === 0 && !analysing(s) && allHandlersFinished() && s.decisionTime() === s.now()) {
        return await continueAsNew<typeof powerSchedule>(carryOver(s));
      }
      const wake = preparingWake(s, nextWakeMs(s));
      // A change closer than the lead is prepared at once; one woken for by the timer, when the timer fires.
      const prepareNow = wake.prepares !== undefined && wake.ms === 0;
      const slept = prepareNow || !(await condition(() => s.dirty, wake.ms));
      if (slept && wake.prepares !== undefined) s.preparedForMs = wake.prepares;
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled (`cvmflow power delete`): stop managing and leave every CVM as it is, like Terraform's delete.
    s.record('deleted', 'schedule deleted: no longer managing; CVMs left as they are');
    return { name: s.config.name, stoppedAtMs: s.now(), summary: s.carried.summary, recent: s.carried.records };
  }
}

// A blue-green deployment of one app (workflow `bluegreen-<app>`, the app's lock). The run, top to bottom:
//   find blue → deploy green beside it → health gate → pre-promotion analysis → preview, waiting for promotion
//   (by hand, automatic after autoPromoteAfter, or expired at previewTtl) → traffic switch → post-promotion
//   analysis (failure: automatic rollback) → blue kept warm for scaleDownDelay → blue retired.
// An abort (any phase) or rollback (after promotion, while blue is warm) cancels the step that runs; then, as after
// any failure, the teardown puts traffic back on blue and removes green as abortPolicy says, never touching blue.
// The state lives in BlueGreenRun (bluegreen-run.ts); control is by validated Updates (bluegreen-messages.ts); the
// steps are in files by concern: -gates (green up and checked), -promotion, -routes, -teardown (every ending).

import { deployGreen, findBlue, healthGate, postAnalysis, preAnalysis } from './bluegreen-gates';
import { handleMessages } from './bluegreen-messages';
import { awaitPromotion, switchToGreen } from './bluegreen-promotion';
import { BlueGreenRun } from './bluegreen-run';
import { closeRun, endRun, keepBlueWarm } from './bluegreen-teardown';
import type { BlueGreenInput, BlueGreenResult } from './bluegreen-types';

export async function blueGreen(input: BlueGreenInput): Promise<BlueGreenResult> {
  const run = new BlueGreenRun(input);
  handleMessages(run);
  try {
    await findBlue(run);
    const how = await run.interruptibly(async () => {
      await deployGreen(run);
      await healthGate(run);
      await preAnalysis(run);
      return awaitPromotion(run);
    });
    await switchToGreen(run, how);
    await run.interruptibly(async () => {
      await postAnalysis(run);
      await keepBlueWarm(run);
    });
    run.completed();
  } catch (err) {
    run.stop(err);
  }
  await endRun(run);
  return closeRun(run);
}

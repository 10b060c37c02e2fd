// The tour, in order. A step is one DemoStep (see ../types.ts); later steps may use what earlier ones left in
// ctx.shared (the deployed app).
import type { DemoStep } from '../types';
import { attestationGate } from './attestation';
import { blueGreenSwitch } from './bluegreen';
import { deployWithReplicas, updateCompose } from './deploy';
import { powerScheduleWithOverride } from './power';
import { rolloutWithFailureBudget } from './rollout';

export const DEMO_STEPS: readonly DemoStep[] = [
  deployWithReplicas,
  updateCompose,
  attestationGate,
  blueGreenSwitch,
  rolloutWithFailureBudget,
  powerScheduleWithOverride,
];

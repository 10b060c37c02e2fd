// The workflow bundle's entry: every workflow type the cvmflow worker runs.
export { blueGreen } from './bluegreen';
export { blueGreenTrigger } from './bluegreen-trigger';
export { deployCvm } from './deploy';
export { powerSchedule } from './power-schedule';
export { rollout, rolloutApp, rolloutWave } from './rollout';

// The workflow bundle's entry: every workflow type the cvmflow worker runs.
export { deployCvm } from './deploy';
export { powerSchedule } from './power-schedule';

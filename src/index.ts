// cvmflow as a library: the typed functions the CLI is built on. Start a deploy, a blue-green deployment, a rollout
// or a power schedule from your own code; talk to Phala Cloud with the typed client; run the simulator in tests.
// Every function takes a Temporal `Client` made by `connectClient` (the project's payload codec included), so what
// you start is readable by a `cvmflow worker` holding the same codec key.

// Blue-green
export { awaitBlueGreen, blueGreenHandle, getBlueGreenStatus, startBlueGreen } from './client/bluegreen';
// Deployments
export {
  cancelDeploy,
  DeployBusyError,
  DeployNotRunningError,
  deployHandle,
  getDeployProgress,
  getDeployStatus,
  type StartDeployOptions,
  startDeploy,
} from './client/deploy';
// Power schedules
export {
  applyPowerSchedule,
  deletePowerSchedule,
  getPowerStatus,
  holdPower,
  type PowerAudit,
  pausePower,
  resumePower,
} from './client/power';
// Rollouts
export { createRolloutSchedule, getRolloutStatus, rolloutHandle, startRollout } from './client/rollout';
// Phala Cloud API client and the simulator
export { PhalaClient, type PhalaClientOptions } from './phala/client';
export { type SimulatorHandle, type SimulatorOptions, startSimulator } from './simulator';
// Specs: YAML/JSON files validated with one error per problem
export { loadSpecFile, parseSpecText, type Spec, SpecError, type SpecKind, validateSpec } from './spec';
export { type CodecKey, parseKeyRing } from './temporal/codec';
// Connecting and configuration
export { loadTemporalConfig, type TemporalConfig } from './temporal/config';
export { connectClient } from './temporal/connection';
// Running a worker in your own process
export { createWorkerActivities } from './worker/activities';
export { runWorker } from './worker/main';
export { createWorker } from './worker/worker';

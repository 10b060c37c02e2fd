// The user-facing spec files: schemas, loading, errors that name the field, env resolution.

export { ATTESTATION_QUOTE_POLICIES, type AttestationSpec } from './attestation';
export { type ComposeSpec, MAX_COMPOSE_BYTES } from './compose';
export {
  DEFAULT_INSTANCE_TYPE,
  type DeploymentSpec,
  type DeploymentSpecInput,
  deploymentSchema,
  type EnvSource,
  type Kms,
  MAX_REPLICAS,
  type OnChainPolicy,
  type Placement,
  placementNodes,
  type Resources,
} from './deployment';
export { durationSchema, formatDuration, parseDuration } from './duration';
export { allowedEnvs, type EnvEntry, type ResolveEnvOptions, resolveEnv } from './env';
export { formatPath, type Problem, problemsFromZod, SpecError } from './errors';
export { type Spec, type SpecKind, type SpecOf, specKinds } from './kinds';
export { loadSpecFile, type ParseOptions, parseSpecText, validateSpec } from './load';
export { API_VERSION, type SpecContext } from './schema';

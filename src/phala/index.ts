// The Phala Cloud API client as a plain library (no Temporal): client, errors, identifiers, schemas, watch, and
// the env encryption of the KMS wire format.
export {
  type CallOptions,
  type CommitCvmProvisionRequest,
  DEFAULT_API_VERSION,
  DEFAULT_BASE_URL,
  type EventStreamBody,
  type HttpMethod,
  type ListCvmsQuery,
  PhalaClient,
  type PhalaClientOptions,
  type ProvisionCvmRequest,
  type RequestOptions,
  type StreamOptions,
} from './client';
export {
  decryptEnvVars,
  EnvEncryptionError,
  type EnvVar,
  encryptEnvVars,
  generateX25519KeyPair,
  type X25519KeyPair,
} from './env-encryption';
export {
  type OnChainErrorKind,
  PhalaApiError,
  type PhalaApiErrorInit,
  type PhalaErrorCode,
  type PhalaErrorDetail,
  type PhalaErrorLink,
  PhalaResponseValidationError,
  PhalaUsageError,
  type PhalaUsageErrorCode,
  parseRetryAfter,
} from './errors';
export { type CvmIdentifier, isValidCvmName, normalizeAppId, resolveCvmId, sameAppId } from './ids';
export * from './schemas';
export { type WatchCvmStateOptions, type WatchEvent, waitForCvmState, watchCvmState } from './watch';

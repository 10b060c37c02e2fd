// Every failure type an activity raises, in one place (in the manner of undici's lib/core/errors.js): its stable
// name — the `type` of the ApplicationFailure that workflows, retry policies and histories see — and whether another
// attempt can help. The workflows' non-retryable lists derive from this table; src/activities/failures.ts maps the
// libraries' errors onto it. A new failure type is added here first (test/unit/failure-registry.test.ts checks that
// every type the activities raise is listed).

export interface FailureType {
  /** Whether a retry of the same activity may succeed. */
  retryable: boolean;
  means: string;
}

export const FAILURE_TYPES = {
  PhalaNetwork: { retryable: true, means: 'no HTTP answer from the Phala API (connect, DNS, TLS, timeout)' },
  PhalaServer: { retryable: true, means: 'the Phala API answered 5xx' },
  PhalaRateLimited: { retryable: true, means: 'the Phala API answered 429; the retry waits out Retry-After' },
  PhalaBusy: { retryable: true, means: '409 without an error code: another operation runs on the CVM' },
  PhalaBadRequest: { retryable: false, means: 'the Phala API refused the request (4xx, or an answer off contract)' },
  PhalaAuth: { retryable: false, means: 'the API key is missing, wrong or lacks the permission (401/403)' },
  PhalaNotFound: { retryable: false, means: 'the CVM, app or node does not exist (404)' },
  PhalaConflict: { retryable: false, means: '409 with an error code, e.g. another compose hash for the app id' },
  PhalaOnChain: { retryable: false, means: 'the on-chain compose-hash flow refused the call (465–468)' },
  PhalaUsage: { retryable: false, means: 'a caller mistake caught before any request (identifier, option, no key)' },
  InvalidInput: { retryable: false, means: 'an activity input that no attempt can make valid' },
  SealedEnv: { retryable: false, means: 'sealed env values that this worker cannot open (codec key)' },
  CvmFailed: { retryable: false, means: 'the CVM reached a failed state instead of the target' },
  WatchTimeout: { retryable: false, means: 'the CVM did not reach the target before the watch deadline' },
  // Single-CVM power actions refuse it (power-schedule.ts adds it to their list); batch actions report it per CVM.
  PowerTimeout: { retryable: true, means: 'a CVM did not reach the desired power state in time' },
  HealthGateTimeout: { retryable: false, means: 'a CVM was not healthy for minHealthy before its deadline' },
  HealthGateFailed: { retryable: false, means: 'green failed its health checks failureThreshold times in a row' },
  RevertMismatch: { retryable: false, means: 'a revert would not give back the previous compose hash exactly' },
  BlueGreenAmbiguous: { retryable: false, means: 'several running deployments of the app and none recorded' },
  RouterStale: { retryable: false, means: 'the router holds a newer route table than the one sent' },
  RouterRejected: { retryable: false, means: 'the router refused the route change' },
  RouterSecret: { retryable: false, means: "the worker's environment lacks the router's HMAC key" },
  RouterUnreachable: { retryable: true, means: 'the router did not answer' },
  NoEndpoint: { retryable: true, means: 'a deployment reports no endpoint yet (its gateway)' },
  ChainNotConfigured: { retryable: false, means: 'on-chain KMS needs ETH_RPC_URL and a key in the worker environment' },
  AttestationRefused: { retryable: false, means: "a CVM's attestation does not prove the compose / image we expect" },
  AttestationUnavailable: { retryable: false, means: 'a CVM presented no attestation before the gate deadline' },
  ApprovalRejected: { retryable: false, means: 'a transaction handed in as the approval does not approve the hash' },
  // Chain<CODE> (ChainRPC_UNAVAILABLE, ChainWRONG_CHAIN, …) carry the chain client's own classification
  // (src/chain/errors.ts) on each failure; they are not listed one by one.
} as const satisfies Record<string, FailureType>;

export type FailureTypeName = keyof typeof FAILURE_TYPES;

/** Failure types that no retry can fix: every workflow's retry policies list these as non-retryable. */
export const NON_RETRYABLE_TYPES: string[] = Object.entries(FAILURE_TYPES)
  .filter(([, f]) => !f.retryable)
  .map(([name]) => name);

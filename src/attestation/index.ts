// Attestation verification as a plain library (no Temporal): does a CVM's attestation prove it runs the compose and
// OS image we expect? Used by the attestation-gate activity; usable on its own.
export { DSTACK_RUNTIME_EVENT_TYPE, type EventLogEntry, replayImr, runtimeEventDigest } from './event-log';
export {
  type CollateralSource,
  parseTdQuote,
  pccsCollateral,
  QuoteParseError,
  quoteDigest,
  verifyQuoteSignature,
} from './quote';
export {
  type AttestationCheck,
  type AttestationExpectations,
  type AttestationReport,
  type AttestationVerdict,
  DEFAULT_QUOTE_POLICY,
  QUOTE_POLICIES,
  type QuotePolicy,
  type VerifyOptions,
  verifyAttestation,
} from './verify';

// Does a CVM run what we deployed? One verdict from a CVM's attestation and our expectations, as a list of named
// checks (expected vs actual), so a refusal names the measurement that differed. What is cryptographic here: the
// runtime events' digests are recomputed from their payloads, every RTMR is replayed from the log, the compose hash is
// sha256 of the measured app-compose, and (when signed) the quote's signature chains to Intel's root. What is only
// structural: boot events (their firmware inputs are not in the log) and, for an unsigned quote, that its TD report
// equals the TCB info — without a signature nothing binds those values to hardware, so the verdict says so.
import { createHash } from 'node:crypto';
import type { TcbInfo } from '../phala/schemas';
import { DSTACK_RUNTIME_EVENT_TYPE, replayImr, runtimeEventDigest, runtimePayload } from './event-log';
import { type CollateralSource, parseTdQuote, quoteDigest, verifyQuoteSignature } from './quote';

/** What to do about the quote's signature: `required` refuses an unsigned quote; `if-present` verifies a signed one. */
export const QUOTE_POLICIES = ['required', 'if-present', 'ignore'] as const;
export type QuotePolicy = (typeof QUOTE_POLICIES)[number];
export const DEFAULT_QUOTE_POLICY: QuotePolicy = 'if-present';

/** The part of `GET /cvms/{id}/attestation` the verifier reads. */
export interface AttestationReport {
  tcb_info: Pick<TcbInfo, 'mrtd' | 'rtmr0' | 'rtmr1' | 'rtmr2' | 'rtmr3' | 'event_log' | 'app_compose'> | null;
  app_certificates: { quote: string | null }[] | null;
}

export interface AttestationExpectations {
  /** The compose hash of the compose we deployed. */
  composeHash: string;
  appId: string;
  /** Allowed `os-image-hash` values; absent: any image (the check is not made). */
  osImages?: readonly string[];
  /** For on-chain apps: the compose hashes the app contract allows; the measured one must be among them. */
  allowedComposeHashes?: readonly string[];
  /** For on-chain apps: whether the app contract allows the measured compose hash (read by the caller). */
  measuredComposeHashOnChain?: boolean;
}

export interface VerifyOptions {
  quote?: QuotePolicy;
  collateral?: CollateralSource;
  /** The moment the collateral must be valid at (defaults to now). */
  now?: Date;
  /** Another root CA than Intel's (DER), for tests with a private PKI. */
  rootCaDer?: Buffer;
}

export interface AttestationCheck {
  name: string;
  ok: boolean;
  expected: string;
  actual: string;
}

export interface AttestationVerdict {
  ok: boolean;
  /** The first failed check as `name: expected …, got …`; absent when ok. */
  reason?: string;
  checks: AttestationCheck[];
  registers: { mrtd: string; rtmr0: string; rtmr1: string; rtmr2: string; rtmr3: string } | null;
  /** sha256 of the app-compose the CVM measured. */
  composeHash: string | null;
  /** sha256 of the quote bytes. */
  quoteDigest: string | null;
  quoteVerified: boolean;
  /** `verified (UpToDate)`, `unsigned (not verified)`, `absent`, `invalid: …`, `ignored`. */
  quoteStatus: string;
}

const hex = (s: string) => s.toLowerCase().replace(/^0x/, '');
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

export async function verifyAttestation(
  report: AttestationReport,
  expect: AttestationExpectations,
  options: VerifyOptions = {},
): Promise<AttestationVerdict> {
  const checks: AttestationCheck[] = [];
  const check = (name: string, expected: string, actual: string, ok = expected === actual) =>
    checks.push({ name, ok, expected, actual });
  const tcb = report.tcb_info;
  if (!tcb) {
    check('tcb-info', 'present', 'absent');
    return finish(checks, null, null, null, false, 'absent');
  }
  const log = tcb.event_log;

  const badDigest = log.find(
    (e) => e.event_type === DSTACK_RUNTIME_EVENT_TYPE && hex(e.digest) !== runtimeEventDigest(e),
  );
  check(
    'runtime-event-digests',
    'each runtime event digest = sha384(type:name:payload)',
    badDigest
      ? `event ${badDigest.event} digest ${hex(badDigest.digest)} ≠ ${runtimeEventDigest(badDigest)}`
      : 'all match',
    !badDigest,
  );
  const registers = {
    mrtd: hex(tcb.mrtd),
    rtmr0: hex(tcb.rtmr0),
    rtmr1: hex(tcb.rtmr1),
    rtmr2: hex(tcb.rtmr2),
    rtmr3: hex(tcb.rtmr3),
  };
  for (const imr of [0, 1, 2, 3] as const) {
    if (!log.some((e) => e.imr === imr)) continue;
    check(`rtmr${imr}-replay`, registers[`rtmr${imr}`], replayImr(log, imr));
  }

  const measuredCompose = sha256(tcb.app_compose);
  const expectedCompose = hex(expect.composeHash);
  check('compose-hash', expectedCompose, measuredCompose);
  check('compose-hash-event', expectedCompose, runtimePayload(log, 'compose-hash') ?? 'absent');
  if (expect.allowedComposeHashes) {
    const allowed = expect.allowedComposeHashes.map(hex);
    check(
      'compose-hash-on-chain',
      `one of [${allowed.join(', ')}]`,
      measuredCompose,
      allowed.includes(measuredCompose),
    );
  }
  if (expect.measuredComposeHashOnChain !== undefined) {
    const allowed = expect.measuredComposeHashOnChain;
    check(
      'compose-hash-on-chain',
      'allowed by the app contract',
      allowed ? 'allowed' : `not allowed: ${measuredCompose}`,
      allowed,
    );
  }
  check('app-id-event', hex(expect.appId), runtimePayload(log, 'app-id') ?? 'absent');
  if (expect.osImages) {
    const allowed = expect.osImages.map(hex);
    const image = runtimePayload(log, 'os-image-hash') ?? 'absent';
    check('os-image', `one of [${allowed.join(', ')}]`, image, allowed.includes(image));
  }

  const quoteHex = report.app_certificates?.find((c) => c.quote)?.quote ?? null;
  const policy = options.quote ?? DEFAULT_QUOTE_POLICY;
  if (!quoteHex) {
    check('quote', policy === 'required' ? 'present' : 'present or not required', 'absent', policy !== 'required');
    return finish(checks, registers, measuredCompose, null, false, 'absent');
  }
  const quote = Buffer.from(hex(quoteHex), 'hex');
  const digest = quoteDigest(quote);
  let td: ReturnType<typeof parseTdQuote>;
  try {
    td = parseTdQuote(quote);
  } catch (err) {
    check('quote-parses', 'a TDX v4 quote', (err as Error).message, false);
    return finish(checks, registers, measuredCompose, digest, false, `invalid: ${(err as Error).message}`);
  }
  check('quote-mrtd', registers.mrtd, td.mrtd);
  for (const [i, value] of td.rtmr.entries()) check(`quote-rtmr${i}`, registers[`rtmr${i}` as 'rtmr0'], value);

  if (policy === 'ignore') return finish(checks, registers, measuredCompose, digest, false, 'ignored');
  if (td.signatureLength === 0) {
    check(
      'quote-signature',
      policy === 'required' ? 'signed' : 'signed if present',
      'unsigned (not verified)',
      policy !== 'required',
    );
    return finish(checks, registers, measuredCompose, digest, false, 'unsigned (not verified)');
  }
  if (!options.collateral) {
    check('quote-signature', 'verified', 'no collateral source configured', false);
    return finish(checks, registers, measuredCompose, digest, false, 'not verified: no collateral source');
  }
  const nowSecs = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const sig = await verifyQuoteSignature(quote, options.collateral, nowSecs, options.rootCaDer);
  check(
    'quote-signature',
    'verified',
    sig.verified ? `verified (${sig.tcbStatus})` : `invalid: ${sig.error}`,
    sig.verified,
  );
  return finish(
    checks,
    registers,
    measuredCompose,
    digest,
    sig.verified,
    sig.verified ? `verified (${sig.tcbStatus})` : `invalid: ${sig.error}`,
  );
}

function finish(
  checks: AttestationCheck[],
  registers: AttestationVerdict['registers'],
  composeHash: string | null,
  digest: string | null,
  quoteVerified: boolean,
  quoteStatus: string,
): AttestationVerdict {
  const failed = checks.find((c) => !c.ok);
  return {
    ok: !failed,
    ...(failed ? { reason: `${failed.name}: expected ${failed.expected}, got ${failed.actual}` } : {}),
    checks,
    registers,
    composeHash,
    quoteDigest: digest,
    quoteVerified,
    quoteStatus,
  };
}

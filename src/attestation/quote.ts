// The TDX quote: its TD report (MRTD and RTMR0–3 at the fixed v4 offsets) and its signature. The signature check is
// @phala/dcap-qvl's: the quote's ECDSA signature, the QE report, the PCK chain up to Intel's root CA and the TCB
// level from the collateral. A quote whose signature section is empty (the simulator's) is reported unsigned, never
// verified; the collateral comes from a caller-given source so tests stay offline.
import { createHash } from 'node:crypto';
import { type Collateral, getCollateral, QuoteVerifier } from '@phala/dcap-qvl';

const HEADER = 48;
const BODY = 584;
const OFFSETS = { mrtd: HEADER + 136, rtmr0: HEADER + 328, reportData: HEADER + 520 } as const;
const TEE_TDX = 0x81;

export interface TdReport {
  version: number;
  mrtd: string;
  rtmr: [string, string, string, string];
  reportData: string;
  /** Bytes of the signature data section; 0 means unsigned. */
  signatureLength: number;
}

export class QuoteParseError extends Error {
  readonly code = 'ATTESTATION_QUOTE_INVALID';
}

/** The measurements of a TDX v4/v5 quote (TD report 1.0 at the start of the body). */
export function parseTdQuote(quote: Buffer): TdReport {
  if (quote.length < HEADER + BODY + 4) throw new QuoteParseError(`quote is ${quote.length} bytes, too short`);
  const version = quote.readUInt16LE(0);
  if (version !== 4) throw new QuoteParseError(`quote version ${version}, expected 4 (TDX)`);
  if (quote.readUInt32LE(4) !== TEE_TDX) throw new QuoteParseError('quote is not a TDX quote');
  const at = (offset: number, n = 48) => quote.subarray(offset, offset + n).toString('hex');
  const rtmr = [0, 1, 2, 3].map((i) => at(OFFSETS.rtmr0 + 48 * i)) as TdReport['rtmr'];
  return {
    version,
    mrtd: at(OFFSETS.mrtd),
    rtmr,
    reportData: at(OFFSETS.reportData, 64),
    signatureLength: quote.readUInt32LE(HEADER + BODY),
  };
}

export const quoteDigest = (quote: Buffer) => createHash('sha256').update(quote).digest('hex');

/** Where collateral comes from: a PCCS fetch in production, a recorded file in tests. */
export type CollateralSource = (quote: Buffer) => Promise<Collateral>;

/** Collateral from a PCCS (Intel's PCS API, v4 paths), e.g. the one in the worker's CVMFLOW_PCCS_URL. */
export const pccsCollateral =
  (pccsUrl: string): CollateralSource =>
  (quote) =>
    getCollateral(pccsUrl, quote);

export interface SignatureResult {
  verified: boolean;
  /** Intel's TCB status (`UpToDate`, `OutOfDate`, …) when verified. */
  tcbStatus?: string;
  error?: string;
}

/** Verifies a signed quote against Intel's root CA (or `rootCaDer`), at `nowSecs`. Never throws. */
export async function verifyQuoteSignature(
  quote: Buffer,
  collateral: CollateralSource,
  nowSecs: number,
  rootCaDer?: Buffer,
): Promise<SignatureResult> {
  try {
    const verifier = rootCaDer ? QuoteVerifier.newWithRootCa(rootCaDer) : QuoteVerifier.newProd();
    const report = verifier.verify(quote, await collateral(quote), nowSecs);
    return { verified: true, tcbStatus: report.status };
  } catch (err) {
    return { verified: false, error: (err as Error).message };
  }
}

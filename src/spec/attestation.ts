// `attestation:` on Deployment, BlueGreen and Rollout specs: a CVM counts as healthy only when its attestation
// proves it runs the compose we deployed (and, if listed, an allowed OS image). `quote` says what an unsigned or
// unverifiable TDX quote means: `if-present` (the default) verifies a signed quote and reports an unsigned one as
// "unsigned (not verified)" without refusing; `required` refuses it; `ignore` skips the signature.
import { z } from 'zod';
import { durationSchema } from './duration';
import { choice, expected, strictObject } from './schema';

export const ATTESTATION_QUOTE_POLICIES = ['required', 'if-present', 'ignore'] as const;

export interface AttestationSpec {
  require: boolean;
  /** Allowed `os-image-hash` measurements (64 hex); absent: the image the API reports for the CVM. */
  osImages?: string[];
  quote: (typeof ATTESTATION_QUOTE_POLICIES)[number];
  /** How long a CVM may take to present its attestation after it runs. */
  timeoutMs: number;
}

const IMAGE_HASH = /^(0x)?[0-9a-fA-F]{64}$/;
const imageHash = z
  .string({ error: expected('an OS image hash: 64 hex digits') })
  .regex(IMAGE_HASH, { error: expected('an OS image hash: 64 hex digits') })
  .transform((h) => h.toLowerCase().replace(/^0x/, ''));

export const attestationSchema = strictObject(
  {
    require: z.boolean({ error: expected('true or false') }).default(true),
    osImages: z
      .array(imageHash, { error: expected('a list of OS image hashes (64 hex digits each)') })
      .min(1, { error: 'expected at least one OS image hash (leave osImages out to allow the image the API reports)' })
      .optional(),
    quote: choice(ATTESTATION_QUOTE_POLICIES).default('if-present'),
    timeout: durationSchema({ min: '10s', max: '1h' }).prefault('2m'),
  },
  expected('a mapping with require, osImages, quote, timeout'),
).transform(
  ({ timeout, osImages, ...rest }): AttestationSpec => ({
    ...rest,
    ...(osImages === undefined ? {} : { osImages }),
    timeoutMs: timeout,
  }),
);

// The Apps page's attestation column where the API reports no verdict: what cvmflow's own gates recorded — a
// deploy's accepted attestations and a rollout's `attested` lines — by CVM id.
import { describe, expect, it } from 'vitest';
import { recordedVerdicts } from '../../src/ui/snapshot';
import type { DeployProgress } from '../../src/workflows/deploy-types';

const summary = (quoteVerified: boolean) => ({
  composeHash: 'ab',
  registers: null,
  quoteDigest: null,
  quoteVerified,
  quoteStatus: quoteVerified ? 'UpToDate' : 'OutOfDate',
  checks: 7,
});

describe('recordedVerdicts', () => {
  it("reads deploys' attestation summaries and rollouts' attested lines, and skips CVMs without either", () => {
    const progress = (cvms: DeployProgress['cvms']) => ({
      progress: { app: 'a', phase: 'done', cvms, timingsMs: {} } as DeployProgress,
    });
    const verdicts = recordedVerdicts(
      [
        progress([
          { cvmId: 'u1', nodeId: 1, status: 'running', created: true, attestation: summary(true) },
          { cvmId: 'u2', nodeId: 1, status: 'running', created: true, attestation: summary(false) },
          { cvmId: 'u3', nodeId: 1, status: 'running', created: true },
        ]),
        {},
      ],
      [{ rollout: { cvms: [{ cvmId: 'u4', attested: 'compose ab, quote UpToDate' }, { cvmId: 'u5' }] } }],
    );
    expect(Object.fromEntries(verdicts)).toEqual({
      u1: 'verified (quote UpToDate, 7 checks)',
      u2: 'not verified (quote OutOfDate, 7 checks)',
      u4: 'verified: compose ab, quote UpToDate',
    });
  });
});

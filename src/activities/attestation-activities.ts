// The attestation gate: does a running CVM prove it runs the compose we deployed? Reads the CVM and its attestation
// (idempotent reads only), waits while the attestation is not yet available (404/409, or the guest agent offline)
// up to the caller's deadline — kept in the heartbeat details so a retried attempt does not restart it — and hands
// the rest to src/attestation. A refusal is non-retryable (AttestationRefused) and carries the verdict; an accepted
// verdict is the activity's result, so the evidence is in workflow history.
import { createHash } from 'node:crypto';
import { ApplicationFailure, activityInfo, cancellationSignal, heartbeat, sleep } from '@temporalio/activity';
import {
  type AttestationVerdict,
  type CollateralSource,
  type QuotePolicy,
  verifyAttestation as verify,
} from '../attestation';
import type { ChainClient } from '../chain/client';
import type { PhalaClient } from '../phala/client';
import { PhalaApiError } from '../phala/errors';
import { classified } from './failures';

export interface AttestationActivityDeps {
  phala: PhalaClient;
  /** Where quote collateral comes from (a PCCS); without it a signed quote cannot be verified. */
  collateral?: CollateralSource;
  /** Between reads while the attestation is not available yet. */
  pollMs?: number;
  /** For on-chain apps: reads the app contract's compose-hash allow-list. */
  chain?: ChainClient;
}

export interface AttestationGateInput {
  cvmId: string;
  /** The compose hash the CVM must run: the one we deployed. */
  composeHash: string;
  /** The app id it must belong to; absent: the app id the API reports for the CVM. */
  appId?: string;
  /** Allowed `os-image-hash` values; absent: the image the API reports for the CVM. */
  osImages?: string[];
  quote: QuotePolicy;
  /** How long the CVM may take to present its attestation. */
  timeoutMs: number;
  /** An on-chain app: the measured compose hash must also be on its contract's allow-list. */
  onChainApp?: boolean;
}

/** The evidence recorded in history: the verdict and the CVM it is about. */
export interface AttestationEvidence extends AttestationVerdict {
  cvmId: string;
}

export function createAttestationActivities(deps: AttestationActivityDeps) {
  const { phala } = deps;
  const pollMs = deps.pollMs ?? 1000;

  /** The attestation, or undefined while the CVM cannot present one yet. */
  async function read(cvmId: string, signal: AbortSignal) {
    try {
      const att = await phala.getAttestation(cvmId, { signal });
      return att.is_online && att.tcb_info ? att : undefined;
    } catch (err) {
      if (err instanceof PhalaApiError && (err.status === 404 || err.status === 409)) return undefined;
      throw err;
    }
  }

  /** Whether the app contract allows the compose hash the CVM measured (not the one we asked for). */
  async function allowedOnChain(appId: string, att: { tcb_info: { app_compose: string } | null }): Promise<boolean> {
    if (!deps.chain)
      throw ApplicationFailure.create({
        type: 'ChainNotConfigured',
        nonRetryable: true,
        message: 'the attestation of an on-chain app is checked against its contract: the worker needs ETH_RPC_URL',
      });
    const measured = createHash('sha256').update(att.tcb_info!.app_compose, 'utf8').digest('hex');
    const address = appId.startsWith('0x') ? appId : `0x${appId}`;
    return deps.chain.isComposeHashAllowed({ appId: address, composeHash: `0x${measured}` });
  }

  return {
    async verifyAttestation(input: AttestationGateInput): Promise<AttestationEvidence> {
      return classified(`attestation of CVM ${input.cvmId}`, async () => {
        const signal = cancellationSignal();
        const cp = (activityInfo().heartbeatDetails as { deadlineMs: number } | undefined) ?? {
          deadlineMs: Date.now() + input.timeoutMs,
        };
        const cvm = await phala.getCvm(input.cvmId, { signal });
        const reportedImage = (cvm as { os?: { os_image_hash?: string | null } | null }).os?.os_image_hash;
        const osImages = input.osImages ?? (reportedImage ? [reportedImage] : undefined);
        for (;;) {
          heartbeat(cp);
          const att = await read(input.cvmId, signal);
          if (att) {
            const appId = input.appId ?? String(cvm.app_id);
            const verdict = await verify(
              att,
              {
                composeHash: input.composeHash,
                appId,
                osImages,
                ...(input.onChainApp ? { measuredComposeHashOnChain: await allowedOnChain(appId, att) } : {}),
              },
              { quote: input.quote, collateral: deps.collateral },
            );
            const evidence = { cvmId: input.cvmId, ...verdict };
            if (verdict.ok) return evidence;
            throw ApplicationFailure.create({
              type: 'AttestationRefused',
              nonRetryable: true,
              message: `CVM ${input.cvmId} failed attestation: ${verdict.reason}`,
              details: [evidence],
            });
          }
          if (Date.now() >= cp.deadlineMs)
            throw ApplicationFailure.create({
              type: 'AttestationUnavailable',
              nonRetryable: true,
              message: `CVM ${input.cvmId} presented no attestation within ${input.timeoutMs} ms`,
            });
          await sleep(pollMs);
        }
      });
    },
  };
}

// Builds the activities a cvmflow worker registers, with the process-wide watch hub they share. The composition
// root: it hands each factory what lives in other layers (the trigger activity gets the client's launchBlueGreen).
import { createAnalysisActivities } from '../activities/analysis-activities';
import { createAttestationActivities } from '../activities/attestation-activities';
import { createBlueGreenActivities } from '../activities/bluegreen-activities';
import { createChainActivities } from '../activities/chain-activities';
import { createComposeUpdateActivities } from '../activities/compose-update-activities';
import { createDeployActivities } from '../activities/deploy-activities';
import { phalaWatchSource } from '../activities/phala-watch-source';
import { createPowerActivities } from '../activities/power-activities';
import { createRolloutActivities } from '../activities/rollout-activities';
import { WatchHub, type WatchHubOptions } from '../activities/watch-hub';
import type { CollateralSource } from '../attestation';
import type { ChainClient } from '../chain/client';
import { launchBlueGreen } from '../client/bluegreen';
import type { PhalaClient } from '../phala/client';
import type { CodecKey } from '../temporal/codec';

export interface WorkerActivityOptions {
  phala: PhalaClient;
  codecKeys?: CodecKey[];
  hub?: WatchHubOptions;
  busyRetryMs?: number;
  /** Present when the worker has ETH_RPC_URL and a key: enables on-chain KMS deploys. */
  chain?: ChainClient;
  /** Quote collateral for the attestation gate (a PCCS); without it signed quotes are reported unverified. */
  collateral?: CollateralSource;
  /** Between attestation reads while a CVM has none yet. */
  attestationPollMs?: number;
}

export function createWorkerActivities(opts: WorkerActivityOptions) {
  const hub = new WatchHub(phalaWatchSource(opts.phala), opts.hub);
  const activities = {
    ...createDeployActivities({ phala: opts.phala, hub, codecKeys: opts.codecKeys, busyRetryMs: opts.busyRetryMs }),
    ...createPowerActivities({ phala: opts.phala, hub, busyRetryMs: opts.busyRetryMs }),
    ...createBlueGreenActivities({ phala: opts.phala, busyRetryMs: opts.busyRetryMs, launch: launchBlueGreen }),
    ...createChainActivities({ chain: opts.chain }),
    ...createComposeUpdateActivities({ phala: opts.phala, chain: opts.chain, busyRetryMs: opts.busyRetryMs }),
    ...createRolloutActivities({ phala: opts.phala, busyRetryMs: opts.busyRetryMs }),
    ...createAttestationActivities({
      phala: opts.phala,
      chain: opts.chain,
      collateral: opts.collateral,
      pollMs: opts.attestationPollMs,
    }),
    ...createAnalysisActivities(),
  };
  return { activities, hub, close: () => hub.close() };
}

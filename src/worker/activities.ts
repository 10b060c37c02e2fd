// Builds the activities a cvmflow worker registers, with the process-wide watch hub they share.
import { createAnalysisActivities } from '../activities/analysis-activities';
import { createBlueGreenActivities } from '../activities/bluegreen-activities';
import { createChainActivities } from '../activities/chain-activities';
import { createComposeUpdateActivities } from '../activities/compose-update-activities';
import { createDeployActivities } from '../activities/deploy-activities';
import { phalaWatchSource } from '../activities/phala-watch-source';
import { createPowerActivities } from '../activities/power-activities';
import { createRolloutActivities } from '../activities/rollout-activities';
import { WatchHub, type WatchHubOptions } from '../activities/watch-hub';
import type { ChainClient } from '../chain/client';
import type { PhalaClient } from '../phala/client';
import type { CodecKey } from '../temporal/codec';

export interface WorkerActivityOptions {
  phala: PhalaClient;
  codecKeys?: CodecKey[];
  hub?: WatchHubOptions;
  busyRetryMs?: number;
  /** Present when the worker has ETH_RPC_URL and a key: enables on-chain KMS deploys. */
  chain?: ChainClient;
}

export function createWorkerActivities(opts: WorkerActivityOptions) {
  const hub = new WatchHub(phalaWatchSource(opts.phala), opts.hub);
  const activities = {
    ...createDeployActivities({ phala: opts.phala, hub, codecKeys: opts.codecKeys, busyRetryMs: opts.busyRetryMs }),
    ...createPowerActivities({ phala: opts.phala, hub, busyRetryMs: opts.busyRetryMs }),
    ...createBlueGreenActivities({ phala: opts.phala, busyRetryMs: opts.busyRetryMs }),
    ...createChainActivities({ chain: opts.chain }),
    ...createComposeUpdateActivities({ phala: opts.phala, chain: opts.chain, busyRetryMs: opts.busyRetryMs }),
    ...createRolloutActivities({ phala: opts.phala, busyRetryMs: opts.busyRetryMs }),
    ...createAnalysisActivities(),
  };
  return { activities, hub, close: () => hub.close() };
}

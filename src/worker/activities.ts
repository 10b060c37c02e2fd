// Builds the activities a cvmflow worker registers, with the process-wide watch hub they share.
import { createDeployActivities } from '../activities/deploy-activities';
import { phalaWatchSource } from '../activities/phala-watch-source';
import { createPowerActivities } from '../activities/power-activities';
import { WatchHub, type WatchHubOptions } from '../activities/watch-hub';
import type { PhalaClient } from '../phala/client';
import type { CodecKey } from '../temporal/codec';

export interface WorkerActivityOptions {
  phala: PhalaClient;
  codecKeys?: CodecKey[];
  hub?: WatchHubOptions;
  busyRetryMs?: number;
}

export function createWorkerActivities(opts: WorkerActivityOptions) {
  const hub = new WatchHub(phalaWatchSource(opts.phala), opts.hub);
  const activities = {
    ...createDeployActivities({ phala: opts.phala, hub, codecKeys: opts.codecKeys, busyRetryMs: opts.busyRetryMs }),
    ...createPowerActivities({ phala: opts.phala, hub, busyRetryMs: opts.busyRetryMs }),
  };
  return { activities, hub, close: () => hub.close() };
}

// Adapts the Phala client to the watch hub: batched status reads and single SSE sessions (no reconnects here —
// the hub decides when a CVM gets a stream again).
import type { PhalaClient } from '../phala/client';
import { watchCvmState } from '../phala/watch';
import type { ObservedState, StreamParams, WatchSource } from './watch-hub';

export function phalaWatchSource(phala: PhalaClient): WatchSource {
  return {
    async statusBatch(cvmIds, signal) {
      const res = await phala.getStatusBatch(cvmIds, { signal });
      const out = new Map<string, ObservedState>();
      for (const [id, s] of Object.entries(res)) out.set(id, { status: s.status, inProgress: s.in_progress });
      return out;
    },
    stream(cvmId, target, signal, params?: StreamParams) {
      return watchCvmState(phala, cvmId, {
        target,
        interval: params?.intervalS ?? 5,
        timeout: params?.timeoutS ?? 600,
        maxRetries: 0,
        signal,
      });
    },
  };
}

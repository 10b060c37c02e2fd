// Open SSE streams per API key: enforces the per-key cap (the real API allows about 5, reference §10.5) and lets
// the simulator close every stream on reset or shutdown.
import { detailError } from './http/errors';

export interface OpenStream {
  /** Ends the stream from the server side. */
  end(): void;
}

export class StreamRegistry {
  private readonly byKey = new Map<string, Set<OpenStream>>();

  constructor(private readonly perKey: number) {}

  /** Registers a stream or throws 429 when the key already holds `perKey` streams. */
  acquire(keyId: string, stream: OpenStream): () => void {
    let set = this.byKey.get(keyId);
    if (!set) {
      set = new Set();
      this.byKey.set(keyId, set);
    }
    if (set.size >= this.perKey) {
      throw detailError(429, `Too many concurrent SSE connections for this API key (limit ${this.perKey})`);
    }
    set.add(stream);
    return () => {
      set.delete(stream);
      if (set.size === 0) this.byKey.delete(keyId);
    };
  }

  counts(): Record<string, number> {
    return Object.fromEntries([...this.byKey].map(([k, s]) => [k, s.size]));
  }

  closeAll(): void {
    for (const set of [...this.byKey.values()]) for (const s of [...set]) s.end();
  }
}

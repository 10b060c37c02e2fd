// Every API request the simulator answered, for tests and benchmarks that count calls or prove that nothing was
// created. Entries carry the API key's id (key_<sha256 prefix>), never the key.

export interface RequestLogEntry {
  seq: number;
  at: string;
  method: string;
  /** Path as received (without the query string), duplicate slashes collapsed. */
  path: string;
  /** The route pattern it matched (`/cvms/:id/start`), or null. */
  route: string | null;
  query: string;
  status: number;
  durationMs: number;
  apiKeyId: string | null;
  /** The X-Phala-Version the request was answered at (the default when it sent none); null if refused before. */
  apiVersion: string | null;
  requestId: string;
  /** Ids of the injected faults that fired on this request. */
  faults: string[];
}

export interface RequestLogFilter {
  sinceSeq?: number;
  method?: string;
  pathPrefix?: string;
  route?: string;
  apiKeyId?: string;
}

export class RequestLog {
  private entries: RequestLogEntry[] = [];
  private seq = 0;

  constructor(private readonly limit: number) {}

  add(entry: Omit<RequestLogEntry, 'seq'>): RequestLogEntry {
    const full = { seq: ++this.seq, ...entry };
    this.entries.push(full);
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
    return full;
  }

  list(f: RequestLogFilter = {}): RequestLogEntry[] {
    return this.entries.filter(
      (e) =>
        (f.sinceSeq === undefined || e.seq > f.sinceSeq) &&
        (f.method === undefined || e.method === f.method.toUpperCase()) &&
        (f.pathPrefix === undefined || e.path.startsWith(f.pathPrefix)) &&
        (f.route === undefined || e.route === f.route) &&
        (f.apiKeyId === undefined || e.apiKeyId === f.apiKeyId),
    );
  }

  lastSeq(): number {
    return this.seq;
  }

  clear(): void {
    this.entries = [];
  }
}

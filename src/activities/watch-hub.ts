// One hub per worker process watches every CVM that any activity waits on. The Phala API allows about 5 concurrent
// SSE streams per API key, so the hub gives streams to at most `maxStreams` CVMs (oldest waiters first) and covers
// everyone else with one batched status poll (`POST /status/batch`) per tick. Streams react within milliseconds;
// the poll is the safety net for everything else, including events a dropped stream missed. A CVM whose stream is
// alive (heard from within `streamStaleMs`) needs no poll: it rides along in a batch that goes out anyway, but when
// every watched CVM has a live stream no batch is sent at all (a one-deploy worker would otherwise poll each second
// for nothing).
import { FAILED_STATUSES, STOPPED_STATUSES } from '../domain/cvm-status';

export interface ObservedState {
  status: string;
  inProgress: boolean;
}

export interface StreamEvent {
  type: 'state' | 'complete' | 'error' | 'timeout';
  data: Record<string, unknown>;
}

/** What the hub needs from the API; the worker adapts the Phala client to it. */
export interface WatchSource {
  /** Statuses keyed by cvmId; a CVM missing from the map no longer exists. */
  statusBatch(cvmIds: string[], signal: AbortSignal): Promise<Map<string, ObservedState>>;
  /** One SSE session for a CVM until `target`; ends when the server closes or the signal aborts. */
  stream(cvmId: string, target: string, signal: AbortSignal, params?: StreamParams): AsyncIterable<StreamEvent>;
}

/** The SSE endpoint's own parameters (seed 000 ranges: interval 5–30 s, timeout 10–600 s). */
export interface StreamParams {
  intervalS?: number;
  timeoutS?: number;
}

export interface WatchHubOptions {
  maxStreams?: number;
  pollIntervalMs?: number;
  /** Largest batch per status request. */
  batchSize?: number;
  /** After a stream fails (429, drop), wait this long before giving that CVM a stream again. */
  streamBackoffMs?: number;
  /** Consecutive polls in which a CVM is missing before it counts as gone. */
  missingPollsToFail?: number;
  /** Told the number of open streams whenever it changes (the worker's SSE gauge). */
  onStreamCount?: (open: number) => void;
  /**
   * A stream silent for this long no longer counts as covering its CVM, which is then polled again. Default: twice
   * the stream's own state interval (the server sends a `state` event at least that often) plus one second.
   */
  streamStaleMs?: number;
}

export class WatchFailure extends Error {
  constructor(
    message: string,
    readonly kind: 'failed' | 'gone' | 'timeout',
    readonly lastStatus?: string,
  ) {
    super(message);
  }
}

export interface WatchRequest {
  cvmId: string;
  target: string;
  deadlineMs: number;
  signal?: AbortSignal;
  onState?: (state: ObservedState) => void;
  stream?: StreamParams;
  /**
   * Cover this CVM by the batched poll only. For bulk waits (a power schedule acting on hundreds of CVMs at once):
   * the few streams would churn through them milliseconds apart, each an extra request, where the one batch poll
   * per tick already covers them all.
   */
  pollOnly?: boolean;
}

interface Waiter extends WatchRequest {
  resolve(state: ObservedState): void;
  reject(err: Error): void;
  sawTransition: boolean;
  timer: NodeJS.Timeout;
}

interface Watched {
  waiters: Set<Waiter>;
  since: number;
  last?: ObservedState;
  missing: number;
  stream?: AbortController;
  /** When the open stream last delivered an event (or opened), and how long it may then stay silent. */
  streamHeardAt: number;
  streamStaleMs: number;
  streamBlockedUntil: number;
}

export class WatchHub {
  private readonly watched = new Map<string, Watched>();
  private readonly opts: Required<Omit<WatchHubOptions, 'onStreamCount' | 'streamStaleMs'>>;
  private readonly streamStaleMs: number | undefined;
  private readonly onStreamCount: (open: number) => void;
  private pollTimer?: NodeJS.Timeout;
  private polling = false;
  private readonly closing = new AbortController();
  /** Counters for benchmarks and tests. */
  readonly stats = { polls: 0, streamsOpened: 0, streamEvents: 0 };

  constructor(
    private readonly source: WatchSource,
    opts: WatchHubOptions = {},
  ) {
    this.onStreamCount = opts.onStreamCount ?? (() => {});
    this.streamStaleMs = opts.streamStaleMs;
    this.opts = {
      maxStreams: opts.maxStreams ?? 4,
      pollIntervalMs: opts.pollIntervalMs ?? 1000,
      // The status batch has no documented size limit (reference §3.8); 1,000 ids are ~40 KB of request.
      batchSize: opts.batchSize ?? 1000,
      streamBackoffMs: opts.streamBackoffMs ?? 2000,
      missingPollsToFail: opts.missingPollsToFail ?? 2,
    };
  }

  /** Streams open or still closing: the server counts a connection until it is really gone. */
  private openStreamCount = 0;

  get activeStreams(): number {
    return this.openStreamCount;
  }

  get watchedCount(): number {
    return this.watched.size;
  }

  /** Resolves when the CVM reaches `target` and no operation is in progress. */
  watch(req: WatchRequest): Promise<ObservedState> {
    return new Promise<ObservedState>((resolve, reject) => {
      if (req.signal?.aborted) return reject(req.signal.reason ?? new Error('aborted'));
      const waiter: Waiter = {
        ...req,
        target: req.target.toLowerCase(),
        sawTransition: false,
        resolve,
        reject,
        timer: setTimeout(
          () =>
            this.fail(
              waiter,
              new WatchFailure(
                `CVM ${req.cvmId} did not reach ${req.target} before the deadline`,
                'timeout',
                this.watched.get(req.cvmId)?.last?.status,
              ),
            ),
          Math.max(0, req.deadlineMs - Date.now()),
        ),
      };
      req.signal?.addEventListener('abort', () => this.fail(waiter, req.signal?.reason ?? new Error('aborted')), {
        once: true,
      });
      let entry = this.watched.get(req.cvmId);
      if (!entry) {
        entry = {
          waiters: new Set(),
          since: Date.now(),
          missing: 0,
          streamHeardAt: 0,
          streamStaleMs: 0,
          streamBlockedUntil: 0,
        };
        this.watched.set(req.cvmId, entry);
      }
      entry.waiters.add(waiter);
      // Only a waiter that may have a stream can change who gets one (thousands of poll-only waiters arrive at once).
      if (!req.pollOnly) this.assignStreams();
      this.schedulePoll(0);
    });
  }

  close(): void {
    this.closing.abort();
    clearTimeout(this.pollTimer);
    for (const entry of this.watched.values()) {
      entry.stream?.abort();
      for (const w of entry.waiters) this.fail(w, new Error('watch hub closed (worker shutting down)'));
    }
  }

  private fail(waiter: Waiter, err: Error): void {
    this.remove(waiter);
    waiter.reject(err);
  }

  private remove(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    const entry = this.watched.get(waiter.cvmId);
    if (!entry?.waiters.delete(waiter)) return;
    if (entry.waiters.size === 0) {
      // A freed stream is handed on when it has closed (openStream's finally); an entry without one frees nothing.
      entry.stream?.abort();
      this.watched.delete(waiter.cvmId);
    }
  }

  /** Applies one observation of a CVM to everyone waiting on it. */
  private observe(cvmId: string, state: ObservedState): void {
    const entry = this.watched.get(cvmId);
    if (!entry) return;
    entry.last = state;
    entry.missing = 0;
    const status = state.status.toLowerCase();
    for (const w of [...entry.waiters]) {
      w.onState?.(state);
      if (status === w.target && !state.inProgress) {
        this.remove(w);
        w.resolve(state);
      } else if (
        w.target === 'running' &&
        !state.inProgress &&
        (FAILED_STATUSES.has(status) || (STOPPED_STATUSES.has(status) && w.sawTransition))
      ) {
        this.fail(w, new WatchFailure(`CVM ${cvmId} entered ${status} while waiting for running`, 'failed', status));
      } else if (state.inProgress || status.endsWith('ing')) {
        w.sawTransition = true;
      }
    }
  }

  private assignStreams(): void {
    if (this.closing.signal.aborted || this.activeStreams >= this.opts.maxStreams) return;
    const now = Date.now();
    const candidates = [...this.watched.entries()]
      .filter(([, e]) => !e.stream && e.streamBlockedUntil <= now && [...e.waiters].some((w) => !w.pollOnly))
      .sort((a, b) => a[1].since - b[1].since);
    for (const [cvmId, entry] of candidates) {
      if (this.activeStreams >= this.opts.maxStreams) return;
      this.openStream(cvmId, entry);
    }
  }

  private openStream(cvmId: string, entry: Watched): void {
    const ctrl = new AbortController();
    entry.stream = ctrl;
    this.onStreamCount(++this.openStreamCount);
    this.stats.streamsOpened++;
    const first = [...entry.waiters][0];
    const target = first?.target ?? 'running';
    entry.streamHeardAt = Date.now();
    entry.streamStaleMs = this.streamStaleMs ?? 2 * (first?.stream?.intervalS ?? 5) * 1000 + 1000;
    void (async () => {
      let clean = false;
      try {
        for await (const ev of this.source.stream(cvmId, target, ctrl.signal, first?.stream)) {
          this.stats.streamEvents++;
          entry.streamHeardAt = Date.now();
          if (ev.type === 'state' && typeof ev.data.status === 'string') {
            this.observe(cvmId, { status: ev.data.status, inProgress: ev.data.in_progress === true });
          }
          if (ev.type === 'complete' || ev.type === 'timeout') clean = true;
        }
      } catch {
        // A failed stream (429 over the cap, a drop, a network error) is covered by polling until it is retried.
      } finally {
        this.onStreamCount(--this.openStreamCount);
        if (entry.stream === ctrl) entry.stream = undefined;
        if (!clean) entry.streamBlockedUntil = Date.now() + this.opts.streamBackoffMs;
        // The stream ended on its own: the state may have changed right at the end, so look now.
        if (!ctrl.signal.aborted) this.schedulePoll(0);
        setTimeout(() => this.assignStreams(), clean || ctrl.signal.aborted ? 0 : this.opts.streamBackoffMs).unref();
      }
    })();
  }

  private schedulePoll(delayMs: number): void {
    if (this.closing.signal.aborted || this.watched.size === 0) return;
    if (this.pollTimer && delayMs > 0) return;
    clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => void this.poll(), delayMs);
    this.pollTimer.unref();
  }

  private async poll(): Promise<void> {
    this.pollTimer = undefined;
    if (this.polling) return this.schedulePoll(this.opts.pollIntervalMs);
    this.polling = true;
    try {
      const now = Date.now();
      const live = (e: Watched) => e.stream !== undefined && now - e.streamHeardAt < e.streamStaleMs;
      const needed = [...this.watched.values()].some((e) => !live(e));
      const ids = needed ? [...this.watched.keys()] : [];
      for (let i = 0; i < ids.length; i += this.opts.batchSize) {
        const chunk = ids.slice(i, i + this.opts.batchSize);
        this.stats.polls++;
        let states: Map<string, ObservedState>;
        try {
          states = await this.source.statusBatch(chunk, this.closing.signal);
        } catch {
          continue; // transient API trouble: the next tick tries again; each waiter's deadline still applies
        }
        for (const id of chunk) {
          const state = states.get(id);
          if (state) this.observe(id, state);
          else this.noteMissing(id);
        }
      }
    } finally {
      this.polling = false;
      this.assignStreams();
      this.schedulePoll(this.opts.pollIntervalMs);
    }
  }

  private noteMissing(cvmId: string): void {
    const entry = this.watched.get(cvmId);
    if (!entry || ++entry.missing < this.opts.missingPollsToFail) return;
    for (const w of [...entry.waiters])
      this.fail(w, new WatchFailure(`CVM ${cvmId} no longer exists`, 'gone', entry.last?.status));
  }
}

import { describe, expect, it } from 'vitest';
import {
  type ObservedState,
  type StreamEvent,
  WatchFailure,
  WatchHub,
  type WatchSource,
} from '../../src/activities/watch-hub';

/** An in-memory API: statuses per CVM, SSE streams that push every change, and counters. */
class FakeSource implements WatchSource {
  states = new Map<string, ObservedState>();
  batchCalls = 0;
  openStreams = 0;
  maxOpenStreams = 0;
  streamsRefused = 0;
  streamCap = Number.POSITIVE_INFINITY;
  private listeners = new Set<(id: string) => void>();

  set(id: string, status: string, inProgress = false) {
    this.states.set(id, { status, inProgress });
    for (const l of this.listeners) l(id);
  }

  async statusBatch(ids: string[]) {
    this.batchCalls++;
    return new Map(ids.filter((id) => this.states.has(id)).map((id) => [id, this.states.get(id)!]));
  }

  async *stream(cvmId: string, target: string, signal: AbortSignal): AsyncIterable<StreamEvent> {
    if (this.openStreams >= this.streamCap) {
      this.streamsRefused++;
      throw new Error('429');
    }
    this.openStreams++;
    this.maxOpenStreams = Math.max(this.maxOpenStreams, this.openStreams);
    const queue: StreamEvent[] = [];
    let wake = () => {};
    const push = (id: string) => {
      if (id !== cvmId) return;
      const s = this.states.get(id)!;
      queue.push({ type: 'state', data: { status: s.status, in_progress: s.inProgress } });
      if (s.status === target) queue.push({ type: 'complete', data: {} });
      wake();
    };
    this.listeners.add(push);
    signal.addEventListener('abort', () => wake());
    try {
      push(cvmId);
      while (!signal.aborted) {
        const ev = queue.shift();
        if (ev) {
          yield ev;
          if (ev.type === 'complete') return;
        } else await new Promise<void>((r) => (wake = r));
      }
    } finally {
      this.listeners.delete(push);
      this.openStreams--;
    }
  }
}

describe('WatchHub', () => {
  it('resolves through the stream within milliseconds of a change', async () => {
    const src = new FakeSource();
    src.set('a', 'starting', true);
    const hub = new WatchHub(src, { pollIntervalMs: 60_000 });
    const done = hub.watch({ cvmId: 'a', target: 'running', deadlineMs: Date.now() + 5000 });
    await new Promise((r) => setTimeout(r, 20));
    const changedAt = performance.now();
    src.set('a', 'running');
    await done;
    expect(performance.now() - changedAt).toBeLessThan(50);
    hub.close();
  });

  it('covers poll-only waiters by the batch alone, while other waiters still get streams', async () => {
    const src = new FakeSource();
    const bulk = Array.from({ length: 30 }, (_, i) => `bulk-${i}`);
    for (const id of [...bulk, 'single']) src.set(id, 'stopping', true);
    const hub = new WatchHub(src, { maxStreams: 4, pollIntervalMs: 20 });
    const deadlineMs = Date.now() + 5000;
    const waits = bulk.map((cvmId) => hub.watch({ cvmId, target: 'stopped', deadlineMs, pollOnly: true }));
    await new Promise((r) => setTimeout(r, 30));
    expect(hub.activeStreams).toBe(0);
    const single = hub.watch({ cvmId: 'single', target: 'stopped', deadlineMs });
    await new Promise((r) => setTimeout(r, 30));
    expect(hub.activeStreams).toBe(1);
    for (const id of [...bulk, 'single']) src.set(id, 'stopped');
    await Promise.all([...waits, single]);
    expect(hub.stats.streamsOpened).toBe(1);
    expect(src.batchCalls).toBeGreaterThan(0);
    hub.close();
  });

  it('never holds more streams than allowed and covers the rest by batched polling', async () => {
    const src = new FakeSource();
    const ids = Array.from({ length: 250 }, (_, i) => `cvm-${i}`);
    for (const id of ids) src.set(id, 'starting', true);
    const hub = new WatchHub(src, { maxStreams: 4, pollIntervalMs: 20, batchSize: 100 });
    const all = Promise.all(
      ids.map((cvmId) => hub.watch({ cvmId, target: 'running', deadlineMs: Date.now() + 10_000 })),
    );
    await new Promise((r) => setTimeout(r, 50));
    const pollsBefore = src.batchCalls;
    for (const id of ids) src.set(id, 'running');
    await all;
    expect(src.maxOpenStreams).toBeLessThanOrEqual(4);
    // 250 CVMs in batches of 100: one tick is 3 requests, not 250.
    expect(src.batchCalls - pollsBefore).toBeLessThanOrEqual(6);
    expect(hub.watchedCount).toBe(0);
    hub.close();
  });

  it('sends no status batch while every watched CVM has a live stream', async () => {
    const src = new FakeSource();
    src.set('a', 'starting', true);
    src.set('b', 'starting', true);
    const hub = new WatchHub(src, { maxStreams: 4, pollIntervalMs: 10 });
    const done = Promise.all(
      ['a', 'b'].map((cvmId) => hub.watch({ cvmId, target: 'running', deadlineMs: Date.now() + 5000 })),
    );
    await new Promise((r) => setTimeout(r, 60));
    src.set('a', 'running');
    src.set('b', 'running');
    await done;
    expect(src.batchCalls).toBe(0);
    hub.close();
  });

  it('polls a CVM again once its stream has gone silent', async () => {
    const src = new FakeSource();
    src.set('a', 'starting', true);
    const hub = new WatchHub(src, { pollIntervalMs: 10, streamStaleMs: 50 });
    const done = hub.watch({ cvmId: 'a', target: 'running', deadlineMs: Date.now() + 5000 });
    await new Promise((r) => setTimeout(r, 120));
    expect(src.batchCalls).toBeGreaterThan(0);
    // A change the stream never delivers (a stalled stream) is still seen by the poll.
    src.states.set('a', { status: 'running', inProgress: false });
    await expect(done).resolves.toEqual({ status: 'running', inProgress: false });
    hub.close();
  });

  it('falls back to polling when the server refuses streams (429)', async () => {
    const src = new FakeSource();
    src.streamCap = 0;
    src.set('a', 'starting', true);
    const hub = new WatchHub(src, { pollIntervalMs: 10, streamBackoffMs: 1000 });
    const done = hub.watch({ cvmId: 'a', target: 'running', deadlineMs: Date.now() + 5000 });
    setTimeout(() => src.set('a', 'running'), 30);
    await expect(done).resolves.toEqual({ status: 'running', inProgress: false });
    expect(src.streamsRefused).toBeGreaterThan(0);
    hub.close();
  });

  it('waits while an operation is in progress even if the status already matches', async () => {
    const src = new FakeSource();
    src.set('a', 'running', true);
    const hub = new WatchHub(src, { pollIntervalMs: 10 });
    let resolved = false;
    const done = hub
      .watch({ cvmId: 'a', target: 'running', deadlineMs: Date.now() + 5000 })
      .then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 60));
    expect(resolved).toBe(false);
    src.set('a', 'running', false);
    await done;
    hub.close();
  });

  it('fails fast when the CVM crashes, disappears, or misses its deadline', async () => {
    const src = new FakeSource();
    src.set('crash', 'starting', true);
    src.set('gone', 'starting', true);
    src.set('slow', 'starting', true);
    const hub = new WatchHub(src, { pollIntervalMs: 10, maxStreams: 0 });
    const crash = hub.watch({ cvmId: 'crash', target: 'running', deadlineMs: Date.now() + 5000 }).catch((e) => e);
    const gone = hub.watch({ cvmId: 'gone', target: 'running', deadlineMs: Date.now() + 5000 }).catch((e) => e);
    const slow = hub.watch({ cvmId: 'slow', target: 'running', deadlineMs: Date.now() + 100 }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 30));
    src.set('crash', 'exited');
    src.states.delete('gone');
    expect(await crash).toMatchObject({ kind: 'failed', lastStatus: 'exited' });
    expect(await gone).toMatchObject({ kind: 'gone' });
    const late = await slow;
    expect(late).toBeInstanceOf(WatchFailure);
    expect(late).toMatchObject({ kind: 'timeout', lastStatus: 'starting' });
    hub.close();
  });

  it('stops watching on abort', async () => {
    const src = new FakeSource();
    src.set('a', 'starting', true);
    const hub = new WatchHub(src, { pollIntervalMs: 10 });
    const ctrl = new AbortController();
    const done = hub
      .watch({ cvmId: 'a', target: 'running', deadlineMs: Date.now() + 5000, signal: ctrl.signal })
      .catch((e) => e);
    ctrl.abort(new Error('cancelled by test'));
    expect(((await done) as Error).message).toBe('cancelled by test');
    expect(hub.watchedCount).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(src.openStreams).toBe(0);
    hub.close();
  });
});

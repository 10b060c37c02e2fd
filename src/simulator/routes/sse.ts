// SSE watch: GET /cvms/{id}/state?target=… (reference §6). A `state` event goes out on connect, every `interval`
// seconds AND on every status change — the last is what lets a watcher react in milliseconds instead of polling
// periods. On reaching the target (case-insensitive): a final `state`, then `complete`, then close. `timeout` at
// the deadline, `error` when the CVM is deleted. Intervals and timeouts are simulated seconds (× timeScale).
import type { ServerResponse } from 'node:http';
import type { SimCore } from '../core';
import type { CvmEventKind } from '../events';
import type { RouteFault } from '../faults';
import { type ValidationIssue, validationError } from '../http/errors';
import type { Cvm } from '../model';
import { sseState } from '../shapes';
import type { ApiRequest } from './types';

function intParam(
  query: URLSearchParams,
  name: string,
  def: number,
  min: number,
  max: number,
  issues: ValidationIssue[],
): number {
  const raw = query.get(name);
  if (raw === null) return def;
  const loc = ['query', name];
  if (!/^-?\d+$/.test(raw.trim())) {
    issues.push({
      type: 'int_parsing',
      loc,
      msg: 'Input should be a valid integer, unable to parse string as an integer',
      input: raw,
    });
    return def;
  }
  const n = Number(raw);
  // FastAPI's words for a bound, as the real API answers.
  const outOfBound = (type: string, words: string, limit: number, ctx: Record<string, number>) =>
    issues.push({ type, loc, msg: `Input should be ${words} ${limit}`, input: raw, ctx });
  if (n < min) outOfBound('greater_than_equal', 'greater than or equal to', min, { ge: min });
  if (n > max) outOfBound('less_than_equal', 'less than or equal to', max, { le: max });
  return n;
}

class StateStream {
  private sent = 0;
  private stalled = false;
  private closed = false;
  private readonly startedAt = Date.now();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly core: SimCore,
    private readonly res: ServerResponse,
    private readonly cvm: Cvm,
    private readonly target: string,
    private readonly fault: RouteFault['sse'],
  ) {}

  open(release: () => void, intervalMs: number, timeoutMs: number): void {
    this.cleanups.push(release);
    this.res.on('close', () => this.dispose());
    this.res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    this.res.socket?.setNoDelay(true);
    this.applyFault();
    if (this.closed) return;
    this.cleanups.push(this.core.events.subscribe(this.cvm.id, (cvm, kind) => this.onEvent(cvm, kind)));
    this.timers.push(setInterval(() => this.send('state', sseState(this.core, this.cvm)), intervalMs));
    this.timers.push(
      setTimeout(
        () => this.finish('timeout', { error: 'Timeout', elapsed: this.elapsed(), target: this.target }),
        timeoutMs,
      ),
    );
    this.onEvent(this.cvm, 'change');
  }

  /** Server-side end (reset / shutdown): close without a terminal event, like a dropped connection. */
  end(): void {
    this.res.end();
    this.dispose();
  }

  private onEvent(cvm: Cvm, kind: CvmEventKind): void {
    if (kind === 'gone') {
      this.finish('error', { error: 'CVM not found', message: 'The CVM was deleted', elapsed: this.elapsed() });
      return;
    }
    this.send('state', sseState(this.core, cvm));
    if (cvm.status.toLowerCase() === this.target.toLowerCase()) {
      this.finish('complete', { status: cvm.status, elapsed: this.elapsed(), target: this.target });
    } else if (cvm.status === 'deleting') {
      this.finish('error', {
        error: 'CVM is being deleted',
        message: `It will never reach '${this.target}'`,
        elapsed: this.elapsed(),
      });
    }
  }

  private elapsed(): number {
    return Math.round((Date.now() - this.startedAt) / this.core.timeScale / 100) / 10;
  }

  private send(event: string, data: unknown): void {
    if (this.closed || this.stalled) return;
    this.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    this.sent++;
    this.applyFault();
  }

  /** Injected SSE faults: a drop is a vanished connection (no terminal event); a stall is silence. */
  private applyFault(): void {
    if (this.fault?.dropAfterEvents !== undefined && this.sent >= this.fault.dropAfterEvents) {
      // end() on the socket flushes the events already written, then closes mid-body (no final chunk).
      this.dispose();
      this.res.socket?.end();
    } else if (this.fault?.stallAfterEvents !== undefined && this.sent >= this.fault.stallAfterEvents) {
      this.stalled = true;
    }
  }

  private finish(event: string, data: unknown): void {
    this.send(event, data);
    if (this.closed || this.stalled) return;
    this.res.end();
    this.dispose();
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.cleanups) c();
  }
}

export function streamState(r: ApiRequest): 'streaming' {
  const issues: ValidationIssue[] = [];
  const target = r.query.get('target') ?? '';
  if (target.trim() === '') {
    issues.push({
      type: 'string_too_short',
      loc: ['query', 'target'],
      msg: 'String should have at least 1 character',
      input: target,
      ctx: { min_length: 1 },
    });
  }
  const interval = intParam(r.query, 'interval', 5, 5, 30, issues);
  const timeout = intParam(r.query, 'timeout', 300, 10, 600, issues);
  if (issues.length > 0) throw validationError(issues);
  const cvm = r.core.resolve(r.ws, r.params.id!);
  const stream = new StateStream(r.core, r.res, cvm, target, r.sseFault);
  const release = r.core.streams.acquire(r.ws.keyId, stream);
  stream.open(release, interval * 1000 * r.core.timeScale, timeout * 1000 * r.core.timeScale);
  return 'streaming';
}

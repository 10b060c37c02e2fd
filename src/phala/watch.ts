// Watching a CVM until it reaches a state, over the API's server-sent-event stream
// `GET /cvms/{id}/state?target=&interval=&timeout=` (reference §6). Semantics follow the Go SDK (seed 002), not the TS
// SDK's known faults:
// - `complete` is yielded and the iterable ends; `timeout` (the server's `timeout` elapsed) is yielded and the
//   iterable ends too — the caller decides whether to watch again, nothing reconnects behind its back.
// - `error` events are yielded and reading goes on: the server closes the stream after them, which counts as a drop.
// - A drop (stream ended without `complete`/`timeout`), a network error or a retryable HTTP answer (429, 5xx, busy
//   409) reconnects after `retryDelay` (or the server's Retry-After, if longer); each reconnect is one retry.
//   `maxRetries` undefined = unlimited, 0 = none. When none is left, the last failure is thrown.
// - Any other HTTP error (401, 403, 404, 422, …) is thrown at once: the TS SDK retries a 404 forever.
// - Aborting `signal` stops at once, with the signal's reason, and closes the connection.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { z } from 'zod';
import type { PhalaClient } from './client';
import { PhalaApiError, PhalaUsageError } from './errors';
import { type CvmIdentifier, resolveCvmId } from './ids';
import {
  type ApiVersion,
  type WatchCompleteData,
  WatchCompleteDataSchema,
  type WatchErrorData,
  WatchErrorDataSchema,
  type WatchStateData,
  WatchStateDataSchema,
  type WatchTimeoutData,
  WatchTimeoutDataSchema,
} from './schemas';

export interface WatchCvmStateOptions {
  /** The status to wait for, e.g. `running` or `stopped` (the server compares case-insensitively). */
  target: string;
  /** Seconds between the server's state checks: an integer from 5 to 30. Default 5. */
  interval?: number;
  /** Seconds before the server gives up and sends `timeout`: an integer from 10 to 600. Default 300. */
  timeout?: number;
  /** Reconnects allowed after a drop or transient failure; undefined = unlimited, 0 = none. */
  maxRetries?: number;
  /** Milliseconds to wait before reconnecting. Default 5000. */
  retryDelay?: number;
  signal?: AbortSignal;
  /** Called before each reconnect, with the failure that caused it. */
  onRetry?: (info: { retry: number; delayMs: number; error: PhalaApiError }) => void;
}

export type WatchEvent =
  | { type: 'state'; data: WatchStateData }
  | { type: 'complete'; data: WatchCompleteData }
  | { type: 'error'; data: WatchErrorData }
  | { type: 'timeout'; data: WatchTimeoutData };

type WatchClient = Pick<PhalaClient<ApiVersion>, 'openEventStream' | 'transportError'>;

interface CheckedOptions {
  target: string;
  interval: number;
  timeout: number;
  maxRetries: number;
  retryDelay: number;
  signal?: AbortSignal;
  onRetry?: WatchCvmStateOptions['onRetry'];
}

const PATH = '/cvms/{id}/state';
const ENDPOINT = `GET ${PATH}`;
// An SSE frame is one small JSON object; anything this large is not the API talking.
const MAX_FRAME_CHARS = 1 << 20;

const EVENT_SCHEMAS: Record<WatchEvent['type'], z.ZodType> = {
  state: WatchStateDataSchema,
  complete: WatchCompleteDataSchema,
  timeout: WatchTimeoutDataSchema,
  error: WatchErrorDataSchema,
};

/**
 * The events of one CVM until `complete` or `timeout` (see the rules above). Options are checked before anything is
 * sent; a bad one throws a PhalaUsageError naming it.
 */
export function watchCvmState(
  client: WatchClient,
  id: CvmIdentifier,
  options: WatchCvmStateOptions,
): AsyncGenerator<WatchEvent, void> {
  const cvmId = resolveCvmId(id);
  return run(client, cvmId, checkOptions(options));
}

/** Watches until `complete` and returns the CVM's last reported state; a `timeout` event is thrown as an error. */
export async function waitForCvmState(
  client: WatchClient,
  id: CvmIdentifier,
  options: WatchCvmStateOptions,
): Promise<WatchStateData> {
  let last: WatchStateData | undefined;
  for await (const ev of watchCvmState(client, id, options)) {
    if (ev.type === 'state') last = ev.data;
    if (ev.type === 'complete') return last ?? { status: ev.data.status ?? options.target };
    if (ev.type === 'timeout') {
      throw new PhalaApiError({
        endpoint: ENDPOINT,
        status: 200,
        code: 'PHALA_WATCH_TIMEOUT',
        retryable: false,
        message: `${ENDPOINT}: CVM ${resolveCvmId(id)} did not reach "${options.target}" within ${
          options.timeout ?? 300
        } s (last status: ${last?.status ?? 'unknown'})`,
      });
    }
  }
  // watchCvmState ends only after `complete` or `timeout`, or throws.
  throw new Error('watchCvmState ended without a terminal event');
}

function checkOptions(o: WatchCvmStateOptions): CheckedOptions {
  if (typeof o.target !== 'string' || o.target.trim() === '') {
    throw usage('target', 'target must name the status to wait for, e.g. "running"');
  }
  const interval = o.interval ?? 5;
  const timeout = o.timeout ?? 300;
  checkRange('interval', interval, 5, 30);
  checkRange('timeout', timeout, 10, 600);
  const maxRetries = o.maxRetries ?? Number.POSITIVE_INFINITY;
  if (!(maxRetries === Number.POSITIVE_INFINITY || (Number.isInteger(maxRetries) && maxRetries >= 0))) {
    throw usage('maxRetries', `maxRetries must be a whole number ≥ 0, or undefined for unlimited (got ${maxRetries})`);
  }
  const retryDelay = o.retryDelay ?? 5000;
  if (!Number.isFinite(retryDelay) || retryDelay < 0) {
    throw usage('retryDelay', `retryDelay must be a number of milliseconds ≥ 0 (got ${retryDelay})`);
  }
  return { target: o.target, interval, timeout, maxRetries, retryDelay, signal: o.signal, onRetry: o.onRetry };
}

function checkRange(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw usage(field, `${field} must be a whole number of seconds from ${min} to ${max} (got ${value})`);
  }
}

function usage(field: string, message: string): PhalaUsageError {
  return new PhalaUsageError('PHALA_INVALID_ARGUMENT', field, message);
}

async function* run(client: WatchClient, cvmId: string, o: CheckedOptions): AsyncGenerator<WatchEvent, void> {
  for (let retry = 1; ; retry++) {
    let failure: PhalaApiError;
    try {
      if ((yield* attempt(client, cvmId, o)) === 'finished') return;
      failure = new PhalaApiError({
        endpoint: ENDPOINT,
        status: 200,
        code: 'PHALA_STREAM_ENDED',
        retryable: true,
        message: `${ENDPOINT}: the event stream of CVM ${cvmId} ended before "complete" or "timeout"${
          o.maxRetries === 0 ? ' (maxRetries is 0, so no reconnect)' : ` (after ${retry - 1} reconnects)`
        }`,
      });
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason;
      if (!(err instanceof PhalaApiError) || !err.retryable) throw err;
      failure = err;
    }
    if (retry > o.maxRetries) throw failure;
    const delayMs = Math.max(o.retryDelay, failure.retryAfterMs ?? 0);
    o.onRetry?.({ retry, delayMs, error: failure });
    await sleep(delayMs, o.signal);
  }
}

/** One connection: yields its events; 'finished' after `complete`/`timeout`, 'dropped' if it ended before. */
async function* attempt(
  client: WatchClient,
  cvmId: string,
  o: CheckedOptions,
): AsyncGenerator<WatchEvent, 'finished' | 'dropped'> {
  const body = await client.openEventStream(PATH, {
    params: { id: cvmId },
    query: { target: o.target, interval: o.interval, timeout: o.timeout },
    signal: o.signal,
    // The server sends a state every `interval` s; this much silence means a half-open connection, not a slow CVM.
    bodyTimeoutMs: (o.interval * 2 + 10) * 1000,
  });
  const queue: WatchEvent[] = [];
  let overflow = false;
  const parser = createParser({
    maxBufferSize: MAX_FRAME_CHARS,
    onEvent: (msg) => {
      const ev = toWatchEvent(msg);
      if (ev) queue.push(ev);
    },
    onError: (err) => {
      if (err.type === 'max-buffer-size-exceeded') overflow = true;
    },
  });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of body) {
      parser.feed(decoder.decode(chunk as Buffer, { stream: true }));
      if (overflow) {
        throw new PhalaApiError({
          endpoint: ENDPOINT,
          status: 200,
          code: 'PHALA_INVALID_RESPONSE',
          retryable: true,
          message: `${ENDPOINT}: an event of CVM ${cvmId} exceeded ${MAX_FRAME_CHARS} characters`,
        });
      }
      for (let ev = queue.shift(); ev; ev = queue.shift()) {
        yield ev;
        if (ev.type === 'complete' || ev.type === 'timeout') return 'finished';
      }
    }
    return 'dropped';
  } catch (err) {
    if (err instanceof PhalaApiError) throw err;
    throw client.transportError(ENDPOINT, err, o.signal);
  } finally {
    // Early exit (a terminal event, the consumer's break, an abort) leaves the response unread: close it.
    body.destroy();
  }
}

function toWatchEvent(msg: EventSourceMessage): WatchEvent | undefined {
  const type = msg.event;
  // Frames without a known event name (keep-alives, future event kinds) carry nothing a watcher acts on.
  if (type !== 'state' && type !== 'complete' && type !== 'timeout' && type !== 'error') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(msg.data);
  } catch {
    return { type: 'error', data: { error: `"${type}" event data is not JSON` } };
  }
  const parsed = EVENT_SCHEMAS[type].safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `field "${issue.path.join('.')}"` : 'data';
    return { type: 'error', data: { error: `"${type}" event ${where}: ${issue?.message ?? 'unexpected shape'}` } };
  }
  return { type, data: parsed.data } as WatchEvent;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

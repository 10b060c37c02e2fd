// Signed webhook notifications of what workflows do (phase changes, outcomes, rollbacks, drift, approvals awaited).
// The worker receives events from its workflows through a sink and posts each one as JSON, signed like the router's
// requests (HMAC-SHA256 over `<timestamp>.<body>`, see ../router/signing), so a receiver can verify origin and age.
// Delivery is best effort and at least once per worker: retried with backoff on 5xx, 429 and network errors, never
// on other 4xx; a worker crash loses what was still queued (Temporal's history stays the durable record). Receivers
// deduplicate on `id`.
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { signedHeaders } from '../router/signing';
import { type CvmflowEvent, type CvmflowEventType, EVENT_TYPES } from '../workflows/observe-types';

export class NotifyConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

export interface NotifierConfig {
  url: string;
  secret: string;
  /** Only these event types are sent; default all. */
  events?: ReadonlySet<CvmflowEventType>;
  maxAttempts?: number;
  /** First retry delay; doubles per attempt up to 30 s. */
  retryBaseMs?: number;
  /** Events waiting beyond this are dropped, oldest first (a receiver that is down must not grow the worker). */
  maxQueue?: number;
  timeoutMs?: number;
}

/** A delivered notification's body. */
export interface NotificationBody extends CvmflowEvent {
  workflowId: string;
  runId: string;
  workflowType: string;
  namespace: string;
  taskQueue: string;
  at: string;
}

export interface WorkflowRef {
  workflowId: string;
  runId: string;
  workflowType: string;
  namespace: string;
  taskQueue: string;
}

const MIN_SECRET_LENGTH = 16;

/** The notifier the environment asks for; undefined when CVMFLOW_NOTIFY_URL is not set. Problems name the variable. */
export function notifierConfigFromEnv(env: NodeJS.ProcessEnv): NotifierConfig | undefined {
  const url = env.CVMFLOW_NOTIFY_URL?.trim();
  if (!url) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new NotifyConfigError(`CVMFLOW_NOTIFY_URL: not a URL; use e.g. https://hooks.example.com/cvmflow`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    throw new NotifyConfigError(`CVMFLOW_NOTIFY_URL: must be http(s), got ${parsed.protocol}`);
  let secret = env.CVMFLOW_NOTIFY_SECRET;
  if (!secret && env.CVMFLOW_NOTIFY_SECRET_FILE) {
    try {
      secret = readFileSync(env.CVMFLOW_NOTIFY_SECRET_FILE, 'utf8').trim();
    } catch {
      throw new NotifyConfigError(`CVMFLOW_NOTIFY_SECRET_FILE: cannot read ${env.CVMFLOW_NOTIFY_SECRET_FILE}`);
    }
  }
  if (!secret || secret.length < MIN_SECRET_LENGTH)
    throw new NotifyConfigError(
      `CVMFLOW_NOTIFY_SECRET: required with CVMFLOW_NOTIFY_URL, at least ${MIN_SECRET_LENGTH} characters (e.g. openssl rand -hex 32)`,
    );
  let events: Set<CvmflowEventType> | undefined;
  if (env.CVMFLOW_NOTIFY_EVENTS?.trim()) {
    events = new Set();
    for (const raw of env.CVMFLOW_NOTIFY_EVENTS.split(',').map((s) => s.trim())) {
      if (!(EVENT_TYPES as readonly string[]).includes(raw))
        throw new NotifyConfigError(
          `CVMFLOW_NOTIFY_EVENTS: unknown event "${raw}"; allowed: ${EVENT_TYPES.join(', ')}`,
        );
      events.add(raw as CvmflowEventType);
    }
  }
  return { url, secret, ...(events ? { events } : {}) };
}

export interface NotifierStats {
  delivered: number;
  failed: number;
  dropped: number;
}

export class WebhookNotifier {
  private readonly queue: NotificationBody[] = [];
  private sending = false;
  private closed = false;
  /** Set when close() stops waiting: retries end then. */
  private abandoned = false;
  private idle: Promise<void> = Promise.resolve();
  readonly stats: NotifierStats = { delivered: 0, failed: 0, dropped: 0 };

  constructor(
    private readonly config: NotifierConfig,
    private readonly onOutcome: (outcome: keyof NotifierStats, event: NotificationBody) => void = () => {},
  ) {}

  publish(workflow: WorkflowRef, event: CvmflowEvent, nowMs = Date.now()): void {
    if (this.closed || (this.config.events && !this.config.events.has(event.type))) return;
    const body: NotificationBody = { ...event, ...workflow, at: new Date(nowMs).toISOString() };
    this.queue.push(body);
    const max = this.config.maxQueue ?? 1000;
    while (this.queue.length > max) this.count('dropped', this.queue.shift()!);
    if (!this.sending) this.idle = this.drain();
  }

  /** Waits up to `timeoutMs` for queued events to be sent, then gives up on the rest. */
  async close(timeoutMs = 5000): Promise<void> {
    this.closed = true;
    await Promise.race([this.idle, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    this.abandoned = true;
  }

  private count(outcome: keyof NotifierStats, event: NotificationBody): void {
    this.stats[outcome]++;
    this.onOutcome(outcome, event);
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        this.count((await this.deliver(next)) ? 'delivered' : 'failed', next);
      }
    } finally {
      this.sending = false;
    }
  }

  private async deliver(event: NotificationBody): Promise<boolean> {
    const text = JSON.stringify(event);
    const attempts = this.config.maxAttempts ?? 6;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let retryable = true;
      try {
        const res = await request(this.config.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-cvmflow-event': event.type,
            'x-cvmflow-delivery': event.id,
            ...signedHeaders(this.config.secret, text),
          },
          body: text,
          headersTimeout: this.config.timeoutMs ?? 10_000,
          bodyTimeout: this.config.timeoutMs ?? 10_000,
        });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) return true;
        retryable = res.statusCode >= 500 || res.statusCode === 429;
      } catch {
        // Network error or timeout: retried.
      }
      if (!retryable || attempt === attempts || this.abandoned) return false;
      const delay = Math.min(30_000, (this.config.retryBaseMs ?? 1000) * 2 ** (attempt - 1));
      await new Promise((r) => setTimeout(r, delay));
    }
    return false;
  }
}

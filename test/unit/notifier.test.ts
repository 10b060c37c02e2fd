// The webhook notifier: configuration errors name the variable, deliveries are signed, 4xx is final, 5xx is
// retried, filtered events are never sent, and a receiver that is down cannot grow the queue without bound.
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { notifierConfigFromEnv, WebhookNotifier, type WorkflowRef } from '../../src/notify/notifier';
import { signatureProblem } from '../../src/router/signing';
import type { CvmflowEvent } from '../../src/workflows/observe-types';

const SECRET = 'unit-secret-0123456789abcdef';
const WF: WorkflowRef = { workflowId: 'w', runId: 'r', workflowType: 'deployCvm', namespace: 'n', taskQueue: 'q' };
const event = (n: number, type: CvmflowEvent['type'] = 'phase'): CvmflowEvent => ({
  id: `r:${n}`,
  type,
  kind: 'deploy',
  phase: `p${n}`,
});

let server: Server | undefined;
afterEach(() => server?.close());

async function receiver(statuses: number[]) {
  const got: { status: number; body: string; ok: boolean }[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const status = statuses.shift() ?? 204;
      got.push({ status, body, ok: signatureProblem(SECRET, req.headers, body) === undefined });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`, got };
}

describe('notifier configuration', () => {
  it('is off without a URL and names the variable of every problem', () => {
    expect(notifierConfigFromEnv({})).toBeUndefined();
    expect(() => notifierConfigFromEnv({ CVMFLOW_NOTIFY_URL: 'nope' })).toThrow(/^CVMFLOW_NOTIFY_URL: not a URL/);
    expect(() => notifierConfigFromEnv({ CVMFLOW_NOTIFY_URL: 'ftp://x' })).toThrow(/CVMFLOW_NOTIFY_URL: must be http/);
    expect(() => notifierConfigFromEnv({ CVMFLOW_NOTIFY_URL: 'https://x' })).toThrow(
      /^CVMFLOW_NOTIFY_SECRET: required/,
    );
    expect(() => notifierConfigFromEnv({ CVMFLOW_NOTIFY_URL: 'https://x', CVMFLOW_NOTIFY_SECRET: 'short' })).toThrow(
      /at least 16 characters/,
    );
    expect(() =>
      notifierConfigFromEnv({
        CVMFLOW_NOTIFY_URL: 'https://x',
        CVMFLOW_NOTIFY_SECRET: SECRET,
        CVMFLOW_NOTIFY_EVENTS: 'phase,oops',
      }),
    ).toThrow(/CVMFLOW_NOTIFY_EVENTS: unknown event "oops"; allowed: phase, completed/);
    const cfg = notifierConfigFromEnv({
      CVMFLOW_NOTIFY_URL: 'https://x',
      CVMFLOW_NOTIFY_SECRET: SECRET,
      CVMFLOW_NOTIFY_EVENTS: 'failed, drift',
    });
    expect([...(cfg?.events ?? [])]).toEqual(['failed', 'drift']);
  });
});

describe('webhook delivery', () => {
  it('retries 5xx, gives up on 4xx at once, signs every request, keeps order', async () => {
    const { url, got } = await receiver([503, 200, 400]);
    const outcomes: string[] = [];
    const n = new WebhookNotifier({ url, secret: SECRET, retryBaseMs: 10 }, (o, e) => outcomes.push(`${o}:${e.id}`));
    n.publish(WF, event(1));
    n.publish(WF, event(2));
    await n.close();
    expect(got.map((g) => g.status)).toEqual([503, 200, 400]);
    expect(got.every((g) => g.ok)).toBe(true);
    expect(outcomes).toEqual(['delivered:r:1', 'failed:r:2']);
    expect(JSON.parse(got[1]!.body)).toMatchObject({ id: 'r:1', workflowId: 'w', phase: 'p1' });
  });

  it('sends only the configured event types', async () => {
    const { url, got } = await receiver([]);
    const n = new WebhookNotifier({ url, secret: SECRET, events: new Set(['failed']) });
    n.publish(WF, event(1, 'phase'));
    n.publish(WF, event(2, 'failed'));
    await n.close();
    expect(got.map((g) => JSON.parse(g.body).id)).toEqual(['r:2']);
  });

  it('drops the oldest events beyond maxQueue while the receiver is down', async () => {
    const n = new WebhookNotifier({ url: 'http://127.0.0.1:9/', secret: SECRET, maxQueue: 3, maxAttempts: 1 });
    for (let i = 0; i < 10; i++) n.publish(WF, event(i));
    await n.close();
    expect(n.stats.dropped).toBeGreaterThanOrEqual(6);
    expect(n.stats.dropped + n.stats.failed).toBe(10);
  });
});

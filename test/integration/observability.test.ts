// Observability through the real stack: a `cvmflow worker` process with metrics, JSON logs and webhook notifications
// on, a deploy against the simulator, then: the Prometheus endpoint has cvmflow's series, the receiver got signed
// events in order, and the log lines are JSON with workflow ids and no secret.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeploy } from '../../src/client/deploy';
import { freePort } from '../../src/dev/free-port';
import type { NotificationBody } from '../../src/notify/notifier';
import { signatureProblem } from '../../src/router/signing';
import { testSpec } from '../support/specs';
import { startStack, TEST_API_KEY, type TestStack } from '../support/stack';
import { TEST_CODEC_KEYS } from '../support/temporal';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';

const SECRET = 'notify-secret-0123456789abcdef';

interface OtlpTraces {
  resourceSpans: { scopeSpans: { spans: { name: string; traceId: string }[] }[] }[];
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

describe('worker observability', () => {
  let stack: TestStack;
  let worker: WorkerProcess;
  let receiver: Server;
  let metricsUrl: string;
  const received: Received[] = [];
  let failNext = 1;
  const traces: string[] = [];

  beforeAll(async () => {
    stack = await startStack({ sim: { timeScale: 0.01 } });
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.url === '/v1/traces') {
          traces.push(body);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
          return;
        }
        // The first delivery fails: the notifier must retry it.
        if (failNext-- > 0) {
          res.writeHead(503).end();
          return;
        }
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const addr = receiver.address();
    const hookUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hook`;
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    worker = await spawnWorker({
      taskQueue: stack.taskQueue,
      phalaUrl: stack.sim.url,
      apiKey: TEST_API_KEY,
      env: {
        CVMFLOW_METRICS_PORT: String(port),
        CVMFLOW_LOG_FORMAT: 'json',
        CVMFLOW_NOTIFY_URL: hookUrl,
        CVMFLOW_NOTIFY_SECRET: SECRET,
        OTEL_EXPORTER_OTLP_ENDPOINT: hookUrl.replace('/hook', ''),
      },
    });
  });
  afterAll(async () => {
    await worker?.stop();
    receiver?.close();
    await stack?.close();
  });

  it('exposes metrics, sends signed notifications and writes JSON logs after a deploy', async () => {
    const spec = testSpec({ replicas: 2 });
    const handle = await startDeploy(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
    });
    const result = await handle.result();
    expect(result.cvms).toHaveLength(2);

    // Notifications: delivered in order, each signed with the shared secret, ending with `completed`.
    const deadline = Date.now() + 15_000;
    while (!received.some((r) => r.body.includes('"completed"')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const events = received.map((r) => {
      expect(signatureProblem(SECRET, r.headers, r.body)).toBeUndefined();
      expect(signatureProblem('another-secret-0123456789', r.headers, r.body)).toBe('signature does not match');
      return JSON.parse(r.body) as NotificationBody;
    });
    const mine = events.filter((e) => e.workflowId === handle.workflowId);
    const phases = mine.filter((e) => e.type === 'phase').map((e) => e.phase);
    expect(phases).toEqual(expect.arrayContaining(['provision', 'commit', 'running', 'replicate']));
    expect(phases.indexOf('provision')).toBeLessThan(phases.indexOf('replicate'));
    expect(mine.at(-1)).toMatchObject({ type: 'completed', kind: 'deploy', app: spec.name, workflowType: 'deployCvm' });
    expect(new Set(mine.map((e) => e.id)).size).toBe(mine.length);
    const provision = mine.find((e) => e.phase === 'commit');
    expect(provision?.previousPhase).toBeDefined();
    expect(provision?.previousPhaseMs).toBeGreaterThanOrEqual(0);

    // Metrics: cvmflow's series next to the SDK's.
    const text = await (await fetch(metricsUrl)).text();
    expect(text).toMatch(/cvmflow_workflows_total\{[^}]*kind="deploy"[^}]*outcome="completed"[^}]*\} [1-9]/);
    expect(text).toMatch(
      /cvmflow_api_calls_total\{[^}]*endpoint="POST \/cvms\/provision"[^}]*status="200"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(/cvmflow_phase_duration_ms_bucket\{[^}]*phase="running"/);
    expect(text).toMatch(/cvmflow_sse_streams_open/);
    expect(text).toMatch(/cvmflow_notifications_total\{[^}]*outcome="delivered"/);
    expect(text).toMatch(/temporal_workflow_completed/);

    // Logs: JSON lines with workflow context, never the API key or the codec key. The workflow's last line goes
    // through a sink after its task completed, so it may reach the output just after the client has the result.
    const jsonLines = () =>
      worker
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'));
    const hasFinishLine = () =>
      jsonLines()
        .map((l) => JSON.parse(l))
        .some(
          (l) => l.workflowId === handle.workflowId && l.runId && l.workflowType === 'deployCvm' && l.app === spec.name,
        );
    for (const until = Date.now() + 10_000; !hasFinishLine() && Date.now() < until; )
      await new Promise((r) => setTimeout(r, 100));
    const lines = jsonLines();
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    expect(hasFinishLine()).toBe(true);
    expect(worker.output()).not.toContain(TEST_API_KEY);
    expect(worker.output()).not.toContain(SECRET);

    // Traces: OTLP/HTTP JSON with the workflow's span and its activities' spans in one trace.
    while (!traces.join('').includes('RunWorkflow:deployCvm') && Date.now() < deadline + 10_000)
      await new Promise((r) => setTimeout(r, 200));
    const spans = traces.flatMap((t) =>
      (JSON.parse(t) as OtlpTraces).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)),
    );
    const run = spans.find((sp) => sp.name === 'RunWorkflow:deployCvm');
    expect(run, spans.map((sp) => sp.name).join(', ')).toBeDefined();
    const activities = spans.filter((sp) => sp.name.startsWith('RunActivity:') && sp.traceId === run!.traceId);
    expect(activities.length).toBeGreaterThan(0);
    expect(traces.join('')).not.toContain(TEST_API_KEY);
  });
});

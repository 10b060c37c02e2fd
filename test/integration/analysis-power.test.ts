// The analysis after a power schedule starts CVMs (issue 23) on the real stack: Temporal dev server, worker with the
// real activities, the simulator over HTTP and a real Prometheus scraping the CVMs' /metrics. The schedule runs on a
// scaled clock (60×); the started CVMs' error rate is set through the simulator's admin API, so the analysis fails —
// and is reported in `power status` and the schedule's events, while the CVMs stay as the calendar wants them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPowerSchedule, deletePowerSchedule, getPowerStatus } from '../../src/client/power';
import { validateSpec } from '../../src/spec';
import type { PowerScheduleSpec } from '../../src/spec/power';
import { type PowerStatus, powerWorkflowId } from '../../src/workflows/power-types';
import { startPrometheus, type TestPrometheus } from '../support/prometheus';
import { recordHistory } from '../support/replay';
import { startStack, type TestStack } from '../support/stack';
import { uniqueId } from '../support/temporal';

const COMPOSE = 'services:\n  web:\n    image: nginx:1.27-alpine\n';
const ERROR_RATE_QUERY =
  'sum(rate(http_requests_total{cvm=~"{cvm}",code="500"}[5s])) / sum(rate(http_requests_total{cvm=~"{cvm}"}[5s]))';

let stack: TestStack;
let prometheus: TestPrometheus;

beforeAll(async () => {
  stack = await startStack();
  await stack.startWorker();
  prometheus = await startPrometheus({ sdUrl: `${stack.sim.appsUrl}/sd/prometheus` });
});
afterAll(async () => {
  await prometheus?.stop();
  await stack?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const view = (cvmId: string) => stack.sim.cvms().find((c) => c.vmUuid === cvmId)!;

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function createCvm(name: string): Promise<string> {
  const p = await stack.phala.provisionCvm({ name, compose_file: { docker_compose_file: COMPOSE }, node_id: 1 });
  const cvm = await stack.phala.commitCvmProvision({ app_id: p.app_id!, compose_hash: p.compose_hash });
  await until(`${name} running`, async () => view(cvm.vm_uuid!).status === 'running');
  return cvm.vm_uuid!;
}

async function setErrorRate(glob: string, errorRate: number): Promise<void> {
  const res = await fetch(`${stack.sim.adminUrl}/admin/apps/rules`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.sim.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ match: { name: glob }, errorRate }),
  });
  expect(res.status).toBe(201);
}

describe('analysis after a power schedule starts CVMs', () => {
  it('measures the started CVMs; a failed analysis is reported (status, events) and the CVMs stay running', async () => {
    const prefix = uniqueId('pwa');
    const cvms = [await createCvm(`${prefix}-0`), await createCvm(`${prefix}-1`)];
    await setErrorRate(`${prefix}-*`, 0.5);
    const spec: PowerScheduleSpec = validateSpec(
      {
        apiVersion: 'cvmflow/v1',
        kind: 'PowerSchedule',
        name: uniqueId('pwa'),
        targets: { cvms },
        // Stopped at apply, started two calendar minutes later (two real seconds at 60×).
        calendar: {
          timezone: 'UTC',
          default: 'stopped',
          periods: [{ days: ['mon'], start: '09:02', end: '18:00', state: 'running' }],
        },
        analysis: {
          afterStart: {
            metrics: [
              { name: 'smoke', provider: { job: { command: ['sh', '-c', 'test -n "$ANALYSIS_CVM"'] } }, count: 1 },
              {
                name: 'error-rate',
                provider: { prometheus: { address: prometheus.url, query: ERROR_RATE_QUERY } },
                successCondition: 'result[0] < 0.05',
                initialDelay: '4s',
                interval: '1s',
                count: 2,
                timeout: '2s',
              },
            ],
          },
        },
      },
      { source: 'test', baseDir: '.', kinds: ['PowerSchedule'] },
    );
    const clock = { realAnchorMs: Date.now(), virtualAnchorMs: Date.parse('2026-03-02T09:00:00Z'), speed: 60 };
    await applyPowerSchedule(spec, { client: stack.client, taskQueue: stack.taskQueue, clock });

    const status = await until('the analysis after the start', async () => {
      const s = await getPowerStatus(stack.client, spec.name);
      const a = s.analyses?.at(-1);
      return a && a.verdict !== 'measuring' && s;
    });
    const [a] = status.analyses!;
    expect(a).toMatchObject({ action: 'start', verdict: 'fail' });
    expect(a!.cvms.map((c) => c.cvmId).sort()).toEqual([...cvms].sort());
    expect(a!.reason).toMatch(
      /^metric error-rate: value \[0\.\d+\]: successCondition "result\[0\] < 0\.05" is false \(1 failed/,
    );
    expect(a!.metrics.map((m) => [m.name, m.verdict])).toEqual([
      ['smoke', 'pass'],
      ['error-rate', 'fail'],
    ]);
    // The query as sent names both started CVMs.
    expect(a!.metrics[1]!.measurements.at(-1)!.query).toContain(`cvm=~"${cvms.join('|')}"`);
    const events = (s: PowerStatus) => s.recent.filter((r) => r.kind === 'analysis').map((r) => r.reason);
    expect(events(status)).toContainEqual(
      expect.stringMatching(/^analysis after start of .*: fail: metric error-rate/),
    );
    expect(events(status)).toContainEqual(expect.stringMatching(/^metric smoke \(job\): pass/));
    // Nothing undone: the calendar wants them running, and running they stay.
    await sleep(1000);
    for (const id of cvms) expect(view(id).status).toBe('running');
    expect(status.cvms.every((c) => c.desired === 'running')).toBe(true);

    await deletePowerSchedule(stack.client, spec.name);
    await recordHistory(stack.client.workflow.getHandle(powerWorkflowId(spec.name)), 'power-after-start-analysis');
  });
});

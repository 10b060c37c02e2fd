// `cvmflow demo` (npm run demo) end to end: the whole narrated tour on its own embedded stack, in well under two
// minutes, exiting 0 with every step ok, a Temporal UI link per workflow, and nothing left running. With --json its
// stdout is the JSON summary alone, even when the in-process worker's Temporal Core logs a warning meanwhile. Where
// Prometheus is installed (CI: scripts/ensure-prometheus.sh) the rollout step's waves pass their error-rate analysis
// and a second rollout, made to fail half its requests, is stopped by it and reverted.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import type { DemoAnalysis } from '../../src/demo/types';
import { findPrometheus } from '../../src/dev/prometheus';
import { descendants, isAlive, runInBackground } from './cli';

interface Row {
  title: string;
  ok: boolean;
  workflowId: string;
  url?: string;
  seconds: number;
  analysis?: DemoAnalysis;
}

/** `[0.5]` → 0.5: the value of a one-series answer as the analysis records it. */
const measured = (value: string) => Number(/^\[(.+)\]$/.exec(value)?.[1]);

const dataDir = mkdtempSync(join(tmpdir(), 'cvmflow-demo-e2e-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/**
 * Starts a workflow whose first task fails (deployCvm without its input), which Temporal Core (the SDK's Rust part)
 * reports with a WARN line "Failing workflow task" — the kind of line that once landed on the demo's stdout — and
 * returns once the failure is in the history, i.e. after Core has logged it.
 */
async function provokeCoreWarning(): Promise<void> {
  const lock = JSON.parse(readFileSync(join(dataDir, 'dev.lock'), 'utf8')) as { temporalAddress: string };
  const connection = await Connection.connect({ address: lock.temporalAddress });
  try {
    const client = new Client({ connection, namespace: 'default' });
    const handle = await client.workflow.start('deployCvm', {
      taskQueue: 'cvmflow',
      workflowId: 'demo-e2e-failing-task',
      args: [],
    });
    const giveUp = Date.now() + 30_000;
    for (;;) {
      const history = await handle.fetchHistory();
      if (history.events?.some((e) => e.workflowTaskFailedEventAttributes)) break;
      if (Date.now() > giveUp) throw new Error('the failing workflow task never reached the history');
      await new Promise((r) => setTimeout(r, 200));
    }
    await handle.terminate('the e2e test provoked a workflow task failure');
  } finally {
    await connection.close();
  }
}

describe('cvmflow demo', () => {
  it('completes the tour, prints the summary and the UI links, keeps stdout pure JSON, and exits 0', async () => {
    const started = Date.now();
    // --keep holds the stack up after the tour, so the test can make Core log before the summary is printed.
    const demo = runInBackground(['demo', '--json', '--keep', '--data-dir', dataDir]);
    // Collected while it runs: the processes the demo's stack started must all be gone afterwards.
    const seen = new Set<number>();
    const sampler = setInterval(() => {
      for (const pid of descendants(demo.child.pid!)) seen.add(pid);
    }, 250);
    await demo.waitFor('The stack stays up', 120_000, 'stderr');
    expect(Date.now() - started).toBeLessThan(120_000);
    await provokeCoreWarning();
    demo.child.kill('SIGINT');
    const code = await demo.exited;
    clearInterval(sampler);
    expect(code, demo.stderr()).toBe(0);

    // stdout must be exactly the JSON summary (a script pipes it to jq); show it whole when it is not.
    let parsed: { steps: Row[] };
    try {
      parsed = JSON.parse(demo.stdout());
    } catch (err) {
      throw new Error(`demo --json printed more than JSON (${err}):\n${demo.stdout().slice(0, 2000)}`);
    }
    const { steps } = parsed;
    expect(steps.map((s) => s.title)).toEqual([
      'deploy with replicas',
      'update the compose',
      'attestation gate',
      'blue-green traffic switch',
      'rollout + failure budget',
      'power schedule + override',
    ]);
    for (const s of steps) {
      expect(s.ok, s.title).toBe(true);
      expect(s.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/namespaces/default/workflows/${s.workflowId}/`));
    }
    const narration = demo.stderr();
    expect(narration).toContain('Temporal UI: http://127.0.0.1:');
    // The dashboard's address beside it, with this run's token in the #fragment (never sent to a server).
    expect(narration).toMatch(/Dashboard: +http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]{16,}/);
    expect(narration).toContain('Summary');

    const rollout = steps.find((s) => s.title === 'rollout + failure budget')!.analysis!;
    if (findPrometheus()) {
      expect(rollout).toMatchObject({ provider: 'prometheus', condition: 'result[0] < 0.05', verdict: 'pass' });
      // Waves of 2, one CVM crashed and reverted: three waves measured, each over its healthy CVMs' new version.
      expect(rollout.waves!.map((w) => w.verdict)).toEqual(['pass', 'pass', 'pass']);
      for (const w of rollout.waves!) {
        expect(measured(w.value), w.value).toBe(0);
        expect(w.query).toMatch(/http_requests_total\{cvm=~"[\w|-]+",version="[0-9a-f]{64}"/);
      }
      const failing = rollout.failing!;
      expect(failing.analysis.verdict).toBe('fail');
      const value = measured(failing.analysis.waves![0]!.value);
      expect(value).toBeGreaterThan(0.3);
      expect(value).toBeLessThan(0.7);
      expect(failing.outcome).toMatch(
        /wave 0 analysis fail: metric error-rate: value \[0\.\d+\]: successCondition "result\[0\] < 0\.05" is false.*revert of 1 CVMs: 1 reverted/,
      );
      expect(narration).toMatch(/wave 0 error rate \[0\.\d+\] — result\[0\] < 0\.05: fail/);
    } else {
      expect(rollout).toMatchObject({ provider: 'none', verdict: 'none' });
      expect(narration).toContain('Prometheus is not installed');
    }
    expect([...seen].filter(isAlive)).toEqual([]);
  }, 180_000);
});

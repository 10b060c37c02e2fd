// `cvmflow demo` (npm run demo) end to end: the whole narrated tour on its own embedded stack, in well under two
// minutes, exiting 0 with every step ok, a Temporal UI link per workflow, and nothing left running.
import { describe, expect, it } from 'vitest';
import { descendants, isAlive, runInBackground } from './cli';

interface Row {
  title: string;
  ok: boolean;
  workflowId: string;
  url?: string;
  seconds: number;
}

describe('cvmflow demo', () => {
  it('completes the tour, prints the summary and the UI links, and exits 0', async () => {
    const started = Date.now();
    const demo = runInBackground(['demo', '--json']);
    // Collected while it runs: the processes the demo's stack started must all be gone afterwards.
    const seen = new Set<number>();
    const sampler = setInterval(() => {
      for (const pid of descendants(demo.child.pid!)) seen.add(pid);
    }, 250);
    const code = await demo.exited;
    clearInterval(sampler);
    expect(code, demo.stderr()).toBe(0);
    expect(Date.now() - started).toBeLessThan(120_000);

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
    expect([...seen].filter(isAlive)).toEqual([]);
  }, 150_000);
});

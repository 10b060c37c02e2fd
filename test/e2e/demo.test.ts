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

    const { steps } = JSON.parse(demo.stdout()) as { steps: Row[] };
    expect(steps.map((s) => s.title)).toEqual(
      expect.arrayContaining(['deploy with replicas', 'update the compose', 'power schedule + override']),
    );
    for (const s of steps) {
      expect(s.ok, s.title).toBe(true);
      expect(s.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/namespaces/default/workflows/${s.workflowId}/`));
    }
    const narration = demo.stderr();
    expect(narration).toContain('Temporal UI: http://127.0.0.1:');
    expect(narration).toContain('Summary');
    expect([...seen].filter(isAlive)).toEqual([]);
  }, 150_000);
});

// The chaos suite's quick mode (chaos/run.ts) with a fixed seed: the real stack — its own Temporal dev server on a
// database file, the simulator, anvil behind a TCP proxy, three `cvmflow worker` processes — under worker SIGKILLs, a
// Temporal restart, a chain RPC outage and API faults; every invariant must hold.
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../chaos/report';
import { chaosOptions, runChaos } from '../../chaos/run';

describe('chaos, quick mode', () => {
  it('seed 7: every invariant holds after kills, a server restart, an RPC outage and API faults', async () => {
    const lines: string[] = [];
    const summary = await runChaos({ ...chaosOptions(['--quick', '--seed', '7']), log: (l) => lines.push(l) });
    const report = renderReport(summary);
    // What was injected is part of the claim: a run that injected nothing would prove nothing.
    expect(summary.faults.workerKills, report).toBeGreaterThanOrEqual(6);
    expect(summary.faults.temporalRestarts, report).toBe(1);
    expect(summary.faults.chainOutages, report).toBe(1);
    expect(summary.faults.simFaultsFired, report).toBeGreaterThan(0);
    expect(summary.workflows, report).toBeGreaterThanOrEqual(11);
    for (const inv of summary.invariants)
      expect({ [inv.name]: inv.violations }, `${report}\n${lines.join('\n')}`).toEqual({ [inv.name]: [] });
    expect(summary.invariants.map((i) => i.held)).toEqual([true, true, true, true, true, true]);
  }, 150_000);
});

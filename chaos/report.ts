// The run's report: what was driven, what was injected, and the invariants as a table.
import type { FaultCounts } from './faults';
import type { InvariantResult } from './invariants';
import type { ScenarioRecord } from './scenarios';

export interface ChaosSummary {
  seed: number;
  command: string;
  durationMs: number;
  scenarios: ScenarioRecord[];
  workflows: number;
  faults: FaultCounts;
  invariants: InvariantResult[];
  ok: boolean;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(rows[0]!), sep, ...rows.slice(1).map(line)].join('\n');
}

export function renderReport(s: ChaosSummary): string {
  const kinds = new Map<string, number>();
  for (const r of s.scenarios) kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
  const f = s.faults;
  const out: string[] = [];
  out.push(`chaos run, seed ${s.seed}, ${(s.durationMs / 1000).toFixed(0)} s — reproduce with: ${s.command}`);
  out.push('');
  out.push(
    `scenarios: ${s.scenarios.length} (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}); workflows started by them: ${s.workflows}`,
  );
  out.push(
    `injected: ${f.workerKills} worker SIGKILLs (${f.workerRestarts} restarts), ${f.temporalRestarts} Temporal server restart (${f.temporalDownMs} ms down), ${f.chainOutages} chain RPC outage (${(f.chainDownMs / 1000).toFixed(1)} s), ${f.simFaultRules} simulator fault rules injected (fired on ${f.simFaultsFired} requests)`,
  );
  out.push(
    `fault types: ${Object.entries(f.byType)
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ')}`,
  );
  out.push('');
  const rows = [['invariant', 'held', 'checked', 'first violations']];
  for (const i of s.invariants) rows.push([i.name, i.held ? 'yes' : 'NO', i.checked, i.violations.join('; ')]);
  out.push(table(rows));
  out.push('');
  out.push(s.ok ? `all ${s.invariants.length} invariants held` : 'INVARIANTS BROKEN');
  return out.join('\n');
}

// What a benchmark returns, how goals are judged, and how the suite's results are rendered (JSON and Markdown).

export type Figure = number | string | boolean | null;

export interface Goal {
  figure: string;
  op: '<=' | '>=' | '==';
  target: number;
}

export interface GoalOutcome extends Goal {
  actual: Figure;
  met: boolean;
}

export interface BenchResult {
  name: string;
  /** What was measured, in one sentence (shown under the table). */
  what: string;
  settings: Record<string, unknown>;
  figures: Record<string, Figure>;
  goals: GoalOutcome[];
  notes: string[];
  durationS: number;
  /** Set when the benchmark could not finish or one of its invariants broke. */
  error?: string;
}

/** What a benchmark module hands back; the suite judges the goals and times it. */
export interface BenchOutput {
  name: string;
  what: string;
  settings: Record<string, unknown>;
  figures: Record<string, Figure>;
  goals: Goal[];
  notes: string[];
}

/** A correctness condition of a benchmark: when it breaks, the figures mean nothing, so the benchmark fails. */
export class InvariantError extends Error {
  readonly code = 'BENCH_INVARIANT';
}

export function invariant(ok: unknown, message: string): asserts ok {
  if (!ok) throw new InvariantError(`invariant broken: ${message}`);
}

export function judge(goals: readonly Goal[], figures: Record<string, Figure>): GoalOutcome[] {
  return goals.map((g) => {
    const actual = figures[g.figure] ?? null;
    const v = typeof actual === 'number' ? actual : Number.NaN;
    const met = g.op === '<=' ? v <= g.target : g.op === '>=' ? v >= g.target : v === g.target;
    return { ...g, actual, met };
  });
}

export function formatFigure(v: Figure): string {
  if (v === null) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 100) / 100);
  return String(v);
}

const OP_TEXT: Record<Goal['op'], string> = { '<=': '≤', '>=': '≥', '==': '=' };

/** One row per figure: benchmark | figure | value | goal | met. */
export function renderTable(results: readonly BenchResult[]): string {
  const rows: string[][] = [['benchmark', 'figure', 'value', 'goal', 'met']];
  for (const r of results) {
    if (r.error) {
      rows.push([r.name, 'ERROR', r.error.split('\n')[0]!.slice(0, 160), '', '✗']);
      continue;
    }
    for (const [figure, value] of Object.entries(r.figures)) {
      const goal = r.goals.find((g) => g.figure === figure);
      rows.push([
        r.name,
        figure,
        formatFigure(value),
        goal ? `${OP_TEXT[goal.op]} ${goal.target}` : '',
        goal ? (goal.met ? '✓' : '✗') : '',
      ]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => [...row[c]!].length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, c) => cell + ' '.repeat(widths[c]! - [...cell].length)).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(rows[0]!), sep, ...rows.slice(1).map(line)].join('\n');
}

export interface SuiteReport {
  generatedAt: string;
  mode: 'full' | 'quick';
  command: string;
  machine: Record<string, unknown>;
  durationS: number;
  benchmarks: Record<string, Omit<BenchResult, 'name'>>;
}

export function renderMarkdown(report: SuiteReport, results: readonly BenchResult[]): string {
  const m = report.machine;
  const out = [
    `# cvmflow benchmark results (${report.mode})`,
    '',
    `Generated ${report.generatedAt} by \`${report.command}\` in ${report.durationS} s on ${m.cpus}× ${m.cpuModel}, ` +
      `${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, Temporal CLI ${m.temporalCli}. Absolute times are noisy on a ` +
      'shared 2-core machine; the ratios compare figures measured in the same run.',
    '',
    renderTable(results),
    '',
  ];
  for (const r of results) {
    out.push(`## ${r.name}`, '', r.what, '');
    if (r.error) out.push('```', r.error, '```', '');
    const settings = Object.entries(r.settings).map(([k, v]) => `\`${k}\`=${JSON.stringify(v)}`);
    if (settings.length) out.push(`Settings: ${settings.join(', ')}.`, '');
    for (const n of r.notes) out.push(`- ${n}`);
    if (r.notes.length) out.push('');
  }
  return out.join('\n');
}

// Bad input to `cvmflow ui`, `cvmflow serve --ui`, `cvmflow dev --dashboard-port` and `cvmflow power preview`, in
// process: exit 2 and one line naming the flag, before any server starts or Temporal is contacted.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';

const dir = mkdtempSync(join(tmpdir(), 'cvmflow-ui-cli-'));
const schedule = join(dir, 'schedule.yaml');
writeFileSync(
  schedule,
  'apiVersion: cvmflow/v1\nkind: PowerSchedule\nname: office\ntargets:\n  apps: [api]\ncalendar:\n  timezone: Europe/Berlin\n  default: stopped\n  periods:\n    - days: [mon-fri]\n      start: "08:00"\n      end: "18:00"\n      state: running\n',
);

async function run(args: string[], env: Record<string, string | undefined> = {}) {
  const err: string[] = [];
  const out: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
  try {
    const code = await main(['node', 'cvmflow', ...args]);
    return { code, stderr: err.join(''), stdout: out.join('') };
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    vi.restoreAllMocks();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('bad input', () => {
  it.each([
    [['ui', '--port', '70000'], '--port'],
    [['ui', '--temporal-ui', 'not a url'], '--temporal-ui'],
    [['ui', '--host', '0.0.0.0'], 'CVMFLOW_UI_TOKEN'],
    [['ui', '--refresh-ms', '0'], '--refresh-ms'],
    [['dev', '--dashboard-port', '-1'], '--dashboard-port'],
    [['power', 'preview'], '--file'],
    [['power', 'preview', '-f', schedule, '--days', '63'], '--days'],
    [['power', 'preview', '-f', schedule, '--from', 'tomorrow'], '--from'],
    [['power', 'preview', '-f', schedule, '--tz', 'Mars/Base'], '--tz'],
  ])('%j → exit 2 naming %s', async (args, mentions) => {
    const r = await run(args, { CVMFLOW_UI_TOKEN: undefined });
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('(run with --help'));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain(mentions);
  });
});

describe('power preview', () => {
  it('prints JSON and writes the SVG', async () => {
    const svg = join(dir, 'week.svg');
    const r = await run(['power', 'preview', '-f', schedule, '--from', '2026-10-22', '--json', '--svg', svg]);
    expect(r.code, r.stderr).toBe(0);
    const preview = JSON.parse(r.stdout) as { week: { dstDays: { date: string }[]; transitions: unknown[] } };
    // Berlin leaves summer time on Sunday 2026-10-25: a 25-hour day.
    expect(preview.week.dstDays.map((d) => d.date)).toEqual(['2026-10-25']);
    expect(preview.week.transitions).toHaveLength(10);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg[\s\S]*class="dst"[\s\S]*<\/svg>$/);
  });
});

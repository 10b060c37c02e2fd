// `cvmflow power preview -f schedule.yaml`: a schedule's week before anything is applied — each app's transitions in
// the schedule's zone and the viewer's, DST days marked, the hours off — and, with --svg, the same drawing as the
// dashboard's power page. Reads the spec file only: no Temporal, no API.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DateTime } from 'luxon';
import { describeSource } from '../../calendar';
import { layoutWeek, timeIn, type WeekLayout } from '../../calendar/week';
import { loadSpecFile } from '../../spec';
import type { PowerScheduleSpec } from '../../spec/power';
import { weekSvg } from '../../ui/web/week-svg';
import { UsageError } from '../errors';
import { positiveIntFlag } from '../flags';
import { report } from '../output';

interface PreviewFlags {
  file?: string;
  from?: string;
  days: number;
  svg?: string;
  tz?: string;
  json?: boolean;
}

const validZone = (zone: string) => DateTime.now().setZone(zone).isValid;

function fromInstant(text: string | undefined, timezone: string): number {
  if (text === undefined) return Date.now();
  const hasOffset = /(Z|[+-]\d{2}:?\d{2})$/i.test(text);
  const parsed = hasOffset ? DateTime.fromISO(text, { setZone: true }) : DateTime.fromISO(text, { zone: timezone });
  if (!parsed.isValid)
    throw new UsageError(
      `--from: ${JSON.stringify(text)} is not a date: give ISO 8601, e.g. 2026-03-30 (in ${timezone}) or 2026-03-30T00:00Z`,
    );
  return parsed.toMillis();
}

/** Whether the local day holding `ms` in `zone` is not 24 hours long (a DST change happens on it). */
function dstDay(ms: number, zone: string): boolean {
  const day = DateTime.fromMillis(ms, { zone }).startOf('day');
  return day.plus({ days: 1 }).toMillis() - day.toMillis() !== 86_400_000;
}

const at = (ms: number, zone: string) => DateTime.fromMillis(ms, { zone }).toFormat('ccc yyyy-MM-dd HH:mm ZZZZ');

export interface PowerPreview {
  name: string;
  timezone: string;
  viewerZone: string;
  apps: string[];
  cvms: string[];
  week: WeekLayout;
  hoursOffPerCvm: number;
}

export function previewLines(p: PowerPreview): string[] {
  const { week } = p;
  const targets = [...p.apps, ...p.cvms.map((c) => `CVM ${c}`)];
  const lines = [
    `${p.name}: ${week.days} days from ${at(week.fromMs, week.timezone)} in ${week.timezone} (yours: ${p.viewerZone})`,
    `  starts ${week.segments[0]!.state} (${describeSource(week.segments[0]!.source)})`,
  ];
  for (const target of targets) {
    lines.push(`  ${target}:`);
    if (week.transitions.length === 0) lines.push('    no transition in these days');
    for (const t of week.transitions) {
      const marks = [
        dstDay(t.atMs, week.timezone) ? ` [DST day in ${week.timezone}]` : '',
        p.viewerZone !== week.timezone && dstDay(t.atMs, p.viewerZone) ? ` [DST day in ${p.viewerZone}]` : '',
      ].join('');
      lines.push(
        `    ${at(t.atMs, week.timezone)} · ${at(t.atMs, p.viewerZone)} → ${t.state}, ${describeSource(t.source)}${marks}`,
      );
    }
  }
  for (const d of week.dstDays)
    lines.push(
      `  DST: ${d.date} in ${week.timezone}: UTC offset ${d.offsetBefore / 60} h → ${d.offsetAfter / 60} h (a ${24 - (d.offsetAfter - d.offsetBefore) / 60}-hour day)`,
    );
  lines.push(
    `  stopped ${p.hoursOffPerCvm.toFixed(1)} h of ${((week.toMs - week.fromMs) / 3_600_000).toFixed(0)} h per CVM`,
  );
  return lines;
}

export function registerPowerPreview(power: Command): void {
  power
    .command('preview')
    .description("a schedule's week before it is applied: transitions in its zone and yours, DST days, hours off")
    .option('-f, --file <schedule.yaml>', 'PowerSchedule spec (YAML or JSON); see examples/power.yaml')
    .option('--from <date>', "first day (ISO 8601; without an offset, in the schedule's zone); default today")
    .option('--days <n>', 'how many days (1-62)', positiveIntFlag('--days'), 7)
    .option('--svg <file>', 'also draw the week as SVG (the dashboard’s drawing) into this file')
    .option('--tz <zone>', 'your IANA time zone for the second column (default: this machine’s)')
    .option('--json', 'print JSON')
    .action((flags: PreviewFlags) => {
      if (!flags.file)
        throw new UsageError('--file <schedule.yaml> is required (e.g. cvmflow power preview -f examples/power.yaml)');
      if (flags.days > 62) throw new UsageError('--days: at most 62 days, e.g. --days 7');
      const viewerZone = flags.tz ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (!validZone(viewerZone))
        throw new UsageError(`--tz: ${JSON.stringify(viewerZone)} is not an IANA time zone, e.g. America/New_York`);
      const spec = loadSpecFile(flags.file, { kinds: ['PowerSchedule'] }) as PowerScheduleSpec;
      const week = layoutWeek(spec.calendar, fromInstant(flags.from, spec.calendar.timezone), flags.days);
      const preview: PowerPreview = {
        name: spec.name,
        timezone: spec.calendar.timezone,
        viewerZone,
        apps: spec.targets.apps,
        cvms: spec.targets.cvms,
        week,
        hoursOffPerCvm: timeIn(week, 'stopped') / 3_600_000,
      };
      if (flags.svg) {
        const rows = [...spec.targets.apps, ...spec.targets.cvms];
        writeFileSync(flags.svg, weekSvg({ layout: week, rows, viewerZone }));
      }
      report(flags.json, preview, () => previewLines(preview));
    });
}

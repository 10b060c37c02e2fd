// The week layout behind `cvmflow power preview` and the dashboard's power page: segments that tile the span,
// transitions from the calendar itself, DST days found in the schedule's zone, hours off, and the SVG drawing.
import { describe, expect, it } from 'vitest';
import type { Calendar } from '../../src/calendar';
import { layoutWeek, timeIn } from '../../src/calendar/week';
import { previewLines } from '../../src/cli/commands/power-preview';
import { weekSvg } from '../../src/ui/web/week-svg';

const office: Calendar = {
  timezone: 'Europe/Berlin',
  default: 'stopped',
  periods: [{ days: ['mon-fri'], start: '07:30', end: '19:00', state: 'running', note: 'office <hours>' }],
  windows: [{ start: '2026-03-31T12:00', end: '2026-03-31T12:30', state: 'stopped', note: 'maintenance' }],
};
const H = 3_600_000;

describe('layoutWeek', () => {
  it('tiles a week across the spring DST change with segments, transitions and the 23-hour day', () => {
    const from = Date.parse('2026-03-27T10:00:00Z'); // a Friday; the week starts at local midnight
    const week = layoutWeek(office, from, 7);
    expect(new Date(week.fromMs).toISOString()).toBe('2026-03-26T23:00:00.000Z');
    expect(week.toMs - week.fromMs).toBe(167 * H);
    expect(week.dstDays).toEqual([{ date: '2026-03-29', offsetBefore: 60, offsetAfter: 120 }]);
    for (let i = 1; i < week.segments.length; i++) expect(week.segments[i]!.startMs).toBe(week.segments[i - 1]!.endMs);
    expect(week.segments[0]!.startMs).toBe(week.fromMs);
    expect(week.segments.at(-1)!.endMs).toBe(week.toMs);
    // Fri + Mon-Thu office hours (11.5 h each), less the half-hour window on Tuesday.
    expect(timeIn(week, 'running')).toBe(5 * 11.5 * H - 0.5 * H);
    expect(timeIn(week, 'stopped')).toBe(167 * H - timeIn(week, 'running'));
    // After the change, 07:30 in Berlin is 05:30 UTC.
    const monday = week.transitions.find((t) => new Date(t.atMs).toISOString().startsWith('2026-03-30'))!;
    expect(new Date(monday.atMs).toISOString()).toBe('2026-03-30T05:30:00.000Z');
    expect(week.transitions.some((t) => t.source.kind === 'window')).toBe(true);
  });

  it('refuses a span outside 1-62 days', () => {
    expect(() => layoutWeek(office, 0, 0)).toThrow(/days/);
    expect(() => layoutWeek(office, 0, 63)).toThrow(/days/);
  });
});

describe('power preview text and drawing', () => {
  const week = layoutWeek(office, Date.parse('2026-03-27T10:00:00Z'), 7);

  it('prints each app with its transitions in both zones, DST days marked', () => {
    const lines = previewLines({
      name: 'office',
      timezone: office.timezone,
      viewerZone: 'America/New_York',
      apps: ['api'],
      cvms: [],
      week,
      hoursOffPerCvm: timeIn(week, 'stopped') / H,
    });
    const text = lines.join('\n');
    expect(text).toContain('  api:');
    expect(text).toMatch(/Mon 2026-03-30 07:30 GMT\+2 · Mon 2026-03-30 01:30 EDT → running/);
    expect(text).toContain('DST: 2026-03-29 in Europe/Berlin: UTC offset 1 h → 2 h (a 23-hour day)');
    expect(lines.filter((l) => l.includes('[DST day in Europe/Berlin]'))).toEqual([]);
    expect(text).toContain('of 167 h per CVM');
  });

  it('draws every segment, marks the DST day and escapes the labels', () => {
    const svg = weekSvg({
      layout: week,
      rows: ['api', 'web<b>'],
      viewerZone: 'Asia/Tokyo',
      nowMs: week.fromMs + 30 * H,
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/class="span /g)?.length).toBe(2 * week.segments.length);
    expect(svg).toContain('class="dst"');
    expect(svg).toContain('class="now"');
    expect(svg).toContain('Asia/Tokyo (you)');
    expect(svg).toContain('stroke-dasharray'); // the one-off window
    expect(svg).toContain('web&lt;b&gt;');
    expect(svg).not.toContain('web<b>');
  });
});

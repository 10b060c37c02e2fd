// One drawing of a power calendar's week, as SVG text: a row per app with the desired state as coloured spans,
// one-off windows outlined, overrides as a band above the row, DST days marked, day ticks in the schedule's zone
// along the top and in the viewer's zone along the bottom, and a "now" line. Pure (Intl only), so `cvmflow power
// preview --svg` on Node and the dashboard in the browser draw the very same picture.
import type { WeekLayout } from '../../calendar/week';

export interface OverrideBand {
  label: string;
  state: string;
  startMs: number;
  endMs: number;
}

export interface WeekDrawing {
  layout: WeekLayout;
  /** Row labels; a schedule's calendar is the same for every app it targets. */
  rows: string[];
  viewerZone: string;
  overrides?: OverrideBand[];
  nowMs?: number;
}

export const STATE_COLOURS: Record<string, string> = {
  running: '#2e9d5b',
  stopped: '#9aa3ad',
  restart: '#e08a1e',
};

const LABEL_W = 140;
const PLOT_W = 840;
const ROW_H = 26;
const BAND_H = 8;
const TOP = 34;

const esc = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function dayLabel(ms: number, zone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, weekday: 'short', day: '2-digit', month: 'short' }).format(
    ms,
  );
}

function timeLabel(ms: number, zone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit' }).format(ms);
}

/** Local midnights of `zone` within [fromMs, toMs), found by stepping hours (robust across DST). */
function midnights(fromMs: number, toMs: number, zone: string): number[] {
  const hour = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hour12: false });
  const out: number[] = [];
  for (let t = Math.ceil(fromMs / 900_000) * 900_000; t < toMs; t += 900_000) {
    const hhmm = hour.format(t);
    if (hhmm === '00:00' || hhmm === '24:00') out.push(t);
  }
  return out;
}

export function weekSvg(d: WeekDrawing): string {
  const { layout } = d;
  const span = layout.toMs - layout.fromMs;
  const x = (ms: number) =>
    LABEL_W + ((Math.min(Math.max(ms, layout.fromMs), layout.toMs) - layout.fromMs) / span) * PLOT_W;
  const rowsTop = TOP + BAND_H + 4;
  const height = rowsTop + d.rows.length * ROW_H + 40;
  const width = LABEL_W + PLOT_W + 10;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="sans-serif" font-size="11" role="img" aria-label="power calendar week">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  );
  const dst = new Set(layout.dstDays.map((day) => day.date));
  for (const m of midnights(layout.fromMs, layout.toMs + 1, layout.timezone)) {
    const date = new Intl.DateTimeFormat('en-CA', { timeZone: layout.timezone }).format(m);
    parts.push(`<line x1="${x(m)}" y1="${TOP - 4}" x2="${x(m)}" y2="${height - 30}" stroke="#ddd"/>`);
    if (m < layout.toMs)
      parts.push(
        `<text x="${x(m) + 3}" y="${TOP - 20}" fill="#333">${esc(dayLabel(m, layout.timezone))}${dst.has(date) ? ' <tspan class="dst" fill="#c0392b" font-weight="bold">DST</tspan>' : ''}</text>`,
      );
  }
  parts.push(`<text x="4" y="${TOP - 20}" fill="#555">${esc(layout.timezone)}</text>`);
  for (const m of midnights(layout.fromMs, layout.toMs, d.viewerZone))
    parts.push(
      `<line x1="${x(m)}" y1="${height - 34}" x2="${x(m)}" y2="${height - 26}" stroke="#888"/><text x="${x(m) + 3}" y="${height - 14}" fill="#555">${esc(dayLabel(m, d.viewerZone))}</text>`,
    );
  parts.push(`<text x="4" y="${height - 14}" fill="#555">${esc(d.viewerZone)} (you)</text>`);
  for (const o of d.overrides ?? [])
    parts.push(
      `<rect class="override" x="${x(o.startMs)}" y="${TOP}" width="${Math.max(2, x(o.endMs) - x(o.startMs))}" height="${BAND_H}" fill="${STATE_COLOURS[o.state] ?? '#5b6bd6'}" stroke="#222" stroke-width="0.5"><title>${esc(o.label)}</title></rect>`,
    );
  d.rows.forEach((row, i) => {
    const y = rowsTop + i * ROW_H;
    parts.push(`<text x="4" y="${y + ROW_H / 2 + 4}" fill="#222">${esc(row)}</text>`);
    for (const s of layout.segments) {
      const title = `${s.state} ${timeLabel(s.startMs, layout.timezone)}–${timeLabel(s.endMs, layout.timezone)} (${layout.timezone}); ${timeLabel(s.startMs, d.viewerZone)}–${timeLabel(s.endMs, d.viewerZone)} (${d.viewerZone})`;
      const window = s.source.kind === 'window';
      parts.push(
        `<rect class="span state-${esc(s.state)}" x="${x(s.startMs)}" y="${y + 2}" width="${Math.max(1, x(s.endMs) - x(s.startMs))}" height="${ROW_H - 6}" fill="${STATE_COLOURS[s.state] ?? '#5b6bd6'}"${window ? ' stroke="#111" stroke-width="1.5" stroke-dasharray="3 2"' : ''}><title>${esc(title)}</title></rect>`,
      );
    }
  });
  if (d.nowMs !== undefined && d.nowMs >= layout.fromMs && d.nowMs <= layout.toMs)
    parts.push(
      `<line class="now" x1="${x(d.nowMs)}" y1="${TOP - 4}" x2="${x(d.nowMs)}" y2="${height - 30}" stroke="#c0392b" stroke-width="1.5"/>`,
    );
  let lx = LABEL_W;
  for (const [state, colour] of Object.entries(STATE_COLOURS)) {
    parts.push(
      `<rect x="${lx}" y="${height - 10}" width="10" height="8" fill="${colour}"/><text x="${lx + 13}" y="${height - 2}" fill="#333">${state}</text>`,
    );
    lx += 80;
  }
  parts.push(
    `<rect x="${lx}" y="${height - 10}" width="10" height="8" fill="none" stroke="#111" stroke-dasharray="3 2"/><text x="${lx + 13}" y="${height - 2}" fill="#333">one-off window</text>`,
    '</svg>',
  );
  return parts.join('');
}

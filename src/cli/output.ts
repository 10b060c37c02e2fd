// How commands talk to people: progress that rewrites one line in a terminal and prints plain lines (only when
// something changed) into pipes and CI logs; colour only in a terminal and never when NO_COLOR is set
// (https://no-color.org); tables; JSON for machines.

export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Colour is for terminals that want it: a TTY, TERM not "dumb", NO_COLOR absent or empty. */
export function colorEnabled(stream: OutputStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
}

export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  ok(text: string): string;
  bad(text: string): string;
  warn(text: string): string;
  info(text: string): string;
}

const sgr = (on: boolean, open: number, close: number) => (text: string) =>
  on ? `\x1b[${open}m${text}\x1b[${close}m` : text;

export function createStyle(enabled: boolean): Style {
  return {
    bold: sgr(enabled, 1, 22),
    dim: sgr(enabled, 2, 22),
    ok: sgr(enabled, 32, 39),
    bad: sgr(enabled, 31, 39),
    warn: sgr(enabled, 33, 39),
    info: sgr(enabled, 36, 39),
  };
}

const GOOD = new Set(['done', 'completed', 'running', 'active', 'ok']);
const BAD = new Set(['failed', 'terminated', 'timed_out', 'canceled', 'cancelled', 'error']);
const WARN = new Set(['rollback', 'paused', 'stopped', 'drift']);

/** Colours a phase or status word by what it means for the user. */
export function styleState(style: Style, state: string): string {
  const key = state.toLowerCase();
  if (GOOD.has(key)) return style.ok(state);
  if (BAD.has(key)) return style.bad(state);
  if (WARN.has(key)) return style.warn(state);
  return style.info(state);
}

export interface Progress {
  /** Shows the current state: rewrites the live line in a TTY, prints a new line elsewhere if it changed. */
  update(text: string): void;
  /** A permanent line above the live one. */
  log(text: string): void;
  /** Leaves the live line as the last printed state. */
  done(): void;
}

/** Rendering of a changing state, live in a terminal and plain (one line per change) otherwise. */
export function createProgress(stream: OutputStream): Progress {
  const live = Boolean(stream.isTTY);
  let last = '';
  let shown = false;
  const clear = () => {
    if (live && shown) stream.write('\r\x1b[2K');
    shown = false;
  };
  const clip = (text: string) => {
    const width = stream.columns ?? 0;
    return width > 1 && text.length >= width ? `${text.slice(0, width - 2)}…` : text;
  };
  return {
    update(text) {
      if (text === last && (shown || !live)) return;
      last = text;
      if (!live) {
        stream.write(`${text}\n`);
        return;
      }
      clear();
      stream.write(clip(text));
      shown = true;
    },
    log(text) {
      clear();
      stream.write(`${text}\n`);
      if (live && last) {
        stream.write(clip(last));
        shown = true;
      }
    },
    done() {
      if (live && shown) stream.write('\n');
      shown = false;
    },
  };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping SGR escapes is the point
const ANSI = /\x1b\[[0-9;]*m/g;
const visibleLength = (text: string) => text.replace(ANSI, '').length;

/** Left-aligned columns separated by two spaces (the header first, if any); cells may carry colour. */
export function renderTable(rows: string[][], header?: string[]): string[] {
  const all = header ? [header, ...rows] : rows;
  const columns = Math.max(0, ...all.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(0, ...all.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell))))
      .join('  ')
      .trimEnd();
  return all.map(line);
}

export const printJson = (value: unknown, stream: OutputStream = process.stdout) =>
  stream.write(`${JSON.stringify(value, null, 2)}\n`);

export const printLine = (text: string, stream: OutputStream = process.stdout) => stream.write(`${text}\n`);

/** A command's outcome: JSON on stdout for `--json`, else the human rendering (rendered only when needed). */
export function report(json: boolean | undefined, value: unknown, render: () => string | string[]): void {
  if (json) {
    printJson(value);
    return;
  }
  const text = render();
  for (const line of Array.isArray(text) ? text : [text]) printLine(line);
}

/** Progress and notes for people go to stderr, so stdout stays the command's result. */
export const printNote = (text: string) => printLine(text, process.stderr);

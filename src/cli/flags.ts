// Flag value parsers shared by the commands: a bad value fails at parse time with commander's one-line message,
// which names the flag, and the CLI exits 2.
import { InvalidArgumentError } from 'commander';

export function portFlag(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n > 65535)
      throw new InvalidArgumentError(`${flag} must be an integer 0-65535 (0 = any free port)`);
    return n;
  };
}

export function positiveNumberFlag(flag: string, example: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d*\.?\d+(e-?\d+)?$/i.test(value.trim()) || !Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${flag} must be a number > 0 (${example})`);
    return n;
  };
}

export function positiveIntFlag(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || !Number.isSafeInteger(n))
      throw new InvalidArgumentError(`${flag} must be an integer >= 1`);
    return n;
  };
}

/** Resolves when the process is asked to stop (SIGINT, SIGTERM); the handlers are removed again. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** A value as one shell word: bare when safe, else single-quoted. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

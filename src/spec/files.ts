// Reading the files a spec points at (compose, pre-launch script, env values). Failures come back as text for a
// problem rather than as exceptions, so one run reports every unreadable file; the text never includes file contents.
import { readFileSync, statSync } from 'node:fs';

export type ReadResult = { ok: true; text: string } | { ok: false; problem: string };

const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  ENOTDIR: 'a folder on the path is a file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the path is too long',
};

/**
 * Reads a UTF-8 text file. Only regular files are read: a device or pipe (`/dev/zero`, a FIFO) could block the
 * deploy or never end. `maxBytes` refuses a file before reading it when it could not be accepted anyway.
 */
export function readTextFile(path: string, maxBytes?: number): ReadResult {
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) return { ok: false, problem: `cannot read ${path}: it is a folder` };
    if (!stat.isFile()) return { ok: false, problem: `cannot read ${path}: not a regular file` };
    if (maxBytes !== undefined && stat.size > maxBytes) {
      return { ok: false, problem: `${path} is ${formatKiB(stat.size)}; at most ${formatKiB(maxBytes)} is accepted` };
    }
    return { ok: true, text: readFileSync(path, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    return { ok: false, problem: `cannot read ${path}: ${REASONS[code] ?? (code || 'read error')}` };
  }
}

export function formatKiB(bytes: number): string {
  const kib = bytes / 1024;
  return `${Number.isInteger(kib) ? kib : kib.toFixed(1)} KiB`;
}

// The embedded stack's lock: one `cvmflow dev` per data folder; a stale lock (its owner gone) is taken over.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shellQuote } from '../../src/cli/flags';
import { acquireDevLock, DevStackRunningError, LOCK_FILE } from '../../src/dev/lock';

describe('dev lock', () => {
  it('refuses while the owner lives, naming its pid and UI, and is released by its owner', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cvmflow-lock-'));
    // A live process that is not us: our parent (the test runner's).
    writeFileSync(
      join(dir, LOCK_FILE),
      JSON.stringify({ pid: process.ppid, startedAt: 'x', temporalUiUrl: 'http://ui' }),
    );
    expect(() => acquireDevLock(dir)).toThrow(DevStackRunningError);
    expect(() => acquireDevLock(dir)).toThrow(`pid ${process.ppid}, Temporal UI http://ui`);
  });

  it('takes over a stale lock and removes its own on release', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cvmflow-lock-'));
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: Number(gone.stdout), startedAt: 'x' }));
    const lock = acquireDevLock(dir);
    expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid });
    lock.update({ temporalUiUrl: 'http://127.0.0.1:8233' });
    expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject({ temporalUiUrl: 'http://127.0.0.1:8233' });
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
  });

  it('quotes export values only when the shell needs it', () => {
    expect(shellQuote('http://127.0.0.1:8787/api/v1')).toBe('http://127.0.0.1:8787/api/v1');
    expect(shellQuote("/tmp/my data/it's")).toBe(`'/tmp/my data/it'\\''s'`);
  });
});

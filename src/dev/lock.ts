// One embedded stack per data folder: a lock file holding the owner's pid. A second `cvmflow dev` on the same folder
// reads it and says who runs there, instead of failing later on a taken port or a locked SQLite file.
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'dev.lock';

/** What the lock records about the running stack; the addresses arrive once it is up. */
export interface LockInfo {
  pid: number;
  startedAt: string;
  temporalUiUrl?: string;
  temporalAddress?: string;
}

export class DevStackRunningError extends Error {
  readonly code = 'DEV_STACK_RUNNING';
  constructor(
    readonly dataDir: string,
    readonly info: LockInfo,
  ) {
    const where = info.temporalUiUrl ? `, Temporal UI ${info.temporalUiUrl}` : '';
    super(
      `cvmflow dev is already running on ${dataDir} (pid ${info.pid}${where}); use that one, stop it with Ctrl-C in its shell (or kill ${info.pid}), or pick another --data-dir`,
    );
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else — still a live owner.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(path: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    return typeof info.pid === 'number' ? (info as LockInfo) : undefined;
  } catch {
    return undefined;
  }
}

export interface DevLock {
  path: string;
  /** Records the stack's addresses for whoever finds the lock next. */
  update(extra: Partial<LockInfo>): void;
  release(): void;
}

/** Takes the data folder's lock (atomically: O_EXCL), replacing a stale one whose owner is gone. */
export function acquireDevLock(dataDir: string): DevLock {
  const path = join(dataDir, LOCK_FILE);
  let info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, JSON.stringify(info));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const owner = readLock(path);
      if (owner && owner.pid !== process.pid && alive(owner.pid)) throw new DevStackRunningError(dataDir, owner);
      // The owner crashed (or the file is unreadable): the lock is stale.
      rmSync(path, { force: true });
    }
  }
  return {
    path,
    update(extra) {
      info = { ...info, ...extra };
      writeFileSync(path, JSON.stringify(info), { mode: 0o600 });
    },
    release() {
      if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
    },
  };
}

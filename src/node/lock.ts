import { open, readFile, unlink } from 'node:fs/promises';
import { OperatorError } from '../base/operator-error.js';

/**
 * One process per data directory: two nodes writing the same settings and
 * log would corrupt each other. The lock file holds the owner's pid; a lock
 * whose process is gone is stale and taken over.
 */
export interface DataDirLock {
  release(): Promise<void>;
}

export async function acquireLock(path: string): Promise<DataDirLock> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await unlink(path).catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = await lockOwner(path);
      if (owner !== null && owner !== process.pid && isAlive(owner)) {
        throw new OperatorError(`the data directory is in use by another node process (pid ${owner}); stop it first`);
      }
      if (owner === process.pid) throw new OperatorError('the data directory is already open in this process');
      await unlink(path).catch(() => undefined);
    }
  }
  throw new OperatorError(`cannot take the lock ${path}`);
}

/** The pid holding the lock, or null when there is no (readable) lock. */
export async function lockOwner(path: string): Promise<number | null> {
  try {
    const pid = Number.parseInt(await readFile(path, 'utf8'), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

import { createHash } from 'node:crypto';
import { readFile, realpath, stat, unlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { writeFileAtomic } from '../base/atomic-file.js';
import { OperatorError } from '../base/operator-error.js';
import type { Logger } from '../observability/logger.js';

/**
 * One process per data directory: two processes writing the same settings
 * would undo each other's changes.
 *
 * The lock is a listening Unix socket in Linux's abstract namespace, named
 * after the data directory (lockName). The kernel lets one socket
 * hold a name and frees it the moment its process dies, kill -9 included, so
 * there is no stale lock to detect and take over. A pid file cannot do that
 * safely: two processes that both find a dead owner's pid both "take over"
 * (read, unlink, create), and a zombie's pid still looks alive until it is
 * reaped. `node.lock` is still written, after the lock is held, so that an
 * operator (and an error message) can tell which pid holds it.
 *
 * Abstract names belong to a network namespace: processes in different
 * namespaces on one data directory are not kept apart (a lab runs each node
 * with its own data directory).
 */
export interface DataDirLock {
  release(): Promise<void>;
}

export interface LockOptions {
  /** How long to wait for a holder to let go (an offline `mmp` edit takes well under a second); 0: do not wait. */
  waitMs: number;
  log?: Logger;
}

export class DataDirInUseError extends OperatorError {
  constructor(readonly holder: number | null) {
    super(`the data directory is in use by another process${holder ? ` (pid ${holder})` : ''}; stop it first`);
    this.name = 'DataDirInUseError';
  }
}

const RETRY_MS = 25;
/** Names held by this process: a second open here would wait on itself. */
const heldHere = new Set<string>();

export async function acquireLock(root: string, pidFile: string, options: LockOptions): Promise<DataDirLock> {
  const name = await lockName(root);
  if (heldHere.has(name)) throw new OperatorError('the data directory is already open in this process');
  const deadline = Date.now() + options.waitMs;
  let logged = false;
  for (;;) {
    const server = await listenAbstract(name);
    if (server) {
      heldHere.add(name);
      try {
        await writeFileAtomic(pidFile, `${process.pid}\n`, 0o600);
      } catch (err) {
        heldHere.delete(name);
        server.close();
        throw err;
      }
      if (logged) options.log?.info({ module: 'node', event: 'data_dir_lock_acquired', dataDir: root }, 'data directory lock taken after waiting');
      return lockHandle(name, server, pidFile);
    }
    if (Date.now() >= deadline) throw new DataDirInUseError(await lockHolder(pidFile));
    if (!logged) {
      logged = true;
      options.log?.info(
        { module: 'node', event: 'data_dir_lock_wait', dataDir: root, holder: await lockHolder(pidFile), waitMs: options.waitMs },
        'waiting for another process to release the data directory',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

/** The pid `node.lock` names, or null when there is no readable one. Informational: the socket is the lock. */
export async function lockHolder(pidFile: string): Promise<number | null> {
  try {
    const pid = Number.parseInt(await readFile(pidFile, 'utf8'), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * The folder's real path (symlinks resolved), device and inode. The inode
 * alone would make a new folder that reuses a deleted one's inode wait for a
 * process still holding the old one; the path alone would let a folder
 * removed and made again under the same name be held twice.
 */
async function lockName(root: string): Promise<string> {
  const path = await realpath(root);
  const st = await stat(path);
  const digest = createHash('sha256').update(`${path}\0${st.dev}:${st.ino}`).digest('hex').slice(0, 32);
  return `\0xmpp-cluster-data-dir-${digest}`;
}

/** The listening server, or null when another socket holds the name. */
function listenAbstract(name: string): Promise<Server | null> {
  return new Promise((resolve, reject) => {
    // Nobody is meant to connect; anyone who does is sent away.
    const server = createServer((socket) => socket.destroy());
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(null) : reject(err)));
    server.listen(name, () => {
      // The lock must not keep a process alive that has nothing else to do.
      server.unref();
      resolve(server);
    });
  });
}

function lockHandle(name: string, server: Server, pidFile: string): DataDirLock {
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      // The pid file first: once the name is free, the next holder writes its own.
      await unlink(pidFile).catch(() => undefined);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      heldHere.delete(name);
    },
  };
}

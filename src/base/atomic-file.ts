import { open, readdir, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes a file so that a crash leaves either the old or the new content,
 * never a torn mix: write a temporary file beside it, fsync, rename over the
 * target, fsync the folder so the rename itself is durable.
 * Mode defaults to 0600 because most of what we persist is secret.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}${TEMPORARY_SUFFIX}`);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    // open() applies the umask; chmod makes the mode exact.
    await handle.chmod(mode);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

const TEMPORARY_SUFFIX = '.tmp';
/** `.<name>.<12 hex>.tmp`: what writeFileAtomic leaves when it is killed before its rename. */
const TEMPORARY = /^\..+\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes what interrupted atomic writes left in `dir` (a kill -9 between
 * the write and the rename): copies of files that hold secrets, which
 * nothing will ever read. Only the folder's owner may call this, under the
 * data-directory lock, so no write in progress is removed. Returns the names.
 */
export async function removeInterruptedWrites(dir: string): Promise<string[]> {
  const leftovers = (await readdir(dir)).filter((name) => TEMPORARY.test(name));
  for (const name of leftovers) await unlink(join(dir, name)).catch(() => undefined);
  if (leftovers.length > 0) await syncDirectory(dir);
  return leftovers;
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

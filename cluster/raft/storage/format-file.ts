/**
 * The version of the storage folder's layout (the WAL record format and the
 * segment naming), in `format.json` beside the segments. The records carry
 * none themselves, and an older release must never read a newer log: it would
 * take a record kind it does not know for a torn tail and cut the log there.
 * A folder without the file was written before it existed: version 1.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { checkFormatVersion, NewerFormatError } from '../../../src/base/format-version.js';
import { syncDirectorySync } from './fs-sync.js';

export const FORMAT_FILE = 'format.json';
/** 1: wal-<seq>.log segments of length|crc32|kind records (wal-records.ts), snapshot.bin beside them. */
export const STORAGE_VERSION = 1;

export class CorruptFormatFileError extends Error {
  override readonly name = 'CorruptFormatFileError';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path} is corrupt (${detail}); restore the data folder from a backup or rejoin the node with an empty one`);
  }
}

/** Checks the folder's version (a newer one throws NewerFormatError), and records it where it is missing. */
export function checkStorageFormat(dir: string): number {
  const path = join(dir, FORMAT_FILE);
  if (!existsSync(path)) {
    writeFormatFile(dir);
    return STORAGE_VERSION;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new CorruptFormatFileError(path, 'not JSON');
  }
  if (typeof doc !== 'object' || doc === null) throw new CorruptFormatFileError(path, 'not an object');
  try {
    return checkFormatVersion(path, (doc as Record<string, unknown>).version, STORAGE_VERSION);
  } catch (err) {
    if (err instanceof NewerFormatError) throw err;
    throw new CorruptFormatFileError(path, (err as Error).message);
  }
}

function writeFormatFile(dir: string): void {
  const tmp = join(dir, `.${FORMAT_FILE}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify({ version: STORAGE_VERSION }) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, FORMAT_FILE));
  syncDirectorySync(dir);
}

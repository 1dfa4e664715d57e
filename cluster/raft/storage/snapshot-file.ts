/**
 * The snapshot on disk: one file, written atomically (temporary file, fsync,
 * rename, fsync of the folder), so a crash leaves the old snapshot or the new
 * one. Layout: magic "RSNP" | version u8 | crc32 u32 | meta length u32 | meta
 * JSON | state bytes, the CRC covering everything after it. A damaged
 * snapshot is an error the node must stop on: the log before it is gone.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { ConfState, Snapshot } from '../messages.js';
import { syncDirectorySync } from './fs-sync.js';
import { NewerFormatError } from '../../../src/base/format-version.js';

const MAGIC = Buffer.from('RSNP');
const VERSION = 1;
export const SNAPSHOT_FILE = 'snapshot.bin';

export class CorruptSnapshotError extends Error {
  override readonly name = 'CorruptSnapshotError';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`raft snapshot ${path} is corrupt (${detail}); restore the data folder from a backup or rejoin the node with an empty one`);
  }
}

export function writeSnapshotFile(dir: string, snapshot: Snapshot): void {
  const meta = Buffer.from(
    JSON.stringify({ index: snapshot.metadata.index, term: snapshot.metadata.term, confState: snapshot.metadata.confState }),
  );
  const body = Buffer.alloc(4 + meta.length + snapshot.data.length);
  body.writeUInt32LE(meta.length, 0);
  meta.copy(body, 4);
  body.set(snapshot.data, 4 + meta.length);
  const head = Buffer.alloc(9);
  MAGIC.copy(head, 0);
  head.writeUInt8(VERSION, 4);
  head.writeUInt32LE(crc32(body), 5);
  const tmp = join(dir, `.${SNAPSHOT_FILE}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, head);
    writeSync(fd, body);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, SNAPSHOT_FILE));
  syncDirectorySync(dir);
}

/** The stored snapshot, undefined if none was ever written; throws CorruptSnapshotError if damaged. */
export function readSnapshotFile(dir: string): Snapshot | undefined {
  const path = join(dir, SNAPSHOT_FILE);
  if (!existsSync(path)) return undefined;
  const buf = readFileSync(path);
  if (buf.length < 13 || !buf.subarray(0, 4).equals(MAGIC)) throw new CorruptSnapshotError(path, 'bad header');
  // A newer layout is refused by name, not reported as damage: the file is fine, this release is too old for it.
  if (buf.readUInt8(4) > VERSION) throw new NewerFormatError(path, buf.readUInt8(4), VERSION);
  if (buf.readUInt8(4) !== VERSION) throw new CorruptSnapshotError(path, `unknown version ${buf.readUInt8(4)}`);
  const body = buf.subarray(9);
  if (crc32(body) !== buf.readUInt32LE(5)) throw new CorruptSnapshotError(path, 'checksum mismatch');
  const metaLen = body.readUInt32LE(0);
  if (4 + metaLen > body.length) throw new CorruptSnapshotError(path, 'metadata overruns the file');
  let meta: { index: number; term: number; confState: ConfState };
  try {
    meta = JSON.parse(body.subarray(4, 4 + metaLen).toString('utf8')) as typeof meta;
  } catch {
    throw new CorruptSnapshotError(path, 'metadata is not JSON');
  }
  if (!Number.isInteger(meta.index) || !Number.isInteger(meta.term) || !Array.isArray(meta.confState?.voters) || !Array.isArray(meta.confState?.learners)) {
    throw new CorruptSnapshotError(path, 'metadata fields are invalid');
  }
  return {
    metadata: { index: meta.index, term: meta.term, confState: { voters: meta.confState.voters, learners: meta.confState.learners } },
    data: new Uint8Array(body.subarray(4 + metaLen)),
  };
}

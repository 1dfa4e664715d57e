/**
 * Raft storage in a folder: a snapshot file plus write-ahead log segments
 * (wal-<seq>.log) of checksummed records. `save` appends one batch of records
 * and fsyncs before it returns, so the Ready's messages may go out after it
 * (etcd's rule). At open, a torn or corrupt tail of the last segment is cut
 * back to the last good record and logged; damage anywhere else, or in the
 * snapshot, is an error that stops the node.
 *
 * The whole log is also held in memory, and every read is answered from it
 * (StoredLogStorage): the cluster state is small and compaction keeps the
 * log short.
 */
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RaftLogger } from '../config.js';
import type { ConfState, Snapshot } from '../messages.js';
import { checkStorageFormat } from './format-file.js';
import { readSnapshotFile, writeSnapshotFile } from './snapshot-file.js';
import { syncDirectorySync } from './fs-sync.js';
import type { StorageBatch } from './storage.js';
import { StoredLogStorage } from './stored-log-storage.js';
import { encodeRecord, parseRecord, type WalRecord } from './wal-records.js';

export interface FileStorageOptions {
  readonly dir: string;
  readonly logger?: RaftLogger;
  /** Past this size the log is rewritten into a fresh segment. */
  readonly segmentBytes?: number;
}

/** Damage inside the log that is not a torn tail: acknowledged entries would be lost by cutting it. */
export class CorruptLogError extends Error {
  override readonly name = 'CorruptLogError';
  constructor(
    readonly path: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`raft log segment ${path} is damaged at byte ${offset} (${reason}) and is not the last segment; restore the data folder or rejoin the node empty`);
  }
}

const SEGMENT = /^wal-(\d{10})\.log$/;
const TEMPORARY = /^\.(?:wal-\d{10}\.log|snapshot\.bin|format\.json)\.tmp$/;
const segmentName = (seq: number) => `wal-${String(seq).padStart(10, '0')}.log`;

export class FileStorage extends StoredLogStorage {
  private fd = -1;
  private seq = 0;
  private size = 0;
  private readonly segmentBytes: number;
  private readonly logger: RaftLogger;

  private constructor(private readonly dir: string, options: FileStorageOptions) {
    super();
    this.segmentBytes = options.segmentBytes ?? 8 * 1024 * 1024;
    this.logger = options.logger ?? (() => undefined);
  }

  /** Opens (creating if needed) the storage folder and replays it. */
  static open(options: FileStorageOptions): FileStorage {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    const storage = new FileStorage(options.dir, options);
    storage.recover();
    return storage;
  }

  private recover(): void {
    // Temporary files are halves of writes a crash interrupted; the renamed originals are intact.
    for (const name of readdirSync(this.dir)) if (TEMPORARY.test(name)) unlinkSync(join(this.dir, name));
    // Before anything is read: a newer layout is refused, never parsed as damage.
    checkStorageFormat(this.dir);
    const snap = readSnapshotFile(this.dir);
    if (snap) this.log.snap = snap;
    const segments = readdirSync(this.dir)
      .map((name) => SEGMENT.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    if (segments.length === 0) {
      this.checkpoint(1);
      return;
    }
    for (const [i, seq] of segments.entries()) this.replay(seq, i === segments.length - 1);
    this.adoptNewerSnapshot();
    this.seq = segments[segments.length - 1]!;
    this.fd = openSync(join(this.dir, segmentName(this.seq)), 'a', 0o600);
    // Segments before the newest checkpoint are leftovers of a crash between rename and unlink.
    for (const seq of segments.slice(0, -1)) unlinkSync(join(this.dir, segmentName(seq)));
    if (segments.length > 1) syncDirectorySync(this.dir);
  }

  /**
   * A crash between writing a received snapshot and logging its marker leaves
   * a snapshot newer than the log: the marker's effect (drop the log) is
   * implied, as is the commit up to it.
   */
  private adoptNewerSnapshot(): void {
    const { index, term } = this.log.snap.metadata;
    if (index === 0) return;
    if (this.log.heldTerm(index) !== term) this.log.restartAfter(index, term);
    if (this.log.hardState.commit < index) this.log.hardState = { ...this.log.hardState, commit: index };
  }

  private replay(seq: number, isLast: boolean): void {
    const path = join(this.dir, segmentName(seq));
    const buf = readFileSync(path);
    let offset = 0;
    for (;;) {
      const r = parseRecord(buf, offset);
      if (!r.ok) {
        if (r.reason === 'end') break;
        if (!isLast) throw new CorruptLogError(path, offset, r.reason);
        // A crash mid-write leaves a torn record; nothing after it was acknowledged (save had not returned).
        this.logger('wal-tail-truncated', { segment: segmentName(seq), offset, droppedBytes: buf.length - offset, reason: r.reason });
        const fd = openSync(path, 'r+');
        try {
          ftruncateSync(fd, offset);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        break;
      }
      this.apply(r.record);
      offset = r.next;
    }
    this.size = offset;
  }

  private apply(r: WalRecord): void {
    switch (r.kind) {
      case 'start':
      case 'snapshot':
        this.log.restartAfter(r.index, r.term);
        return;
      case 'entries':
        this.log.append(r.entries);
        return;
      case 'hard-state':
        this.log.hardState = r.hardState;
        return;
    }
  }

  /**
   * Writes the whole current log as a new segment: to a temporary name, fsync,
   * rename, fsync the folder, then drops older segments. A crash at any point
   * leaves either the old segments or the complete new one.
   */
  private checkpoint(seq: number): void {
    const after = this.log.firstIndex() - 1;
    const records: WalRecord[] = [{ kind: 'start', index: after, term: this.log.term(after) }];
    if (this.log.lastIndex() > after) records.push({ kind: 'entries', entries: this.log.entries(after + 1, this.log.lastIndex() + 1) });
    records.push({ kind: 'hard-state', hardState: this.log.hardState });
    const bytes = Buffer.concat(records.map(encodeRecord));
    const tmp = join(this.dir, `.${segmentName(seq)}.tmp`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, segmentName(seq)));
    syncDirectorySync(this.dir);
    if (this.fd >= 0) closeSync(this.fd);
    for (let old = this.seq; old > 0 && old < seq; old++) unlinkSync(join(this.dir, segmentName(old)));
    if (this.seq > 0) syncDirectorySync(this.dir);
    this.seq = seq;
    this.size = bytes.length;
    this.fd = openSync(join(this.dir, segmentName(seq)), 'a', 0o600);
  }

  // ---- write side (reads come from StoredLogStorage) ----------------------

  save(batch: StorageBatch): void {
    const records: WalRecord[] = [];
    if (batch.snapshot && batch.snapshot.metadata.index > this.log.snap.metadata.index) {
      // The snapshot file must be durable before the log record that points at it.
      writeSnapshotFile(this.dir, batch.snapshot);
      records.push({ kind: 'snapshot', index: batch.snapshot.metadata.index, term: batch.snapshot.metadata.term });
    }
    if (batch.entries.length > 0) records.push({ kind: 'entries', entries: batch.entries });
    if (batch.hardState) records.push({ kind: 'hard-state', hardState: batch.hardState });
    if (records.length === 0) return;
    // Validate against the in-memory log first, so a bad batch never reaches the disk. A write
    // or fsync error afterwards leaves memory ahead of disk: the caller must stop the node.
    this.log.apply(batch);
    const bytes = Buffer.concat(records.map(encodeRecord));
    writeSync(this.fd, bytes);
    fsyncSync(this.fd);
    this.size += bytes.length;
    if (this.size > this.segmentBytes) this.checkpoint(this.seq + 1);
  }

  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    const before = this.log.snap;
    const snap = this.log.createSnapshot(index, confState, data);
    if (snap !== before) writeSnapshotFile(this.dir, snap);
    return snap;
  }

  compact(index: number): void {
    const before = this.log.firstIndex();
    this.log.compact(index);
    if (this.log.firstIndex() !== before) this.checkpoint(this.seq + 1);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

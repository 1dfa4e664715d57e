/**
 * The in-memory shape of a stored log that both storages share: a snapshot
 * position followed by contiguous entries. `entries[0]` is a dummy standing
 * for the snapshot's last entry, so term(snapshot.index) needs no special
 * case (etcd's MemoryStorage trick).
 */
import { LogCompactedError, LogUnavailableError, RaftUsageError } from '../errors.js';
import { EMPTY_DATA, type ConfState, type Entry, type HardState, type Snapshot } from '../messages.js';
import { EMPTY_CONF_STATE } from '../membership.js';
import { EMPTY_HARD_STATE, type InitialState, type StorageBatch } from './storage.js';

export const EMPTY_SNAPSHOT: Snapshot = { metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE }, data: EMPTY_DATA };

export class StoredLog {
  hardState: HardState = EMPTY_HARD_STATE;
  snap: Snapshot = EMPTY_SNAPSHOT;
  /** entries[0] is the dummy at snap.metadata.index. */
  private ents: Entry[] = [dummyAt(0, 0)];

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  private get offset(): number {
    return this.ents[0]!.index;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  term(index: number): number {
    if (index < this.offset) throw new LogCompactedError(index);
    if (index > this.lastIndex()) throw new LogUnavailableError(index);
    return this.ents[index - this.offset]!.term;
  }

  /** term(index), or undefined where term() would throw. */
  heldTerm(index: number): number | undefined {
    return index < this.offset || index > this.lastIndex() ? undefined : this.ents[index - this.offset]!.term;
  }

  entries(lo: number, hi: number): Entry[] {
    if (lo <= this.offset) throw new LogCompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new LogUnavailableError(hi - 1);
    return this.ents.slice(lo - this.offset, hi - this.offset);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  applySnapshot(snap: Snapshot): void {
    // An older snapshot than the one held would roll the state machine back.
    if (snap.metadata.index <= this.snap.metadata.index) return;
    this.snap = snap;
    this.restartAfter(snap.metadata.index, snap.metadata.term);
  }

  /** Drops every entry: the log continues after (index, term), and term(index) still answers. */
  restartAfter(index: number, term: number): void {
    this.ents = [dummyAt(index, term)];
  }

  /** Appends, replacing the tail from the first new index on (a leader overwrote a conflicting suffix, §5.3). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    // Entries already compacted are committed and identical everywhere: skip them.
    const skip = Math.max(0, this.firstIndex() - first);
    if (skip >= entries.length) return;
    const start = first + skip;
    if (start > this.lastIndex() + 1) {
      throw new RaftUsageError(`log gap: appending index ${start} after last index ${this.lastIndex()}`);
    }
    this.ents.length = start - this.offset;
    for (let i = skip; i < entries.length; i++) this.ents.push(entries[i]!);
  }

  apply(batch: StorageBatch): void {
    if (batch.snapshot) this.applySnapshot(batch.snapshot);
    this.append(batch.entries);
    if (batch.hardState) this.hardState = batch.hardState;
  }

  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) return this.snap;
    if (index > this.lastIndex()) throw new RaftUsageError(`snapshot index ${index} is past last index ${this.lastIndex()}`);
    this.snap = { metadata: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  compact(index: number): void {
    if (index <= this.offset) return;
    if (index > this.snap.metadata.index) {
      throw new RaftUsageError(`cannot compact to ${index}: latest snapshot is at ${this.snap.metadata.index}`);
    }
    const last = this.ents[index - this.offset]!;
    this.ents = [dummyAt(last.index, last.term), ...this.ents.slice(index - this.offset + 1)];
  }
}

function dummyAt(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: EMPTY_DATA };
}

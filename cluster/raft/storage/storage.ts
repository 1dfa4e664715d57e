/**
 * What the core reads from durable storage, and what the caller writes to it
 * while handling a Ready. The core only ever calls the read side; the write
 * side belongs to the caller's I/O loop (etcd's Storage + WAL split).
 */
import type { ConfState, Entry, HardState, Snapshot } from '../messages.js';

export interface InitialState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

export interface StorageBatch {
  readonly hardState?: HardState | undefined;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot | undefined;
}

/**
 * One behaviour suite pins this contract for every implementation
 * (test/cluster/raft/storage-behaviour.ts).
 */
export interface RaftStorage {
  /** The last hard state saved, and the configuration of the latest snapshot. */
  initialState(): InitialState;
  /** Entries in [lo, hi). Throws LogCompactedError below firstIndex, LogUnavailableError past lastIndex. */
  entries(lo: number, hi: number): Entry[];
  /** Term of the entry at index; firstIndex-1 (the compaction point) still answers. Throws like entries(). */
  term(index: number): number;
  /** The first index still held as an entry: one past the compaction point, which is at or below the snapshot's index. */
  firstIndex(): number;
  /** firstIndex-1 when no entries are held. */
  lastIndex(): number;
  /** The latest snapshot; index 0 and empty data before the first. */
  snapshot(): Snapshot;

  /**
   * Durably stores a Ready's snapshot, then its entries (replacing any
   * conflicting tail), then its hard state, and returns only once all of it
   * would survive a crash: the Ready's messages may be sent after this.
   */
  save(batch: StorageBatch): void;
  /**
   * Records a snapshot of the applied state at `index` (≤ applied) so the log
   * up to it can be compacted; at or below the latest snapshot it returns
   * that one unchanged.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot;
  /**
   * Drops the entries up to and including `index`, whose term stays readable
   * as term(firstIndex-1); `index` must not be past the latest snapshot.
   */
  compact(index: number): void;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: '', commit: 0 };

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === '' && hs.commit === 0;
}

export function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

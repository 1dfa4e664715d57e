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

export interface RaftStorage {
  initialState(): InitialState;
  /** Entries in [lo, hi). Throws LogCompactedError below firstIndex, LogUnavailableError past lastIndex. */
  entries(lo: number, hi: number): Entry[];
  /** Term of the entry at index; firstIndex-1 answers with the snapshot's term. Throws like entries(). */
  term(index: number): number;
  /** The first index still held as an entry (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;

  /**
   * Durably stores a Ready's snapshot, then its entries (replacing any
   * conflicting tail), then its hard state, and returns only once all of it
   * would survive a crash: the Ready's messages may be sent after this.
   */
  save(batch: StorageBatch): void;
  /** Records a snapshot of the applied state at `index` (≤ applied) so the log below can be compacted. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot;
  /** Drops entries before `index`; `index` must not be past the latest snapshot. */
  compact(index: number): void;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: '', commit: 0 };

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === '' && hs.commit === 0;
}

export function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

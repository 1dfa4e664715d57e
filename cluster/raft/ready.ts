/**
 * A Ready is the core's whole output for one turn of the caller's loop
 * (etcd's rawnode.go contract):
 *   1. persist `snapshot`, `entries` and `hardState` (storage.save), durably;
 *   2. only then send `messages` (a vote or an append acknowledgement must
 *      never leave before what it promises is on disk);
 *   3. restore `snapshot` into the state machine if present, then apply
 *      `committedEntries` in order;
 *   4. call advance(ready).
 */
import type { Entry, HardState, Message, ReadState, Snapshot, SoftState } from './messages.js';

export interface Ready {
  /** Present when role or leader changed. */
  readonly softState?: SoftState;
  /** Present when term, vote or commit changed. */
  readonly hardState?: HardState;
  readonly readStates: readonly ReadState[];
  /** New log entries to persist (they may replace a conflicting stored tail). */
  readonly entries: readonly Entry[];
  /** A snapshot from the leader to persist and restore. */
  readonly snapshot?: Snapshot;
  /** Committed entries to apply to the state machine, in index order. */
  readonly committedEntries: readonly Entry[];
  /** To send after persisting. */
  readonly messages: readonly Message[];
  /** Whether the persist step must fsync: term, vote, entries or snapshot changed (commit alone may be lost). */
  readonly mustSync: boolean;
}

export function isEmptyReady(rd: Ready): boolean {
  return (
    rd.softState === undefined &&
    rd.hardState === undefined &&
    rd.snapshot === undefined &&
    rd.readStates.length === 0 &&
    rd.entries.length === 0 &&
    rd.committedEntries.length === 0 &&
    rd.messages.length === 0
  );
}

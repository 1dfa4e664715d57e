/**
 * The read side of RaftStorage, written once: both storages hold their whole
 * log in a StoredLog and answer every read from it, so bounds checks, the
 * term lookups and the snapshot boundary behave the same in memory and on
 * disk. Subclasses differ only in how a write is made durable.
 */
import type { ConfState, Entry, Snapshot } from '../messages.js';
import { StoredLog } from './memory-log.js';
import type { InitialState, RaftStorage, StorageBatch } from './storage.js';

export abstract class StoredLogStorage implements RaftStorage {
  protected readonly log = new StoredLog();

  initialState(): InitialState {
    return this.log.initialState();
  }
  entries(lo: number, hi: number): Entry[] {
    return this.log.entries(lo, hi);
  }
  term(index: number): number {
    return this.log.term(index);
  }
  firstIndex(): number {
    return this.log.firstIndex();
  }
  lastIndex(): number {
    return this.log.lastIndex();
  }
  snapshot(): Snapshot {
    return this.log.snapshot();
  }

  abstract save(batch: StorageBatch): void;
  abstract createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot;
  abstract compact(index: number): void;
}

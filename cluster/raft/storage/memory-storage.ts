/**
 * Storage that lives in memory, for the simulator and tests. "Durable" here
 * means: it survives a simulated crash of the node, which only discards the
 * core and whatever it had not yet handed over in a Ready.
 */
import type { ConfState, Entry, Snapshot } from '../messages.js';
import { StoredLog } from './memory-log.js';
import type { InitialState, RaftStorage, StorageBatch } from './storage.js';

export class MemoryStorage implements RaftStorage {
  private readonly log = new StoredLog();

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
  save(batch: StorageBatch): void {
    this.log.apply(batch);
  }
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    return this.log.createSnapshot(index, confState, data);
  }
  compact(index: number): void {
    this.log.compact(index);
  }
}

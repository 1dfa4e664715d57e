/**
 * Storage that lives in memory, for the simulator and tests. "Durable" here
 * means: it survives a simulated crash of the node, which only discards the
 * core and whatever it had not yet handed over in a Ready.
 */
import type { ConfState, Snapshot } from '../messages.js';
import type { StorageBatch } from './storage.js';
import { StoredLogStorage } from './stored-log-storage.js';

export class MemoryStorage extends StoredLogStorage {
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

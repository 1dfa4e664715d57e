/**
 * The node's log as the core sees it: the persisted part in storage, the
 * not-yet-persisted tail in UnstableLog, and the commit/apply cursors
 * (etcd's log.go). Invariant: applied ≤ committed ≤ lastIndex.
 */
import { LogCompactedError, LogUnavailableError, RaftUsageError } from './errors.js';
import type { Entry, Snapshot } from './messages.js';
import { UnstableLog } from './log-unstable.js';
import type { RaftStorage } from './storage/storage.js';

export class RaftLog {
  readonly unstable: UnstableLog;
  committed: number;
  applied: number;

  constructor(readonly storage: RaftStorage) {
    const last = storage.lastIndex();
    this.unstable = new UnstableLog(last + 1);
    // Everything up to the snapshot is applied by restoring the snapshot itself; entries
    // kept below it after compaction are there for lagging followers, not to re-apply.
    const snapIndex = storage.snapshot().metadata.index;
    this.committed = snapIndex;
    this.applied = snapIndex;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.termOrThrow(this.lastIndex());
  }

  /** Term at index, or undefined if it is compacted or past the end. 0 answers for index 0. */
  term(index: number): number | undefined {
    if (index === 0) return 0;
    const dummy = this.firstIndex() - 1;
    if (index < dummy || index > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(index);
    if (t !== undefined) return t;
    try {
      return this.storage.term(index);
    } catch (err) {
      if (err instanceof LogCompactedError || err instanceof LogUnavailableError) return undefined;
      throw err;
    }
  }

  private termOrThrow(index: number): number {
    const t = this.term(index);
    if (t === undefined) throw new RaftUsageError(`term of index ${index} is unavailable`);
    return t;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /**
   * §5.4.1: a candidate's log is at least as up to date as ours if its last
   * term is higher, or equal with an index at least as long.
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The follower side of AppendEntries (§5.3): if our log holds (index,
   * logTerm), drop any conflicting suffix, append what is new, and advance
   * commit. Returns the last index known to match the leader, or undefined
   * if the consistency check fails.
   */
  maybeAppend(index: number, logTerm: number, committed: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new RaftUsageError(`entry ${conflict} conflicts with committed entry (committed ${this.committed})`);
      }
      this.append(entries.slice(conflict - index - 1));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** First index whose term differs from ours (or is new); 0 when every entry is already present. */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast back-off (§5.3, last paragraph): the largest index ≤ `index` whose
   * term is ≤ `term`. Every entry between it and `index` has a larger term
   * and so cannot match the other log, which lets the leader skip a whole
   * term per round trip instead of one entry.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (; i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const after = entries[0]!.index - 1;
    if (after < this.committed) {
      throw new RaftUsageError(`append after ${after} would overwrite committed ${this.committed}`);
    }
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new RaftUsageError(`commit ${index} is past last index ${this.lastIndex()}`);
    }
    this.committed = index;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    if (index > this.committed || index < this.applied) {
      throw new RaftUsageError(`applied ${index} is outside [${this.applied}, ${this.committed}]`);
    }
    this.applied = index;
  }

  /** Entries in [lo, hi) from storage and the unstable tail; throws LogCompactedError below firstIndex. */
  slice(lo: number, hi: number): Entry[] {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) throw new LogCompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new LogUnavailableError(hi - 1);
    const out: Entry[] = [];
    if (lo < this.unstable.offset) {
      out.push(...this.storage.entries(lo, Math.min(hi, this.unstable.offset)));
    }
    if (hi > this.unstable.offset) {
      out.push(...this.unstable.slice(Math.max(lo, this.unstable.offset), hi));
    }
    return out;
  }

  /** Entries from `lo` on, at most `maxCount` of them (bounds one append message). */
  entriesFrom(lo: number, maxCount: number): Entry[] {
    const last = this.lastIndex();
    if (lo > last) return [];
    return this.slice(lo, Math.min(last + 1, lo + maxCount));
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > this.applied && !this.unstable.snapshot;
  }

  nextCommittedEntries(): Entry[] {
    // A pending snapshot must be installed before any entry after it applies.
    if (!this.hasNextCommittedEntries()) return [];
    return this.slice(Math.max(this.applied + 1, this.firstIndex()), this.committed + 1);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  /** §5.3/§5.4.2: commit `maxIndex` only if it carries the leader's current term (Figure 8). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }
}

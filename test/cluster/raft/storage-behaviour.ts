/**
 * The behaviour every RaftStorage shows, as one suite each implementation
 * runs (storage.test.ts). It pins the read side the core relies on (ranges,
 * terms, first and last index, the compaction and snapshot boundaries, the
 * errors past either end, the hard state) as the write side leaves it.
 *
 * `restart` is what a node sees after a crash: the same object for memory,
 * the folder opened again for files. A variant that restarts before every
 * read makes each test here a durability test as well.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LogCompactedError, LogUnavailableError, RaftUsageError } from '../../../cluster/raft/errors.js';
import type { ConfState, Entry, HardState, Snapshot } from '../../../cluster/raft/messages.js';
import type { RaftStorage } from '../../../cluster/raft/storage/storage.js';

export interface StorageFactory {
  /** A new, empty storage. */
  create(): RaftStorage;
  /** The storage as the node finds it after a restart; the old handle is not used again. */
  restart(storage: RaftStorage): RaftStorage;
  /** Frees what create() took (open files, folders). */
  dispose(storage: RaftStorage): void;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const e = (index: number, term: number, data = `e${index}`): Entry => ({ index, term, type: 'normal', data: enc(data) });
/** Entries first..last, with the given term for each. */
const run = (first: number, terms: number[], tag = 'e'): Entry[] => terms.map((t, i) => e(first + i, t, `${tag}${first + i}`));
const shape = (entries: readonly Entry[]) => entries.map((x) => [x.index, x.term, x.type, dec(x.data)]);
const CONF: ConfState = { voters: ['a', 'b', 'c'], learners: ['d'] };

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

export function storageBehaviour(name: string, factory: StorageFactory): void {
  describe(`RaftStorage behaviour: ${name}`, () => {
    let current: RaftStorage | undefined;
    afterEach(() => {
      if (current) factory.dispose(current);
      current = undefined;
    });
    const fresh = (): RaftStorage => (current = factory.create());
    /** The storage after a restart; the test reads and writes on through what this returns. */
    const restart = (s: RaftStorage): RaftStorage => (current = factory.restart(s));
    /** Saves, then restarts: every read below sees only what was made durable. */
    const saved = (...batches: Parameters<RaftStorage['save']>[0][]): RaftStorage => {
      const s = fresh();
      for (const b of batches) s.save(b);
      return restart(s);
    };
    const committed = (commit: number): HardState => ({ term: 9, vote: '', commit });

    describe('an empty storage', () => {
      it('has first index 1, last index 0, term(0) = 0, the empty hard state, snapshot and configuration', () => {
        const s = restart(fresh());
        expect([s.firstIndex(), s.lastIndex(), s.term(0)]).toEqual([1, 0, 0]);
        expect(s.initialState()).toEqual({ hardState: { term: 0, vote: '', commit: 0 }, confState: { voters: [], learners: [] } });
        expect(s.snapshot().metadata).toEqual({ index: 0, term: 0, confState: { voters: [], learners: [] } });
        expect(s.snapshot().data.length).toBe(0);
        expect(s.entries(1, 1)).toEqual([]);
      });

      it('answers reads past its end with LogUnavailableError, and index 0 as compacted', () => {
        const s = restart(fresh());
        expect(thrown(() => s.entries(1, 2))).toBeInstanceOf(LogUnavailableError);
        expect(thrown(() => s.term(1))).toBeInstanceOf(LogUnavailableError);
        expect(thrown(() => s.entries(0, 1))).toBeInstanceOf(LogCompactedError);
      });
    });

    describe('entries and terms', () => {
      it('returns entries [lo, hi) as saved: index, term, type and data', () => {
        const conf: Entry = { index: 3, term: 2, type: 'conf-change', data: enc('add d') };
        const empty: Entry = { index: 4, term: 2, type: 'normal', data: new Uint8Array(0) };
        const s = saved({ entries: [e(1, 1), e(2, 1), conf, empty, e(5, 3)] });
        expect([s.firstIndex(), s.lastIndex()]).toEqual([1, 5]);
        expect(shape(s.entries(1, 6))).toEqual([
          [1, 1, 'normal', 'e1'],
          [2, 1, 'normal', 'e2'],
          [3, 2, 'conf-change', 'add d'],
          [4, 2, 'normal', ''],
          [5, 3, 'normal', 'e5'],
        ]);
        expect(shape(s.entries(2, 4))).toEqual([
          [2, 1, 'normal', 'e2'],
          [3, 2, 'conf-change', 'add d'],
        ]);
        expect(s.entries(3, 3)).toEqual([]);
        expect(s.entries(6, 6)).toEqual([]);
      });

      it('answers term(i) for every held index, and term(0) before any compaction', () => {
        const s = saved({ entries: run(1, [1, 1, 2, 3, 3]) });
        expect([0, 1, 2, 3, 4, 5].map((i) => s.term(i))).toEqual([0, 1, 1, 2, 3, 3]);
      });

      it('refuses reads past the last index with LogUnavailableError', () => {
        const s = saved({ entries: run(1, [1, 1, 1]) });
        expect(thrown(() => s.entries(2, 5))).toBeInstanceOf(LogUnavailableError);
        expect(thrown(() => s.entries(4, 5))).toBeInstanceOf(LogUnavailableError);
        expect(thrown(() => s.term(4))).toBeInstanceOf(LogUnavailableError);
        expect(shape(s.entries(2, 4)).map((x) => x[0])).toEqual([2, 3]);
      });

      it('continues the log across saves and restarts', () => {
        let s = saved({ entries: run(1, [1, 1]) });
        s.save({ entries: run(3, [2]) });
        s = restart(s);
        s.save({ entries: run(4, [2, 2]) });
        s = restart(s);
        expect(shape(s.entries(1, 6)).map((x) => [x[0], x[1]])).toEqual([[1, 1], [2, 1], [3, 2], [4, 2], [5, 2]]);
      });

      it('replaces a conflicting tail from the first new index on (§5.3): the old entries after it are gone', () => {
        const s = saved({ entries: run(1, [1, 1, 1, 1, 1]) }, { entries: run(3, [4], 'new') });
        expect(s.lastIndex()).toBe(3);
        expect(shape(s.entries(1, 4))).toEqual([
          [1, 1, 'normal', 'e1'],
          [2, 1, 'normal', 'e2'],
          [3, 4, 'normal', 'new3'],
        ]);
        expect(thrown(() => s.term(4))).toBeInstanceOf(LogUnavailableError);
      });

      it('refuses a batch that would leave a gap, and keeps what it held', () => {
        let s = saved({ entries: run(1, [1, 1]), hardState: committed(1) });
        expect(thrown(() => s.save({ entries: run(4, [1]), hardState: committed(2) }))).toBeInstanceOf(RaftUsageError);
        s = restart(s);
        expect([s.lastIndex(), s.initialState().hardState.commit]).toEqual([2, 1]);
        s.save({ entries: run(3, [1]) });
        expect(restart(s).lastIndex()).toBe(3);
      });
    });

    describe('hard state', () => {
      it('returns the last hard state saved; a batch without one keeps it', () => {
        const hs: HardState = { term: 3, vote: 'n2', commit: 2 };
        const s = saved(
          { entries: run(1, [1, 1]), hardState: { term: 1, vote: 'n1', commit: 1 } },
          { entries: [], hardState: hs },
          { entries: run(3, [3]) },
        );
        expect(s.initialState().hardState).toEqual(hs);
      });
    });

    describe('snapshots and compaction', () => {
      /** Entries 1..6 of terms 1,1,2,2,3,3, committed through 6. */
      const sixEntries = () => saved({ entries: run(1, [1, 1, 2, 2, 3, 3]), hardState: committed(6) });

      it('createSnapshot records the index, its term and the configuration, and keeps the log whole until compacted', () => {
        let s = sixEntries();
        const snap = s.createSnapshot(4, CONF, enc('state@4'));
        expect(snap.metadata).toEqual({ index: 4, term: 2, confState: CONF });
        s = restart(s);
        expect(s.snapshot().metadata).toEqual({ index: 4, term: 2, confState: CONF });
        expect(dec(s.snapshot().data)).toBe('state@4');
        expect(s.initialState().confState).toEqual(CONF);
        expect([s.firstIndex(), s.lastIndex()]).toEqual([1, 6]);
        expect(s.entries(1, 7)).toHaveLength(6);
      });

      it('createSnapshot at or below the latest snapshot returns that one unchanged; past the last index it is refused', () => {
        let s = sixEntries();
        s.createSnapshot(4, CONF, enc('state@4'));
        s = restart(s);
        for (const index of [4, 2]) {
          const again = s.createSnapshot(index, { voters: ['x'], learners: [] }, enc('other'));
          expect([again.metadata.index, dec(again.data)]).toEqual([4, 'state@4']);
        }
        expect(thrown(() => s.createSnapshot(7, CONF, enc('future')))).toBeInstanceOf(RaftUsageError);
        s = restart(s);
        expect([s.snapshot().metadata.index, dec(s.snapshot().data)]).toEqual([4, 'state@4']);
      });

      it('compact(i) drops entries through i: firstIndex is i+1, term(i) still answers, anything below is LogCompactedError', () => {
        let s = sixEntries();
        s.createSnapshot(4, CONF, enc('state@4'));
        s.compact(4);
        s = restart(s);
        expect([s.firstIndex(), s.lastIndex(), s.term(4)]).toEqual([5, 6, 2]);
        expect(shape(s.entries(5, 7)).map((x) => x[0])).toEqual([5, 6]);
        const below = thrown(() => s.entries(4, 6));
        expect(below).toBeInstanceOf(LogCompactedError);
        expect((below as LogCompactedError).index).toBe(4);
        expect(thrown(() => s.entries(1, 2))).toBeInstanceOf(LogCompactedError);
        expect(thrown(() => s.term(3))).toBeInstanceOf(LogCompactedError);
        expect(thrown(() => s.term(0))).toBeInstanceOf(LogCompactedError);
        expect(thrown(() => s.term(7))).toBeInstanceOf(LogUnavailableError);
      });

      it('compacts below the snapshot, keeping the entries between for slow followers', () => {
        let s = sixEntries();
        s.createSnapshot(5, CONF, enc('state@5'));
        s.compact(2);
        s = restart(s);
        expect([s.firstIndex(), s.lastIndex(), s.term(2), s.snapshot().metadata.index]).toEqual([3, 6, 1, 5]);
        expect(shape(s.entries(3, 7)).map((x) => x[3])).toEqual(['e3', 'e4', 'e5', 'e6']);
      });

      it('refuses to compact past the latest snapshot; compacting at or below the compaction point changes nothing', () => {
        let s = sixEntries();
        s.createSnapshot(3, CONF, enc('state@3'));
        expect(thrown(() => s.compact(4))).toBeInstanceOf(RaftUsageError);
        s.compact(3);
        s.compact(3);
        s.compact(1);
        s = restart(s);
        expect([s.firstIndex(), s.lastIndex(), s.term(3)]).toEqual([4, 6, 2]);
      });

      it('appends after the compaction point, skipping entries a batch repeats at or below it (they are committed)', () => {
        let s = sixEntries();
        s.createSnapshot(4, CONF, enc('state@4'));
        s.compact(4);
        s.save({ entries: [...run(3, [2, 2], 'again'), ...run(5, [3, 3, 4], 'next')] });
        s = restart(s);
        expect([s.firstIndex(), s.lastIndex(), s.term(4)]).toEqual([5, 7, 2]);
        expect(shape(s.entries(5, 8)).map((x) => [x[0], x[1], x[3]])).toEqual([[5, 3, 'next5'], [6, 3, 'next6'], [7, 4, 'next7']]);
        // A batch entirely below the compaction point changes nothing.
        s.save({ entries: run(2, [1, 2]) });
        expect(restart(s).lastIndex()).toBe(7);
      });

      it("a leader's snapshot replaces the whole log: firstIndex index+1, lastIndex index, term(index) its term; entries in the same batch follow it", () => {
        const snap: Snapshot = { metadata: { index: 10, term: 3, confState: CONF }, data: enc('ten') };
        const s = saved(
          { entries: run(1, [1, 1, 1]), hardState: committed(2) },
          { snapshot: snap, entries: run(11, [3, 3]), hardState: { term: 3, vote: '', commit: 10 } },
        );
        expect([s.firstIndex(), s.lastIndex(), s.term(10), s.term(12)]).toEqual([11, 12, 3, 3]);
        expect(s.snapshot().metadata).toEqual(snap.metadata);
        expect(dec(s.snapshot().data)).toBe('ten');
        expect(s.initialState()).toEqual({ hardState: { term: 3, vote: '', commit: 10 }, confState: CONF });
        expect(thrown(() => s.entries(3, 4))).toBeInstanceOf(LogCompactedError);
      });

      it("a leader's snapshot inside the held log still replaces all of it, the entries after it too", () => {
        const snap: Snapshot = { metadata: { index: 3, term: 2, confState: CONF }, data: enc('three') };
        const s = saved({ entries: run(1, [1, 1, 2, 2, 2]), hardState: committed(3) }, { snapshot: snap, entries: [] });
        expect([s.firstIndex(), s.lastIndex(), s.term(3)]).toEqual([4, 3, 2]);
      });

      it('ignores a snapshot older than the one held, which would roll the state machine back', () => {
        let s = sixEntries();
        s.createSnapshot(5, CONF, enc('state@5'));
        s.compact(5);
        s = restart(s);
        s.save({ snapshot: { metadata: { index: 3, term: 2, confState: { voters: ['old'], learners: [] } }, data: enc('old') }, entries: [] });
        s = restart(s);
        expect([s.firstIndex(), s.lastIndex(), s.snapshot().metadata.index, dec(s.snapshot().data)]).toEqual([6, 6, 5, 'state@5']);
        expect(s.initialState().confState).toEqual(CONF);
      });
    });
  });
}

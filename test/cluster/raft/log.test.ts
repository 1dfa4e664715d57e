/**
 * The log, progress and quorum pieces on their own: the arithmetic the
 * paper-rule tests rely on, checked at its edges.
 */
import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../../cluster/raft/log.js';
import type { Entry } from '../../../cluster/raft/messages.js';
import { Progress } from '../../../cluster/raft/progress.js';
import { committedIndex, voteResult } from '../../../cluster/raft/quorum.js';
import { MemoryStorage } from '../../../cluster/raft/storage/memory-storage.js';

const e = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new Uint8Array([index]) });

function logWith(terms: number[]): RaftLog {
  const s = new MemoryStorage();
  s.save({ entries: terms.map((t, i) => e(i + 1, t)) });
  return new RaftLog(s);
}

describe('RaftLog', () => {
  it('reads across the persisted part and the unstable tail', () => {
    const log = logWith([1, 1, 2]);
    log.append([e(4, 3), e(5, 3)]);
    expect(log.slice(2, 6).map((x) => [x.index, x.term])).toEqual([
      [2, 1],
      [3, 2],
      [4, 3],
      [5, 3],
    ]);
    expect([log.lastIndex(), log.lastTerm(), log.term(0), log.term(9)]).toEqual([5, 3, 0, undefined]);
  });

  it('finds the first conflicting entry and truncates from it on append', () => {
    const log = logWith([1, 1, 2, 2]);
    expect(log.findConflict([e(3, 2), e(4, 2)])).toBe(0);
    expect(log.findConflict([e(3, 2), e(4, 3), e(5, 3)])).toBe(4);
    expect(log.maybeAppend(3, 2, 0, [e(4, 3), e(5, 3)])).toBe(5);
    expect([log.term(4), log.lastIndex()]).toEqual([3, 5]);
    expect(log.maybeAppend(5, 9, 0, [])).toBeUndefined();
  });

  it('never truncates a committed entry', () => {
    const log = logWith([1, 1, 2]);
    log.commitTo(3);
    expect(() => log.maybeAppend(1, 1, 3, [e(2, 5)])).toThrow(/committed/);
  });

  it('finds where to probe next by term (fast back-off)', () => {
    const log = logWith([1, 1, 2, 2, 2, 5, 5]);
    expect(log.findConflictByTerm(7, 4)).toEqual({ index: 5, term: 2 });
    expect(log.findConflictByTerm(7, 1)).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(20, 5)).toEqual({ index: 7, term: 5 });
    expect(log.findConflictByTerm(3, 0)).toEqual({ index: 0, term: 0 });
  });

  it('compares logs by last term, then length (§5.4.1)', () => {
    const log = logWith([1, 2, 2]);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });
});

describe('Progress', () => {
  it('probes one message at a time, then streams within the in-flight window', () => {
    const pr = new Progress(5, false, 2);
    pr.sentEntries(5, 1);
    expect(pr.isPaused()).toBe(true);
    expect(pr.maybeUpdate(5)).toBe(true);
    pr.becomeReplicate();
    pr.sentEntries(6, 1);
    pr.sentEntries(7, 1);
    expect(pr.isPaused()).toBe(true);
    pr.maybeUpdate(6);
    expect(pr.isPaused()).toBe(false);
  });

  it('ignores stale rejections and backs off to the hint on a current one', () => {
    const pr = new Progress(10, false, 8);
    pr.match = 3;
    expect(pr.maybeDecrTo(5, 2)).toBe(false);
    expect(pr.maybeDecrTo(9, 6)).toBe(true);
    expect(pr.next).toBe(7);
    const rep = new Progress(10, false, 8);
    rep.match = 6;
    rep.becomeReplicate();
    expect(rep.maybeDecrTo(6, 0)).toBe(false);
    expect(rep.maybeDecrTo(8, 0)).toBe(true);
    expect(rep.next).toBe(7);
  });
});

describe('quorum', () => {
  it('commits the highest index held by a majority of voters', () => {
    const match = new Map([
      ['a', 9],
      ['b', 7],
      ['c', 3],
      ['d', 7],
      ['e', 1],
    ]);
    expect(committedIndex(['a', 'b', 'c', 'd', 'e'], (id) => match.get(id)!)).toBe(7);
    expect(committedIndex(['a', 'c', 'e'], (id) => match.get(id)!)).toBe(3);
    expect(committedIndex(['a'], (id) => match.get(id)!)).toBe(9);
  });

  it('decides an election as soon as the outcome is certain', () => {
    const voters = ['a', 'b', 'c', 'd', 'e'];
    expect(voteResult(voters, new Map([['a', true], ['b', true]]))).toBe('pending');
    expect(voteResult(voters, new Map([['a', true], ['b', true], ['c', true]]))).toBe('won');
    expect(voteResult(voters, new Map([['a', true], ['b', false], ['c', false], ['d', false]]))).toBe('lost');
  });
});

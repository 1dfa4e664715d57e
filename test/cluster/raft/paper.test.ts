/**
 * One test per rule of the Raft paper (Ongaro & Ousterhout, "In Search of an
 * Understandable Consensus Algorithm"), in the spirit of etcd's
 * raft_paper_test.go. Pre-vote and check-quorum are off here unless a test
 * says otherwise: these are the rules of the paper itself.
 */
import { describe, expect, it } from 'vitest';
import type { RaftConfig } from '../../../cluster/raft/config.js';
import type { Entry, Message, VoteRequest } from '../../../cluster/raft/messages.js';
import { Harness, type HarnessOptions } from './harness.js';
import { OldTermCommitNode } from './sim/broken-variants.js';
import { InvariantChecker, InvariantViolation } from './sim/checker.js';

const paper = { preVote: false, checkQuorum: false } as const;
const enc = (s: string) => new TextEncoder().encode(s);

function entry(index: number, term: number, data = ''): Entry {
  return { index, term, type: 'normal', data: enc(data) };
}

function voteRequest(from: string, to: string, term: number, index: number, logTerm: number): VoteRequest {
  return { type: 'vote', from, to, term, index, logTerm, transfer: false };
}

/** Bootstrap writes the founders' conf changes at indexes 1..n with term 1. */
const BOOT = 3;

describe('§5.1 terms', () => {
  it('starts every node as a follower of the stored term (§5.2)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    for (const id of ['a', 'b', 'c']) {
      expect(h.get(id).status()).toMatchObject({ role: 'follower', term: 1, leader: '' });
    }
  });

  it('makes a leader step down to follower when it sees a higher term (§5.1)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.elect('a');
    h.deliver({ type: 'heartbeat', from: 'c', to: 'a', term: 9, commit: 0, context: undefined });
    expect(h.get('a').status()).toMatchObject({ role: 'follower', term: 9, leader: 'c' });
  });

  it('makes a candidate adopt a higher term and become follower (§5.1)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.get('a').campaign();
    h.drain();
    expect(h.get('a').status().role).toBe('candidate');
    h.deliver({ type: 'app', from: 'b', to: 'a', term: 7, index: BOOT, logTerm: 1, entries: [], commit: BOOT });
    expect(h.get('a').status()).toMatchObject({ role: 'follower', term: 7, leader: 'b' });
  });

  it('ignores a request carrying a stale term (§5.1)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.elect('a');
    h.elect('b');
    expect(h.get('b').status().term).toBe(3);
    h.drain();
    h.deliver({ type: 'app', from: 'a', to: 'c', term: 2, index: BOOT + 1, logTerm: 2, entries: [entry(BOOT + 2, 2, 'stale')], commit: 0 });
    expect(h.get('c').termAt(BOOT + 2)).toBe(3);
    expect(h.get('c').status().leader).toBe('b');
  });
});

describe('§5.2 leader election', () => {
  it('sends heartbeats from the leader every heartbeat interval (§5.2)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.elect('a');
    h.drain();
    h.tick('a');
    const beats = h.drain((m) => m.type === 'heartbeat');
    expect(beats.map((m) => m.to).sort()).toEqual(['b', 'c']);
  });

  it('starts an election after the election timeout: new term, own vote, vote requests to all (§5.2)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.tick('a', 20);
    const st = h.get('a').status();
    expect(st).toMatchObject({ role: 'candidate', term: 2, vote: 'a' });
    const reqs = h.drain((m) => m.type === 'vote');
    expect(reqs.map((m) => m.to).sort()).toEqual(['b', 'c']);
    expect(reqs.every((m) => m.term === 2)).toBe(true);
  });

  it('randomizes the election timeout within [ET, 2·ET) (§5.2)', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const h = new Harness(['a', 'b', 'c'], { ...paper, seed, electionTicks: 10 });
      let ticks = 0;
      while (h.get('a').status().role === 'follower') {
        h.tick('a');
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      seen.add(ticks);
    }
    expect(seen.size).toBeGreaterThan(4);
  });

  it('wins the election with votes from a majority, and only then (§5.2)', () => {
    const cases: [string[], number, boolean][] = [
      [['a'], 1, true],
      [['a', 'b', 'c'], 2, true],
      [['a', 'b', 'c'], 1, false],
      [['a', 'b', 'c', 'd', 'e'], 3, true],
      [['a', 'b', 'c', 'd', 'e'], 2, false],
    ];
    for (const [ids, votes, wins] of cases) {
      const h = new Harness(ids, paper);
      h.get('a').campaign();
      const reqs = h.drain((m) => m.type === 'vote');
      // Our own vote counts; grant votes-1 more and leave the rest unanswered.
      for (const r of reqs.slice(0, votes - 1)) h.deliver({ type: 'vote-resp', from: r.to, to: 'a', term: r.term, reject: false });
      expect(h.get('a').status().role, `${ids.length} nodes, ${votes} votes`).toBe(wins ? 'leader' : 'candidate');
    }
  });

  it('steps a candidate down once a majority rejects it (§5.2)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.get('a').campaign();
    h.drain();
    h.deliver({ type: 'vote-resp', from: 'b', to: 'a', term: 2, reject: true });
    h.deliver({ type: 'vote-resp', from: 'c', to: 'a', term: 2, reject: true });
    expect(h.get('a').status()).toMatchObject({ role: 'follower', term: 2 });
  });

  it('grants at most one vote per term, first come first served (§5.2)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.deliver(voteRequest('b', 'a', 2, BOOT, 1));
    h.deliver(voteRequest('c', 'a', 2, BOOT, 1));
    h.deliver(voteRequest('b', 'a', 2, BOOT, 1));
    const resps = h.drain((m) => m.type === 'vote-resp' && m.from === 'a');
    expect(resps.map((m) => [m.to, m.type === 'vote-resp' && m.reject])).toEqual([
      ['b', false],
      ['c', true],
      ['b', false],
    ]);
    expect(h.get('a').status().vote).toBe('b');
  });

  it('returns a candidate to follower when a leader of its term appends (§5.2)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.get('a').campaign();
    h.drain();
    h.deliver({ type: 'app', from: 'b', to: 'a', term: 2, index: BOOT, logTerm: 1, entries: [], commit: BOOT });
    expect(h.get('a').status()).toMatchObject({ role: 'follower', term: 2, leader: 'b' });
  });

  it('starts a new election when a split vote leaves a candidate without a majority (§5.2)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.get('a').campaign();
    h.drain();
    expect(h.get('a').status().term).toBe(2);
    h.tick('a', 20);
    expect(h.get('a').status()).toMatchObject({ role: 'candidate', term: 3 });
  });

  it('persists the vote before the vote is sent: one Ready carries both (§5.1, Figure 2)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    const a = h.get('a');
    a.step(voteRequest('b', 'a', 2, BOOT, 1));
    const rd = a.ready();
    expect(rd.hardState).toMatchObject({ term: 2, vote: 'b' });
    expect(rd.mustSync).toBe(true);
    expect(rd.messages.map((m) => m.type)).toEqual(['vote-resp']);
    a.advance(rd);
  });
});

describe('§5.3 log replication', () => {
  it('appends a proposal to the leader log and sends it to every follower (§5.3)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.elect('a');
    h.get('a').propose('x');
    const apps = h.drain((m) => m.type === 'app');
    expect(apps.map((m) => m.to).sort()).toEqual(['b', 'c']);
    for (const m of apps) if (m.type === 'app') expect(m.entries.map((e) => new TextDecoder().decode(e.data))).toEqual(['x']);
    expect(h.get('a').status().lastIndex).toBe(BOOT + 2);
  });

  it('commits an entry once a majority stores it, and tells followers (§5.3)', () => {
    const h = new Harness(['a', 'b', 'c', 'd', 'e'], paper);
    h.elect('a');
    const idx = h.get('a').status().lastIndex + 1;
    h.get('a').propose('x');
    const apps = h.drain((m) => m.type === 'app');
    h.deliver(apps.find((m) => m.to === 'b')!);
    h.stabilize((m) => m.from === 'b' || m.to === 'b');
    expect(h.get('a').status().commit).toBe(idx - 1);
    h.deliver(apps.find((m) => m.to === 'c')!);
    h.stabilize((m) => m.from === 'c');
    expect(h.get('a').status().commit).toBe(idx);
    expect(h.appliedData('a')).toEqual(['x']);
    h.stabilize();
    h.tickAll(1);
    h.stabilize();
    for (const id of ['b', 'c', 'd', 'e']) expect(h.appliedData(id)).toEqual(['x']);
  });

  it('commits all preceding entries with the entry of the current term (§5.3)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.elect('a');
    h.get('a').propose('1');
    h.get('a').propose('2');
    // Only b stores them and a never hears back, so nothing commits in term 2.
    for (const m of h.drain()) if (m.to === 'b') h.deliver(m);
    h.drain();
    expect(h.appliedData('b')).toEqual([]);
    h.elect('b');
    h.tickAll(1);
    h.stabilize();
    for (const id of ['a', 'b', 'c']) expect(h.appliedData(id)).toEqual(['1', '2']);
  });

  it('rejects an append whose previous entry does not match (§5.3 consistency check)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.deliver({ type: 'app', from: 'b', to: 'a', term: 2, index: BOOT + 4, logTerm: 2, entries: [entry(BOOT + 5, 2)], commit: 0 });
    const [resp] = h.drain((m) => m.from === 'a');
    expect(resp).toMatchObject({ type: 'app-resp', reject: true, index: BOOT + 4, rejectHint: BOOT });
    expect(h.get('a').status().lastIndex).toBe(BOOT);
  });

  it('deletes a conflicting suffix and appends the leader entries (§5.3)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.deliver({ type: 'app', from: 'b', to: 'a', term: 2, index: BOOT, logTerm: 1, entries: [entry(BOOT + 1, 2, 'x'), entry(BOOT + 2, 2, 'y')], commit: 0 });
    h.deliver({ type: 'app', from: 'c', to: 'a', term: 3, index: BOOT + 1, logTerm: 2, entries: [entry(BOOT + 2, 3, 'z')], commit: 0 });
    const a = h.get('a');
    expect([a.termAt(BOOT + 1), a.termAt(BOOT + 2), a.status().lastIndex]).toEqual([2, 3, BOOT + 2]);
    expect(h.nodes.get('a')!.storage.term(BOOT + 2)).toBe(3);
  });

  it('brings a diverged follower log in line with the leader (§5.3, Figure 7)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.elect('a');
    // c misses term 2's entries, then holds extra uncommitted entries from a term-3 leader that lost.
    h.isolate('c');
    h.get('a').propose('a1');
    h.get('a').propose('a2');
    h.stabilize();
    h.heal();
    h.deliver({ type: 'app', from: 'x', to: 'c', term: 3, index: BOOT, logTerm: 1, entries: [entry(BOOT + 1, 3, 'lost1'), entry(BOOT + 2, 3, 'lost2'), entry(BOOT + 3, 3, 'lost3'), entry(BOOT + 4, 3, 'lost4')], commit: 0 });
    h.drain();
    h.elect('b');
    h.get('b').propose('b1');
    h.stabilize();
    h.tickAll(2);
    h.stabilize();
    expect(h.appliedData('c')).toEqual(['a1', 'a2', 'b1']);
    const last = h.get('b').status().lastIndex;
    for (let i = 1; i <= last; i++) expect(h.get('c').termAt(i)).toBe(h.get('b').termAt(i));
  });

  it('backs off a whole term per round trip with the rejection hint (§5.3, last paragraph)', () => {
    const h = new Harness(['a', 'b', 'c'], { ...paper, maxEntriesPerMessage: 100 });
    h.elect('a');
    h.isolate('c');
    for (let i = 0; i < 30; i++) h.get('a').propose(`e${i}`);
    h.stabilize();
    h.heal();
    h.drain();
    h.get('a').propose('last');
    // c is 31 entries behind; one rejection + one retry must be enough.
    const rounds: Message[] = [];
    h.stabilize((m) => {
      if (m.to === 'c' && m.type === 'app') rounds.push(m);
      return true;
    });
    expect(rounds.length).toBeLessThanOrEqual(3);
    expect(h.get('c').status().lastIndex).toBe(h.get('a').status().lastIndex);
  });

  it('answers an append below its commit index with the commit index (§5.3)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.elect('a');
    h.get('a').propose('x');
    h.stabilize();
    const commit = h.get('b').status().commit;
    h.deliver({ type: 'app', from: 'a', to: 'b', term: 2, index: 1, logTerm: 1, entries: [], commit: 1 });
    const [resp] = h.drain((m) => m.from === 'b' && m.type === 'app-resp');
    expect(resp).toMatchObject({ reject: false, index: commit });
  });
});

describe('§5.4 safety', () => {
  it('rejects a vote for a candidate whose log is behind (§5.4.1)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.deliver({ type: 'app', from: 'b', to: 'a', term: 2, index: BOOT, logTerm: 1, entries: [entry(BOOT + 1, 2)], commit: 0 });
    h.drain();
    // Older last term loses even with a longer log; same term loses with a shorter log.
    h.deliver(voteRequest('c', 'a', 3, BOOT + 5, 1));
    h.deliver(voteRequest('c', 'a', 4, BOOT, 2));
    const resps = h.drain((m) => m.type === 'vote-resp');
    expect(resps.map((m) => m.type === 'vote-resp' && m.reject)).toEqual([true, true]);
    expect(h.get('a').status().vote).toBe('');
  });

  it('grants a vote to a candidate whose log is at least as up to date (§5.4.1)', () => {
    for (const [index, logTerm] of [
      [BOOT + 1, 2],
      [BOOT, 3],
      [BOOT + 7, 2],
    ] as const) {
      const h = new Harness(['a', 'b', 'c'], paper);
      h.deliver({ type: 'app', from: 'b', to: 'a', term: 2, index: BOOT, logTerm: 1, entries: [entry(BOOT + 1, 2)], commit: 0 });
      h.drain();
      h.deliver(voteRequest('c', 'a', 5, index, logTerm));
      const [resp] = h.drain((m) => m.type === 'vote-resp');
      expect(resp).toMatchObject({ reject: false, term: 5 });
    }
  });

  it('appends a no-op of its own term when it becomes leader (§5.4.2, §8)', () => {
    const h = new Harness(['a', 'b', 'c'], paper);
    h.elect('a');
    const a = h.get('a');
    expect(a.status().lastIndex).toBe(BOOT + 1);
    expect(a.termAt(BOOT + 1)).toBe(2);
    expect(h.nodes.get('a')!.applied.at(-1)).toMatchObject({ index: BOOT + 1, term: 2 });
    expect(h.nodes.get('a')!.applied.at(-1)!.data.length).toBe(0);
  });

  it('commits only entries of the current term by counting replicas (§5.4.2, Figure 8)', () => {
    const h = figure8(undefined);
    // a (term 4) has index 7 of term 2 on a majority (a, b, c) but must not commit it.
    expect(h.get('a').status().commit).toBeLessThan(FIG8_INDEX);
    expect(h.appliedData('a')).not.toContain('x');
  });

  it('never applies different entries at one index through the Figure 8 schedule (§5.4.3)', () => {
    const checker = new InvariantChecker();
    const h = figure8(checker);
    finishFigure8(h);
    // e's entry won index 7 everywhere; the term-2 'x' was never applied by anyone.
    for (const id of ['b', 'c', 'd', 'e']) expect(h.get(id).termAt(FIG8_INDEX)).toBe(3);
    for (const id of ['a', 'b', 'c', 'd', 'e']) expect(h.appliedData(id)).not.toContain('x');
  });

  it('is caught by the checker when old-term replicas count toward commit (negative control, §5.4.2 Figure 8)', () => {
    const checker = new InvariantChecker();
    let caught: unknown;
    try {
      const h = figure8(checker, (c: RaftConfig) => new OldTermCommitNode(c));
      expect(h.appliedData('a')).toContain('x');
      finishFigure8(h);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvariantViolation);
    // e's election already shows it: a leader without an entry someone applied.
    expect(['leader-completeness', 'state-machine-safety']).toContain((caught as InvariantViolation).invariant);
  });
});

/** Five founders at indexes 1..5 (term 1); a's no-op of term 2 lands at 6, so 'x' is index 7. */
const FIG8_INDEX = 7;

/**
 * Figure 8 (a)–(c): a leads term 2 and gets 'x' (index 7) only onto b; e
 * leads term 3 with its own index 7 that reaches nobody; a leads term 4 and
 * replicates 'x' to c, so index 7 of term 2 sits on a majority.
 */
function figure8(checker: InvariantChecker | undefined, createNode?: HarnessOptions['createNode']): Harness {
  const h = new Harness(['a', 'b', 'c', 'd', 'e'], {
    ...paper,
    maxEntriesPerMessage: 1,
    ...(checker ? { checker } : {}),
    ...(createNode ? { createNode } : {}),
  });
  h.elect('a');
  h.get('a').propose('x');
  for (const m of h.drain()) if (m.to === 'b') h.deliver(m);
  h.drain();
  // (b): a is cut off; e wins term 3 with c and d; its own index 7 reaches nobody.
  h.isolate('a');
  h.get('e').campaign();
  h.stabilize((m) => !(m.from === 'e' && m.type === 'app'));
  expect(h.get('e').status()).toMatchObject({ role: 'leader', term: 3 });
  // (c): e is cut off, a restarts and (on its second try, c having voted for e in term 3) wins term 4.
  h.restart('a');
  h.heal();
  h.isolate('e');
  h.cutLink('a', 'd');
  // c may get a's term-2 entry 7, but nothing of term 4.
  const keep = (m: Message) =>
    !(m.type === 'app' && m.to === 'c' && m.entries.some((e) => e.term === 4) && h.get('c').termAt(m.index) === m.logTerm);
  h.get('a').campaign();
  h.stabilize(keep);
  h.get('a').campaign();
  h.stabilize(keep);
  expect(h.get('a').status()).toMatchObject({ role: 'leader', term: 4 });
  expect(h.get('c').termAt(FIG8_INDEX)).toBe(2);
  return h;
}

/** (d): a is cut off before its term-4 entry spreads; e wins term 5 and overwrites index 7 everywhere. */
function finishFigure8(h: Harness): void {
  h.drain();
  h.heal();
  h.isolate('a');
  h.restart('e');
  h.elect('e');
  if (h.get('e').status().role !== 'leader') h.elect('e');
  expect(h.get('e').status()).toMatchObject({ role: 'leader', term: 5 });
  h.tickAll(1);
  h.stabilize();
}

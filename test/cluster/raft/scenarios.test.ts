/**
 * Whole interactions beyond the paper's core rules: pre-vote, check-quorum,
 * leadership transfer, membership changes, snapshots, ReadIndex, proposal
 * forwarding and restarts. Each runs the full Ready loop of every node.
 */
import { describe, expect, it } from 'vitest';
import { ConfChangeRejectedError, ProposalDroppedError } from '../../../cluster/raft/errors.js';
import type { Message } from '../../../cluster/raft/messages.js';
import { Harness } from './harness.js';
import { InvariantChecker } from './sim/checker.js';

function rejection(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfChangeRejectedError) return err.reason;
    throw err;
  }
  return undefined;
}

/** Lets the cluster run `ticks` ticks with every message delivered. */
function run(h: Harness, ticks: number, keep?: (m: Message) => boolean): void {
  for (let i = 0; i < ticks; i++) {
    h.tickAll(1);
    h.stabilize(keep);
  }
}

describe('pre-vote', () => {
  it('keeps a partitioned node from raising its term, so rejoining does not depose the leader', () => {
    const h = new Harness(['a', 'b', 'c'], { preVote: true, checkQuorum: true });
    h.elect('a');
    h.isolate('c');
    run(h, 100);
    // c kept pre-campaigning but never won a pre-vote, so its term stayed put.
    expect(h.get('c').status().term).toBe(2);
    expect(h.get('c').status().role).toBe('pre-candidate');
    h.heal();
    run(h, 5);
    expect(h.leaders()).toEqual(['a']);
    expect(h.get('a').status().term).toBe(2);
    expect(h.get('c').status()).toMatchObject({ role: 'follower', leader: 'a' });
  });

  it('without pre-vote the same partition forces a new election on rejoin', () => {
    const h = new Harness(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
    h.elect('a');
    h.isolate('c');
    run(h, 100);
    expect(h.get('c').status().term).toBeGreaterThan(2);
    h.heal();
    run(h, 40);
    expect(h.get('a').status().term).toBeGreaterThan(2);
  });

  it('becomes a real candidate only after a majority grants the pre-vote', () => {
    const h = new Harness(['a', 'b', 'c'], { preVote: true, checkQuorum: false });
    h.get('a').campaign();
    const pre = h.drain((m) => m.type === 'pre-vote');
    expect(pre.map((m) => m.term)).toEqual([2, 2]);
    expect(h.get('a').status()).toMatchObject({ role: 'pre-candidate', term: 1 });
    h.deliver(pre[0]!);
    h.stabilize();
    expect(h.get('a').status()).toMatchObject({ role: 'leader', term: 2 });
  });

  it('refuses pre-votes for a later term for one election timeout after voting, so a fresh leader is not deposed at once', () => {
    const h = new Harness(['a', 'b', 'c'], { preVote: true, checkQuorum: true });
    const last = h.get('a').status().lastIndex;
    h.deliver({ type: 'vote', from: 'b', to: 'a', term: 2, index: last, logTerm: 1, transfer: false });
    const preVote = { type: 'pre-vote', from: 'c', to: 'a', term: 3, index: last, logTerm: 1, transfer: false } as const;
    h.drain();
    h.deliver(preVote);
    expect(h.drain((m) => m.type === 'pre-vote-resp')).toMatchObject([{ reject: true }]);
    // b never shows up as leader; after an election timeout a may be asked again, and grants.
    h.tick('a', 10);
    h.drain();
    h.deliver(preVote);
    expect(h.drain((m) => m.type === 'pre-vote-resp' && m.to === 'c')).toMatchObject([{ reject: false, term: 3 }]);
  });
});

describe('check-quorum', () => {
  it('makes a leader that lost contact with a majority step down within an election timeout', () => {
    const h = new Harness(['a', 'b', 'c'], { checkQuorum: true });
    h.elect('a');
    h.isolate('a');
    for (let i = 0; i < 21; i++) h.tick('a');
    expect(h.get('a').status().role).toBe('follower');
  });

  it('makes followers that recently heard the leader ignore a vote request (leader lease)', () => {
    const h = new Harness(['a', 'b', 'c'], { checkQuorum: true, preVote: false });
    h.elect('a');
    h.drain();
    h.deliver({ type: 'vote', from: 'c', to: 'b', term: 5, index: 100, logTerm: 9, transfer: false });
    expect(h.drain((m) => m.from === 'b' && m.type === 'vote-resp')).toEqual([]);
    expect(h.get('b').status()).toMatchObject({ term: 2, leader: 'a' });
  });
});

describe('leadership transfer', () => {
  it('hands leadership to an up-to-date follower', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.elect('a');
    h.get('a').transferLeadership('b');
    h.stabilize();
    expect(h.leaders()).toEqual(['b']);
    expect(h.get('a').status()).toMatchObject({ role: 'follower', leader: 'b', term: 3 });
  });

  it('catches a lagging target up before telling it to campaign', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.elect('a');
    h.isolate('c');
    for (let i = 0; i < 5; i++) h.get('a').propose(`p${i}`);
    h.stabilize();
    h.heal();
    h.get('a').transferLeadership('c');
    h.stabilize();
    expect(h.leaders()).toEqual(['c']);
    expect(h.appliedData('c')).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
  });

  it('drops proposals while the transfer is under way', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.elect('a');
    h.isolate('c');
    h.get('a').transferLeadership('c');
    expect(() => h.get('a').propose('x')).toThrow(ProposalDroppedError);
  });

  it('abandons a transfer that does not finish within an election timeout', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.elect('a');
    h.isolate('c');
    h.get('a').transferLeadership('c');
    h.stabilize();
    for (let i = 0; i < 10; i++) {
      h.tick('a');
      h.stabilize();
    }
    expect(h.leaders()).toEqual(['a']);
    expect(h.get('a').status().leadTransferee).toBe('');
    h.get('a').propose('after');
    h.stabilize();
    expect(h.appliedData('b')).toEqual(['after']);
  });

  it('hands off to the most caught-up voter for a graceful shutdown', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.elect('a');
    h.isolate('b');
    h.get('a').propose('b-misses-this');
    h.stabilize();
    h.heal();
    expect(h.get('b').handOffLeadership()).toBeUndefined();
    expect(h.get('a').handOffLeadership()).toBe('c');
    h.stabilize();
    expect(h.leaders()).toEqual(['c']);
  });

  it('forwards a transfer requested on a follower to the leader', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.elect('a');
    h.get('c').transferLeadership('b');
    h.stabilize();
    expect(h.leaders()).toEqual(['b']);
  });
});

describe('membership changes', () => {
  function threeWithJoiner(): Harness {
    const h = new Harness(['a', 'b', 'c'], { joiners: ['d'], checker: new InvariantChecker() });
    h.elect('a');
    h.get('a').propose('before');
    h.stabilize();
    return h;
  }

  it('adds a learner that receives the log but neither votes nor counts toward commit', () => {
    const h = threeWithJoiner();
    h.get('a').proposeConfChange({ type: 'add-learner', node: 'd', context: '127.0.0.4:5270' });
    h.stabilize();
    run(h, 3);
    expect(h.get('a').status().conf).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'] });
    expect(h.appliedData('d')).toEqual(['before']);
    // With b and c cut off, a and learner d are no majority: nothing commits.
    h.isolate('b');
    h.isolate('c');
    const commit = h.get('a').status().commit;
    h.get('a').propose('needs-a-voter');
    run(h, 3);
    expect(h.get('a').status().commit).toBe(commit);
    // A learner never campaigns.
    h.heal();
    h.isolate('a');
    for (let i = 0; i < 60; i++) h.tick('d');
    expect(h.get('d').status().role).toBe('follower');
  });

  it('promotes a caught-up learner to voter, and refuses one that is behind', () => {
    const h = threeWithJoiner();
    h.get('a').proposeConfChange({ type: 'add-learner', node: 'd' });
    h.isolate('d');
    h.stabilize();
    run(h, 2);
    expect(rejection(() => h.get('a').proposeConfChange({ type: 'promote', node: 'd' }))).toBe('learner-behind');
    h.heal();
    run(h, 3);
    expect(rejection(() => h.get('a').proposeConfChange({ type: 'promote', node: 'd' }))).toBeUndefined();
    run(h, 3);
    expect(h.get('a').status().conf).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [] });
    expect(h.get('d').status().conf.voters).toContain('d');
  });

  it('allows one change at a time: a second waits until the first commits', () => {
    const h = threeWithJoiner();
    h.get('a').proposeConfChange({ type: 'add-learner', node: 'd' });
    expect(rejection(() => h.get('a').proposeConfChange({ type: 'remove', node: 'c' }))).toBe('change-in-progress');
    h.stabilize();
    expect(rejection(() => h.get('a').proposeConfChange({ type: 'remove', node: 'c' }))).toBeUndefined();
  });

  it('refuses a change until the leader has committed an entry of its own term (the barrier)', () => {
    const h = new Harness(['a', 'b', 'c'], { joiners: ['d'] });
    h.get('a').campaign();
    // a wins but its no-op has not reached anyone yet.
    h.stabilize((m) => m.type !== 'app');
    expect(h.get('a').status().role).toBe('leader');
    expect(rejection(() => h.get('a').proposeConfChange({ type: 'add-learner', node: 'd' }))).toBe('no-current-term-commit');
    h.tickAll(1);
    h.stabilize();
    expect(rejection(() => h.get('a').proposeConfChange({ type: 'add-learner', node: 'd' }))).toBeUndefined();
  });

  it('rejects changes that make no sense: duplicate add, promoting a voter, removing a stranger, adding a voter directly', () => {
    const h = threeWithJoiner();
    const a = h.get('a');
    expect(rejection(() => a.proposeConfChange({ type: 'add-learner', node: 'b' }))).toBe('invalid');
    expect(rejection(() => a.proposeConfChange({ type: 'promote', node: 'b' }))).toBe('invalid');
    expect(rejection(() => a.proposeConfChange({ type: 'remove', node: 'zz' }))).toBe('invalid');
    expect(rejection(() => a.proposeConfChange({ type: 'add-voter', node: 'd' }))).toBe('invalid');
    expect(rejection(() => h.get('b').proposeConfChange({ type: 'add-learner', node: 'd' }))).toBe('not-leader');
  });

  it('removes a follower: it stops counting, and the rest keep committing', () => {
    const h = threeWithJoiner();
    h.get('a').proposeConfChange({ type: 'remove', node: 'c' });
    run(h, 2);
    expect(h.get('a').status().conf.voters).toEqual(['a', 'b']);
    h.isolate('c');
    h.get('a').propose('two-voters');
    run(h, 2);
    expect(h.appliedData('b')).toEqual(['before', 'two-voters']);
    // The removed node knows it is out and does not campaign.
    for (let i = 0; i < 60; i++) h.tick('c');
    expect(h.get('c').status().role).toBe('follower');
  });

  it('removing the leader first transfers leadership; the new leader then removes it', () => {
    const h = threeWithJoiner();
    expect(rejection(() => h.get('a').proposeConfChange({ type: 'remove', node: 'a' }))).toBe('leader-transferring');
    h.stabilize();
    const [leader] = h.leaders();
    expect(leader).not.toBe('a');
    run(h, 1);
    expect(rejection(() => h.get(leader!).proposeConfChange({ type: 'remove', node: 'a' }))).toBeUndefined();
    run(h, 2);
    expect(h.get(leader!).status().conf.voters).not.toContain('a');
    expect(h.get('a').status().role).toBe('follower');
    h.get(leader!).propose('without-a');
    run(h, 2);
    for (const id of ['b', 'c']) expect(h.appliedData(id)).toEqual(['before', 'without-a']);
  });

  it('keeps membership in step when a removal lets the smaller quorum commit more at once (soak seed 10026 regression)', () => {
    const h = new Harness(['a', 'b', 'c', 'd']);
    h.elect('a');
    h.drain();
    const removal = h.get('a').status().lastIndex + 1;
    h.get('a').proposeConfChange({ type: 'remove', node: 'd' });
    h.get('a').propose('x');
    // b gets the removal and 'x'; c only the removal; d nothing. c's answer commits the removal, after
    // which a and b alone are a majority of {a, b, c} and 'x' commits within the same step.
    const out = h.drain((m) => m.from === 'a' && m.type === 'app');
    for (const m of out) if (m.to === 'b') h.deliver(m);
    h.stabilize((m) => m.from === 'b');
    h.deliver(out.find((m) => m.to === 'c')!);
    h.stabilize((m) => m.from === 'c');
    const a = h.nodes.get('a')!;
    expect(a.node.status()).toMatchObject({ commit: removal + 1, conf: { voters: ['a', 'b', 'c'], learners: [] } });
    // The host applies and compacts right away; the core must not need the compacted entries later.
    const applied = a.node.status().applied;
    a.storage.createSnapshot(applied, a.node.confState(), a.sm.snapshot());
    a.storage.compact(applied);
    expect(() => h.tick('a')).not.toThrow();
    expect(a.node.confState().voters).toEqual(['a', 'b', 'c']);
  });

  it('refuses to remove the last voter', () => {
    const h = new Harness(['solo']);
    h.elect('solo');
    expect(rejection(() => h.get('solo').proposeConfChange({ type: 'remove', node: 'solo' }))).toBe('invalid');
  });
});

describe('snapshots and InstallSnapshot', () => {
  function compact(h: Harness, id: string): void {
    const n = h.nodes.get(id)!;
    const st = n.node.status();
    n.storage.createSnapshot(st.applied, n.node.confState(), n.sm.snapshot());
    n.storage.compact(st.applied);
  }

  it('sends a snapshot to a follower that needs compacted entries, which then catches up', () => {
    const checker = new InvariantChecker();
    const h = new Harness(['a', 'b', 'c'], { checker });
    h.elect('a');
    h.isolate('c');
    for (let i = 0; i < 10; i++) h.get('a').propose(`e${i}`);
    h.stabilize();
    compact(h, 'a');
    h.get('a').propose('after-snapshot');
    h.stabilize();
    h.heal();
    const snaps: Message[] = [];
    run(h, 3, (m) => {
      if (m.type === 'snap') snaps.push(m);
      return true;
    });
    expect(snaps.map((m) => m.to)).toEqual(['c']);
    const c = h.nodes.get('c')!;
    expect(c.storage.snapshot().metadata.index).toBeGreaterThan(0);
    expect(c.sm.ids).toEqual([...Array.from({ length: 10 }, (_, i) => `e${i}`), 'after-snapshot']);
  });

  it('re-sends a lost snapshot after an election timeout', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.elect('a');
    h.isolate('c');
    for (let i = 0; i < 5; i++) h.get('a').propose(`e${i}`);
    h.stabilize();
    compact(h, 'a');
    h.heal();
    let dropped = 0;
    run(h, 25, (m) => {
      if (m.type === 'snap' && dropped === 0) {
        dropped++;
        return false;
      }
      return true;
    });
    expect(dropped).toBe(1);
    expect(h.nodes.get('c')!.sm.ids).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
  });

  it('restarts a node from its snapshot plus the log after it', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.elect('a');
    for (let i = 0; i < 5; i++) h.get('a').propose(`e${i}`);
    run(h, 2);
    compact(h, 'b');
    h.get('a').propose('tail');
    run(h, 2);
    h.restart('b');
    run(h, 2);
    expect(h.nodes.get('b')!.sm.ids).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'tail']);
    expect(h.get('b').status().term).toBe(2);
  });
});

describe('linearizable reads (ReadIndex)', () => {
  it('answers a read on the leader after a heartbeat round confirms leadership', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.elect('a');
    h.get('a').propose('x');
    h.stabilize();
    h.get('a').readIndex('q1');
    expect(h.nodes.get('a')!.readStates).toEqual([]);
    h.stabilize();
    expect(h.nodes.get('a')!.readStates).toEqual([{ index: h.get('a').status().commit, context: 'q1' }]);
  });

  it('does not answer while the leader cannot reach a majority', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.elect('a');
    h.isolate('a');
    h.get('a').readIndex('q');
    h.stabilize();
    expect(h.nodes.get('a')!.readStates).toEqual([]);
  });

  it('answers a read asked on a follower through the leader', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.elect('a');
    h.get('a').propose('x');
    h.stabilize();
    h.get('c').readIndex('from-c');
    h.stabilize();
    const [rs] = h.nodes.get('c')!.readStates;
    expect(rs).toEqual({ index: h.get('a').status().commit, context: 'from-c' });
    expect(h.get('c').status().applied).toBeGreaterThanOrEqual(rs!.index);
  });

  it('holds reads until a new leader has committed an entry of its term', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.get('a').campaign();
    h.stabilize((m) => m.type !== 'app');
    h.get('a').readIndex('early');
    h.stabilize((m) => m.type !== 'app');
    expect(h.nodes.get('a')!.readStates).toEqual([]);
    h.tickAll(1);
    h.stabilize();
    expect(h.nodes.get('a')!.readStates.map((r) => r.context)).toEqual(['early']);
  });

  it('answers at once in a one-node cluster', () => {
    const h = new Harness(['solo']);
    h.elect('solo');
    h.get('solo').readIndex('r');
    h.flushReadies();
    expect(h.nodes.get('solo')!.readStates).toEqual([{ index: 2, context: 'r' }]);
  });
});

describe('proposals and restarts', () => {
  it('initializes a one-node cluster that commits on its own', () => {
    const h = new Harness(['solo']);
    h.tick('solo', 20);
    expect(h.leaders()).toEqual(['solo']);
    h.get('solo').propose('only');
    h.flushReadies();
    expect(h.appliedData('solo')).toEqual(['only']);
  });

  it('forwards a proposal made on a follower to the leader', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.elect('a');
    h.get('c').propose('via-c');
    h.stabilize();
    for (const id of ['a', 'b', 'c']) expect(h.appliedData(id)).toEqual(['via-c']);
  });

  it('refuses a proposal when no leader is known', () => {
    const h = new Harness(['a', 'b', 'c']);
    expect(() => h.get('a').propose('x')).toThrow(ProposalDroppedError);
  });

  it('comes back after a restart with its term, vote and log, and re-applies committed entries', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.elect('a');
    h.get('a').propose('x');
    run(h, 2);
    h.restart('a');
    const st = h.get('a').status();
    expect(st).toMatchObject({ term: 2, vote: 'a', role: 'follower' });
    h.flushReadies();
    expect(h.appliedData('a')).toEqual(['x']);
  });

  it('does not hand out a second Ready before advance()', () => {
    const h = new Harness(['a', 'b', 'c']);
    const a = h.get('a');
    a.campaign();
    a.ready();
    expect(a.hasReady()).toBe(false);
    expect(() => a.ready()).toThrow(/before advance/);
  });
});

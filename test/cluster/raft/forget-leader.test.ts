/**
 * forgetLeader, etcd's ForgetLeader (testdata/forget_leader*.txt): what the
 * cluster wiring calls when a follower's link to its leader closes. The
 * follower drops its leader lease so it can grant pre-votes at once; a quorum
 * still decides, so one broken link cannot depose a leader the others hear.
 */
import { describe, expect, it } from 'vitest';
import type { RaftConfig } from '../../../cluster/raft/config.js';
import type { Message, MessageType, VoteRequest } from '../../../cluster/raft/messages.js';
import { RaftNode } from '../../../cluster/raft/raft-node.js';
import { Harness } from './harness.js';
import { LeaderLinkLoss } from './sim/leader-link-loss.js';
import { Simulation, TICK } from './sim/simulation.js';

/** Counts ticks, so a test can show an election needed none. */
class CountingNode extends RaftNode {
  ticks = 0;
  override tick(): void {
    this.ticks++;
    super.tick();
  }
}

function cluster(ids: readonly string[], events: string[] = []): Harness {
  return new Harness(ids, {
    preVote: true,
    checkQuorum: true,
    createNode: (c: RaftConfig) => new CountingNode({ ...c, logger: (event, f) => events.push(`${String(f.id)} ${event}`) }),
  });
}

function ticksOf(h: Harness, ids: readonly string[]): number {
  return ids.reduce((sum, id) => sum + (h.get(id) as CountingNode).ticks, 0);
}

/** Lets the cluster run `ticks` ticks with every message the filter keeps delivered. */
function run(h: Harness, ticks: number, keep?: (m: Message) => boolean): void {
  for (let i = 0; i < ticks; i++) {
    h.tickAll(1);
    h.stabilize(keep);
  }
}

function preVote(h: Harness, from: string, to: string): VoteRequest {
  const st = h.get(from).status();
  return { type: 'pre-vote', from, to, term: st.term + 1, index: st.lastIndex, logTerm: h.get(from).termAt(st.lastIndex)!, transfer: false };
}

function answers(h: Harness, from: string): Message[] {
  return h.drain((m) => m.from === from && m.type === 'pre-vote-resp');
}

describe('a follower that forgets its leader', () => {
  it('reports leader none in the next Ready, with no hard-state change and nothing to sync', () => {
    const events: string[] = [];
    const h = cluster(['a', 'b', 'c'], events);
    h.elect('a');
    const b = h.get('b');
    const before = b.status();
    b.forgetLeader();
    const rd = b.ready();
    expect(rd.softState).toEqual({ leader: '', role: 'follower' });
    expect(rd.hardState).toBeUndefined();
    expect(rd.mustSync).toBe(false);
    expect(rd.messages).toEqual([]);
    b.advance(rd);
    expect(b.status()).toMatchObject({ term: before.term, vote: before.vote, commit: before.commit, role: 'follower', leader: '' });
    expect(events).toContain('b leader-forgotten');
  });

  it('grants a pre-vote it ignored while in lease, right after voting for the leader, keeping its term and vote', () => {
    const h = cluster(['a', 'b', 'c']);
    h.elect('a');
    h.drain();
    // b voted for a this very election and heard from it since: in lease, it ignores c.
    h.deliver(preVote(h, 'c', 'b'));
    expect(answers(h, 'b')).toEqual([]);
    expect(h.get('b').status()).toMatchObject({ term: 2, vote: 'a', leader: 'a' });
    h.get('b').forgetLeader();
    h.deliver(preVote(h, 'c', 'b'));
    expect(answers(h, 'b')).toMatchObject([{ to: 'c', term: 3, reject: false }]);
    // A pre-vote changes nothing durable (dissertation §9.6).
    expect(h.get('b').status()).toMatchObject({ term: 2, vote: 'a', leader: '', role: 'follower' });
  });

  it('still refuses a pre-vote to a candidate whose log is behind (§5.4.1)', () => {
    const h = cluster(['a', 'b', 'c']);
    h.elect('a');
    h.cutLink('a', 'c');
    h.get('a').propose('c-misses-this');
    h.stabilize();
    h.heal();
    h.get('b').forgetLeader();
    h.deliver(preVote(h, 'c', 'b'));
    expect(answers(h, 'b')).toMatchObject([{ to: 'c', reject: true }]);
  });

  it('keeps its election timer: it times out after as many ticks as if it had not forgotten', () => {
    const timeout = (forget: boolean): number => {
      const h = cluster(['a', 'b', 'c']);
      h.elect('a');
      h.isolate('a');
      let ticks = 0;
      while (h.get('b').status().role === 'follower') {
        if (ticks === 3 && forget) h.get('b').forgetLeader();
        h.tick('b');
        ticks++;
      }
      return ticks;
    };
    expect(timeout(true)).toBe(timeout(false));
  });

  it('re-learns the leader from its next heartbeat', () => {
    const h = cluster(['a', 'b', 'c']);
    h.elect('a');
    h.get('b').forgetLeader();
    h.flushReadies();
    h.tick('a');
    h.stabilize();
    expect(h.get('b').status()).toMatchObject({ role: 'follower', leader: 'a', term: 2 });
    // In lease again: a would-be disruptor is ignored once more.
    h.deliver(preVote(h, 'c', 'b'));
    expect(answers(h, 'b')).toEqual([]);
  });

  it('re-learns the leader from its next append, and proposals are forwarded again', () => {
    const h = cluster(['a', 'b', 'c']);
    h.elect('a');
    h.get('b').forgetLeader();
    h.flushReadies();
    h.get('a').propose('x');
    h.stabilize();
    expect(h.get('b').status().leader).toBe('a');
    h.get('b').propose('via-b');
    h.stabilize();
    expect(h.appliedData('a')).toEqual(['x', 'via-b']);
  });
});

describe('forgetLeader is ignored', () => {
  function noEffect(h: Harness, id: string): void {
    const before = h.get(id).status();
    h.get(id).forgetLeader();
    expect(h.get(id).hasReady()).toBe(false);
    expect(h.get(id).status()).toEqual(before);
  }

  it('by the leader, which keeps leading', () => {
    const events: string[] = [];
    const h = cluster(['a', 'b', 'c'], events);
    h.elect('a');
    noEffect(h, 'a');
    expect(h.get('a').status()).toMatchObject({ role: 'leader', leader: 'a' });
    expect(events).not.toContain('a leader-forgotten');
  });

  it('by a candidate and a pre-candidate, which go on campaigning', () => {
    const h = cluster(['a', 'b', 'c']);
    h.get('a').campaign();
    h.flushReadies();
    expect(h.get('a').status().role).toBe('pre-candidate');
    noEffect(h, 'a');
    // Deliver the pre-votes, then their answers; the vote requests wait in the inbox.
    for (let round = 0; round < 2; round++) for (const m of h.drain()) h.deliver(m);
    expect(h.get('a').status().role).toBe('candidate');
    noEffect(h, 'a');
    h.stabilize();
    expect(h.leaders()).toEqual(['a']);
  });

  it('by a follower that knows no leader', () => {
    const events: string[] = [];
    const h = cluster(['a', 'b', 'c'], events);
    noEffect(h, 'b');
    expect(events).not.toContain('b leader-forgotten');
  });
});

describe('fast failover: the followers of a dead leader forget it and one campaigns', () => {
  it('elects a new leader in one pre-vote and one vote round, with zero ticks', () => {
    const h = cluster(['a', 'b', 'c']);
    h.elect('a');
    run(h, 3);
    const ticksBefore = ticksOf(h, ['b', 'c']);
    h.isolate('a');
    h.get('b').forgetLeader();
    h.get('c').forgetLeader();
    h.get('b').campaign();
    const rounds: MessageType[] = [];
    h.stabilize((m) => {
      if (m.to !== 'a' && m.from !== 'a') rounds.push(m.type);
      return true;
    });
    expect(h.get('b').status()).toMatchObject({ role: 'leader', term: 3 });
    expect(h.get('c').status()).toMatchObject({ role: 'follower', leader: 'b', term: 3 });
    expect(rounds.slice(0, 4)).toEqual(['pre-vote', 'pre-vote-resp', 'vote', 'vote-resp']);
    expect(ticksOf(h, ['b', 'c']) - ticksBefore).toBe(0);
  });

  it('fails the same campaign while the other follower still holds its lease', () => {
    const h = cluster(['a', 'b', 'c']);
    h.elect('a');
    run(h, 3);
    h.isolate('a');
    h.get('b').forgetLeader();
    h.get('b').campaign();
    h.stabilize();
    expect(h.get('b').status()).toMatchObject({ role: 'pre-candidate', term: 2 });
    expect(h.get('c').status()).toMatchObject({ leader: 'a', term: 2 });
  });

  it('needs a quorum: of five, the campaigner and one forgetting follower lose, a second one tips it', () => {
    const h = cluster(['a', 'b', 'c', 'd', 'e']);
    h.elect('a');
    run(h, 3);
    h.isolate('a');
    h.get('c').forgetLeader();
    h.get('b').campaign();
    h.stabilize();
    expect(h.get('b').status()).toMatchObject({ role: 'pre-candidate', term: 2 });
    h.get('d').forgetLeader();
    h.get('b').campaign();
    h.stabilize();
    expect(h.get('b').status()).toMatchObject({ role: 'leader', term: 3 });
  });
});

describe('a slow or broken link between the leader and one follower', () => {
  for (const ids of [
    ['a', 'b', 'c'],
    ['a', 'b', 'c', 'd', 'e'],
  ]) {
    it(`does not depose the healthy leader of ${ids.length} nodes; the follower re-learns it when the link heals`, () => {
      const h = cluster(ids);
      h.elect('a');
      run(h, 3);
      h.cutLink('a', 'c');
      h.cutLink('c', 'a');
      // The wiring sees the link close and reconnects every tick, forgetting and campaigning each time.
      let asked = 0;
      let answered = 0;
      for (let i = 0; i < 60; i++) {
        h.get('c').forgetLeader();
        h.get('c').campaign();
        h.tickAll(1);
        h.stabilize((m) => {
          if (m.type === 'pre-vote' && m.from === 'c') asked++;
          if (m.type === 'pre-vote-resp' && m.to === 'c') answered++;
          return true;
        });
        expect(h.leaders()).toEqual(['a']);
      }
      // The others stayed in lease and ignored every pre-vote; nobody's term moved.
      expect(asked).toBeGreaterThanOrEqual(60 * (ids.length - 2));
      expect(answered).toBe(0);
      for (const id of ids) expect(h.get(id).status().term).toBe(2);
      for (const id of ids.filter((x) => x !== 'c')) expect(h.get(id).status().leader).toBe('a');
      expect(h.get('c').status().leader).toBe('');
      h.heal();
      run(h, 1);
      expect(h.get('c').status()).toMatchObject({ role: 'follower', leader: 'a', term: 2 });
      h.get('a').propose('after-heal');
      run(h, 1);
      expect(h.appliedData('c')).toEqual(['after-heal']);
    });
  }
});

describe('failover in the simulator (real Ready loop, message delays, unsynchronized clocks)', () => {
  /** Ticks from killing a settled leader until another one leads every live voter. */
  function failoverTicks(seed: number, nodes: number, linkLoss: boolean): number {
    const sim = new Simulation({ seed, founders: Array.from({ length: nodes }, (_, i) => `n${i + 1}`) });
    expect(sim.runUntil(100 * TICK, () => sim.stableLeader() !== undefined)).toBe(true);
    // Past the election timeout, so nobody's recent vote holds the next election up.
    sim.runUntil(sim.now + 30 * TICK);
    const old = sim.stableLeader()!;
    sim.crash(old);
    // The kill resets the dead leader's sockets at once: every follower sees its link close.
    if (linkLoss) new LeaderLinkLoss(sim, seed, true).afterChaos();
    const at = sim.now;
    const elected = sim.runUntil(at + 100 * TICK, () => ![undefined, old].includes(sim.stableLeader()));
    expect(elected).toBe(true);
    return (sim.now - at) / TICK;
  }

  it('takes a few ticks when the followers forget the dead leader, and an election timeout when they do not', () => {
    for (const nodes of [3, 5]) {
      const fast = [];
      const slow = [];
      for (let seed = 1; seed <= 20; seed++) {
        fast.push(failoverTicks(seed, nodes, true));
        slow.push(failoverTicks(seed, nodes, false));
      }
      // Two followers whose campaign delays fall within a message delay of each other split the vote
      // and wait out a timeout like anyone else; otherwise the first to campaign wins at once.
      expect(fast.filter((t) => t < 7).length, `${nodes} nodes: ${fast.join(' ')}`).toBeGreaterThanOrEqual(18);
      // Without forgetting, each follower waits its own timeout (ET = 10 ticks) from the last heartbeat.
      expect(Math.min(...slow), `${nodes} nodes: ${slow.join(' ')}`).toBeGreaterThanOrEqual(9);
    }
  });
});

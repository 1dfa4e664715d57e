/**
 * The member loop on real FileStorage over MemoryNetwork links: a cluster
 * formed from one member, proposals from a follower applied everywhere, a
 * leader crash with nothing acknowledged lost across restarts, refusals
 * without quorum, removals, and a learner caught up from a snapshot.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OperatorError } from '../../../src/base/operator-error.js';
import { NO_QUORUM } from '../../../src/node/cluster-control.js';
import { ConfChangeRejectedError } from '../../../cluster/raft/errors.js';
import { addCallbridge, setDomain } from '../../../cluster/state/commands.js';
import { encodeControl } from '../../../cluster/member/control-messages.js';
import { MemberHarness, WAIT_MS } from './member-harness.js';

let h: MemberHarness;
afterEach(async () => {
  await h.close();
});

async function threeMembers(options = {}): Promise<void> {
  h = new MemberHarness(options);
  const first = await h.start(1, { bootstrap: true });
  first.campaign();
  await h.waitLeader(['n1']);
  await h.add(2);
  await h.add(3);
}

const names = (id: string) => h.get(id).state.callbridges().map((c) => c.name);

describe('RaftMember', () => {
  it('forms a three-member cluster and applies a follower\'s proposals on every member', async () => {
    await threeMembers();
    const leader = await h.waitLeader();
    const follower = ['n1', 'n2', 'n3'].map((id) => h.get(id)).find((m) => !m.isLeader())!;
    expect(await follower.propose(setDomain('example.test'), WAIT_MS)).toEqual({ status: 'applied' });
    expect(await follower.propose(addCallbridge('cb1', 'kvgP1SRzWVabhiPVAb1'), WAIT_MS)).toEqual({ status: 'applied' });
    await expect(follower.propose(addCallbridge('cb1', 'other'), WAIT_MS)).rejects.toThrow('callbridge cb1 already exists; del it first to change its secret');
    await h.until(() => ['n1', 'n2', 'n3'].every((id) => names(id).join() === 'cb1'), 'cb1 on every member');
    for (const id of ['n1', 'n2', 'n3']) expect(h.get(id).state.domain()).toBe('example.test');

    // The leader's cluster-view reaches followers: they show every member's match.
    const commit = leader.raftStatus().commit;
    await h.until(
      () => follower.status().members.every((m) => m.match !== null && m.match >= commit && m.lastContact !== null === !m.self),
      'the follower to show the leader\'s view of every member',
    );
    const status = follower.status();
    expect(status.members.map((m) => [m.name, m.component, m.role])).toEqual([
      ['cb1', '10.0.0.1:5222', 'voter'],
      ['cb2', '10.0.0.2:5222', 'voter'],
      ['cb3', '10.0.0.3:5222', 'voter'],
    ]);
    expect(status.members.filter((m) => m.leader).map((m) => m.id)).toEqual([leader.id]);
    expect(status.members.every((m) => m.unreachableSince === null)).toBe(true);
  });

  it('elects a new leader when the leader crashes, keeps every acknowledged change across restarts, and the old leader rejoins as a follower', async () => {
    await threeMembers();
    const first = await h.waitLeader();
    await first.propose(addCallbridge('cb1', 'one'), WAIT_MS);
    await h.crash(first.id);
    const rest = ['n1', 'n2', 'n3'].filter((id) => id !== first.id);
    const second = await h.waitLeader(rest);
    const survivor = h.get(rest.find((id) => id !== second.id)!);
    expect(await survivor.propose(addCallbridge('cb2', 'two'), WAIT_MS)).toEqual({ status: 'applied' });

    // Everyone restarts from disk: the acknowledged changes are there.
    for (const id of rest) await h.crash(id);
    for (const id of ['n1', 'n2', 'n3']) await h.start(Number(id.slice(1)));
    await h.waitLeader();
    await h.until(() => ['n1', 'n2', 'n3'].every((id) => names(id).join() === 'cb1,cb2'), 'both call bridges on every member after restart');

    // A member that restarts rejoins as a follower of the leader it finds.
    const leader = await h.waitLeader();
    const term = leader.raftStatus().term;
    const other = ['n1', 'n2', 'n3'].find((id) => id !== leader.id)!;
    await h.crash(other);
    await h.start(Number(other.slice(1)));
    await h.until(() => h.get(other).leader() === leader.id, `${other} to follow ${leader.id} again`);
    expect(leader.isLeader()).toBe(true);
    expect(leader.raftStatus().term).toBe(term);
  });

  it('applies a follower\'s proposal exactly once when the leader dies while it is in flight', async () => {
    await threeMembers();
    const leader = await h.waitLeader();
    const follower = ['n1', 'n2', 'n3'].map((id) => h.get(id)).find((m) => !m.isLeader())!;
    const pending = follower.propose(addCallbridge('inflight', 'secret'), WAIT_MS);
    await h.crash(leader.id);
    // Committed before the crash, or proposed again (same client and seq) to the next leader: applied once either way.
    expect(await pending).toEqual({ status: 'applied' });
    const rest = ['n1', 'n2', 'n3'].filter((id) => id !== leader.id);
    await h.until(() => rest.every((id) => names(id).join() === 'inflight'), 'the call bridge on both survivors');
  });

  it('refuses changes at once without quorum, and refuses the read barrier so callers can read stale', async () => {
    await threeMembers();
    const leader = await h.waitLeader();
    const survivor = h.get(['n1', 'n2', 'n3'].find((id) => id !== leader.id)!);
    for (const id of ['n1', 'n2', 'n3']) if (id !== survivor.id) await h.crash(id);
    await h.until(() => survivor.leader() === '', 'the survivor to lose its leader');
    await expect(survivor.propose(setDomain('x.test'), WAIT_MS)).rejects.toThrow(new OperatorError(NO_QUORUM));
    await expect(survivor.readIndex(WAIT_MS)).rejects.toThrow(NO_QUORUM);
    const status = survivor.status();
    expect(status.members.filter((m) => !m.self).every((m) => m.unreachableSince !== null)).toBe(true);
  });

  it('serves linearizable reads on a follower once it applied what the leader had committed', async () => {
    await threeMembers();
    const leader = await h.waitLeader();
    const follower = ['n1', 'n2', 'n3'].map((id) => h.get(id)).find((m) => !m.isLeader())!;
    await leader.propose(setDomain('read.test'), WAIT_MS);
    await follower.readIndex(WAIT_MS);
    expect(follower.state.domain()).toBe('read.test');
  });

  it('removes a follower, which stops on its removal, and removes the leader after handing leadership over', async () => {
    await threeMembers();
    const leader = await h.waitLeader();
    const follower = ['n1', 'n2', 'n3'].map((id) => h.get(id)).find((m) => !m.isLeader())!;
    let removed = false;
    follower.on('removed', () => (removed = true));
    await leader.changeMembership({ type: 'remove', node: follower.id }, WAIT_MS);
    await h.until(() => removed && !follower.running, `${follower.id} to see its removal`);
    await h.crash(follower.id);

    // Removing the leader itself: it hands over and says so; the new leader finishes.
    const err = await leader.changeMembership({ type: 'remove', node: leader.id }, WAIT_MS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfChangeRejectedError);
    expect((err as ConfChangeRejectedError).reason).toBe('leader-transferring');
    const last = h.get([...h.running.keys()].find((id) => id !== leader.id)!);
    await h.until(() => last.isLeader(), `${last.id} to take over`);
    await last.changeMembership({ type: 'remove', node: leader.id }, WAIT_MS);
    await h.until(() => !leader.running, 'the old leader to stop on its removal');
    expect(last.conf()).toEqual({ voters: [last.id], learners: [] });
    expect(last.state.members().map((m) => m.id)).toEqual([last.id]);
  });

  it('compacts its log into snapshots and catches a new learner up from one', async () => {
    h = new MemberHarness({ snapshotEntries: 4, snapshotKeep: 0 });
    const first = await h.start(1, { bootstrap: true });
    first.campaign();
    await h.waitLeader(['n1']);
    for (let i = 1; i <= 12; i++) await first.propose(addCallbridge(`cb${i}`, `secret${i}`), WAIT_MS);
    await h.add(2);
    const second = h.get('n2');
    expect(second.state.callbridges()).toHaveLength(12);
    expect(second.state.members().map((m) => m.name)).toEqual(['cb1', 'cb2']);
    // n2 restarts from its own snapshot and log.
    await h.crash('n2');
    await h.crash('n1');
    await h.start(1);
    await h.start(2);
    await h.waitLeader();
    expect(h.get('n2').state.callbridges()).toHaveLength(12);
  });

  it('drops raft and control frames that do not decode, and keeps working', async () => {
    h = new MemberHarness();
    const first = await h.start(1, { bootstrap: true });
    first.campaign();
    await h.waitLeader(['n1']);
    const t = h.network.transport({ id: 'rogue', name: 'rogue', endpoint: { host: '10.0.0.9', port: 5999 } });
    await t.start();
    await t.dial({ host: '10.0.0.1', port: 5999 }, 1000);
    t.send('n1', 'raft', new TextEncoder().encode('{not json'));
    t.send('n1', 'raft', new TextEncoder().encode(JSON.stringify({ v: 1, type: 'vote', from: 'n7', to: 'n1', term: 99, index: 0, logTerm: 0, transfer: false })));
    t.send('n1', 'control', encodeControl({ type: 'removed', id: 'n1', index: 99 }));
    expect(await first.propose(setDomain('still.test'), WAIT_MS)).toEqual({ status: 'applied' });
    expect(first.isLeader()).toBe(true);
    expect(first.raftStatus().term).toBe(2);
    await t.close();
  });
});

/**
 * `xmpp cluster initialize | join | status | remove | leave` through
 * ClusterService on nodes linked by a MemoryNetwork, with real FileStorage:
 * the operator's story (initialize, two joins), the refusals of the
 * reference, reset-and-rejoin with one entry, removal and leave.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OperatorError } from '../../../src/base/operator-error.js';
import { NO_QUORUM, NOT_CLUSTERED } from '../../../src/node/cluster-control.js';
import type { ConfigurationChange } from '../../../src/node/configuration.js';
import { ServiceHarness, TRUST, WAIT_MS, type TestNode } from './service-harness.js';

let h: ServiceHarness;
afterEach(async () => {
  await h.close();
});

const at = (n: number) => ({ host: `10.0.0.${n}`, port: 5999 });
const CB1 = { name: 'cb1', secret: 'kvgP1SRzWVabhiPVAb1' };

async function threeNodes(): Promise<TestNode[]> {
  h = new ServiceHarness();
  const cb1 = await h.node(1, { callbridges: [CB1] });
  await cb1.service.initialize();
  const cb2 = await h.node(2, { callbridges: [CB1, { name: 'cb2', secret: 'onlyOnCb2' }] });
  expect(await cb2.service.join(at(1))).toEqual({ peers: 2, leader: '10.0.0.1:5222' });
  const cb3 = await h.node(3, { callbridges: [CB1] });
  // Joining through a follower: it relays to the leader.
  expect(await cb3.service.join(at(2))).toEqual({ peers: 3, leader: '10.0.0.1:5222' });
  return [cb1, cb2, cb3];
}

describe('ClusterService', () => {
  it('initialize: refuses without clustering, certificates, trust, or when already a member', async () => {
    h = new ServiceHarness();
    const a = await h.node(1, { clusterEnabled: false });
    await expect(a.service.initialize()).rejects.toThrow(new OperatorError(NOT_CLUSTERED));
    a.settings = { ...a.settings, clusterEnabled: true, certs: null };
    await expect(a.service.initialize()).rejects.toThrow('no certificates set (xmpp certs <key-file> <crt-file>)');
    a.settings = { ...a.settings, certs: { key: 'k', cert: 'c' } };
    await a.local.setTrust({ kind: 'none' });
    await expect(a.service.initialize()).rejects.toThrow('no trust bundle set (xmpp cluster trust <bundle>)');
    await a.local.setTrust(TRUST);
    await a.service.initialize();
    await expect(a.service.initialize()).rejects.toThrow('this node is already a member of a cluster');
    expect(a.current.kind).toBe('replicated');
    expect(a.current.trust()).toEqual(TRUST);
    const status = await a.service.status();
    expect([status.state, status.members.length, status.trustBundle, status.quorum]).toEqual(['LEADER', 1, 'abhiall.cer', { reachable: 1, voters: 1, lost: false }]);
  });

  it('forms three members by initialize and two joins; one registry, changed from any node, seen everywhere', async () => {
    const nodes = await threeNodes();
    for (const node of nodes) {
      const s = await node.service.status();
      expect(s.members.map((m) => `${m.endpoint} ${m.name}${m.leader ? ' (Leader)' : ''}`)).toEqual(['10.0.0.1:5222 cb1 (Leader)', '10.0.0.2:5222 cb2', '10.0.0.3:5222 cb3']);
      expect(s.trustBundle).toBe('abhiall.cer');
      expect(node.current.kind).toBe('replicated');
    }
    // cb2's own call bridge was added to the cluster when it joined.
    expect(nodes[2]!.current.callbridges().map((c) => c.name)).toEqual(['cb1', 'cb2']);

    const removedOn1: ConfigurationChange[] = [];
    nodes[0]!.current.onChange((c) => removedOn1.push(c));
    await nodes[2]!.current.addCallbridge('cb3', 'thirdSecret');
    await expect(nodes[1]!.current.addCallbridge('cb3', 'x')).rejects.toThrow('callbridge cb3 already exists; del it first to change its secret');
    await expect(nodes[1]!.current.addCallbridge('-bad', 'x')).rejects.toThrow(/not a valid callbridge name/);
    await nodes[1]!.current.removeCallbridge('cb2');
    await h.until(() => removedOn1.some((c) => c.type === 'callbridge-removed' && c.name === 'cb2'), 'the delete on cb2 to reach cb1 as a change');
    expect(await nodes[0]!.current.readCallbridges()).toEqual({ callbridges: [CB1, { name: 'cb3', secret: 'thirdSecret' }], stale: false });
  });

  it('refuses joins as the reference says, and changes nothing', async () => {
    h = new ServiceHarness();
    const cb1 = await h.node(1, { callbridges: [CB1] });
    await cb1.service.initialize();
    const other = await h.node(2, { domain: 'other.test' });
    await expect(other.service.join(at(1))).rejects.toThrow("the cluster's domain is example.test, this node's is other.test");
    const secret = await h.node(3, { callbridges: [{ name: 'cb1', secret: 'different' }] });
    await expect(secret.service.join(at(1))).rejects.toThrow(
      new OperatorError('callbridge cb1 has a different secret here than in the cluster; fix it with xmpp callbridge del cb1, then join again'),
    );
    await expect(secret.service.join(at(7))).rejects.toThrow(/cannot reach 10\.0\.0\.7:5999 \(tried for 0\.2 s\)/);
    await expect(cb1.service.join(at(1))).rejects.toThrow('this node is already a member of a cluster');
    const noTrust = await h.node(4, { trust: { kind: 'none' } });
    await expect(noTrust.service.join(at(1))).rejects.toThrow('no trust bundle set (xmpp cluster trust <bundle>)');
    expect((await cb1.service.status()).members.map((m) => m.name)).toEqual(['cb1']);
    for (const n of [2, 3]) {
      expect(h.get(n).service.isMember()).toBe(false);
      expect(h.get(n).current.kind).toBe('local');
      expect(h.raftFiles(n)).toEqual([]);
    }
  });

  it('a node reset and joining again replaces its old entry: never two', async () => {
    await threeNodes();
    await h.crash(3);
    h.wipeRaft(3);
    const again = await h.node(3, { callbridges: [CB1] });
    expect(again.service.isMember()).toBe(false);
    expect(await again.service.join(at(1))).toEqual({ peers: 3, leader: '10.0.0.1:5222' });
    for (const n of [1, 2, 3]) {
      const s = await h.get(n).service.status();
      expect(s.members.map((m) => m.id)).toEqual(['id-1', 'id-2', 'id-3']);
    }
  });

  it('xmpp reset on a member (resetMembership): no loop, no raft files, its own configuration; joining again replaces its entry', async () => {
    const [, , cb3] = await threeNodes();
    await cb3!.service.resetMembership();
    expect(cb3!.service.isMember()).toBe(false);
    expect(cb3!.current.kind).toBe('local');
    expect(h.raftFiles(3)).toEqual([]);
    // The cluster keeps the old entry until the node joins again.
    expect((await h.get(1).service.status()).members.map((m) => m.id)).toEqual(['id-1', 'id-2', 'id-3']);
    expect(await cb3!.service.join(at(1))).toEqual({ peers: 3, leader: '10.0.0.1:5222' });
    for (const n of [1, 2, 3]) expect((await h.get(n).service.status()).members.map((m) => m.id)).toEqual(['id-1', 'id-2', 'id-3']);
    await h.get(2).service.resetMembership();
    await h.get(2).service.resetMembership(); // twice, or on a node that is no member: nothing to do
    expect(h.get(2).service.isMember()).toBe(false);
  });

  it('resumes membership after a restart, and a restarted leader comes back as a member', async () => {
    await threeNodes();
    await h.crash(1);
    await h.until(() => [2, 3].some((n) => h.get(n).service.isMember() && h.get(n).current.kind === 'replicated'), 'survivors');
    await h.get(2).current.addCallbridge('after', 'crashSecret');
    const back = await h.node(1);
    expect(back.service.isMember()).toBe(true);
    await h.until(() => back.current.callbridge('after') !== undefined, 'the restarted node to catch up');
    const s = await back.service.status();
    expect(s.members.filter((m) => m.leader)).toHaveLength(1);
  });

  it('refuses changes without quorum and labels reads stale', async () => {
    const [cb1] = await threeNodes();
    await h.crash(2);
    await h.crash(3);
    let state = 'LEADER';
    cb1!.service.on('role', (e) => (state = e.role));
    await h.until(() => state !== 'leader' && state !== 'LEADER', 'cb1 to lose leadership', WAIT_MS);
    await expect(cb1!.current.addCallbridge('cbx', 'secretx')).rejects.toThrow(NO_QUORUM);
    expect((await cb1!.current.readCallbridges()).stale).toBe(true);
    const s = await cb1!.service.status();
    expect(s.quorum).toEqual({ reachable: 1, voters: 3, lost: true });
    await expect(cb1!.service.remove('cb2')).rejects.toThrow(NO_QUORUM);
    const joiner = await h.node(4, { callbridges: [CB1] });
    await expect(joiner.service.join(at(1))).rejects.toThrow(new OperatorError(NO_QUORUM));
    expect(joiner.service.isMember()).toBe(false);
  });

  it('removes a follower by name and the leader by endpoint; the removed nodes go standalone with a copy', async () => {
    const [cb1, cb2, cb3] = await threeNodes();
    await expect(cb2!.service.remove('cb9')).rejects.toThrow('no cluster member cb9');
    expect(await cb1!.service.remove('cb3')).toBe('cb3');
    await h.until(() => !cb3!.service.isMember() && cb3!.current.kind === 'local', 'cb3 to go standalone');
    expect(cb3!.settings.clusterEnabled).toBe(false);
    expect(cb3!.local.callbridges().map((c) => c.name)).toEqual(['cb1', 'cb2']);
    expect(h.raftFiles(3)).toEqual([]);

    // From a follower, remove the leader: leadership moves first.
    expect(await cb2!.service.remove('10.0.0.1:5222')).toBe('10.0.0.1:5222');
    await h.until(() => cb1!.current.kind === 'local', 'cb1 to go standalone');
    const s = await cb2!.service.status();
    expect([s.state, s.members.map((m) => m.name)]).toEqual(['LEADER', ['cb2']]);
    await expect(cb2!.service.remove('cb2')).rejects.toThrow('cb2 is the last member of the cluster; it cannot be removed');
  });

  it('leave: the leader hands over, leaves, and keeps a standalone copy; it can join again', async () => {
    const [cb1, cb2] = await threeNodes();
    await cb1!.service.leave();
    expect([cb1!.service.isMember(), cb1!.current.kind, cb1!.settings.clusterEnabled]).toEqual([false, 'local', false]);
    expect(cb1!.local.callbridges().map((c) => c.name)).toEqual(['cb1', 'cb2']);
    const s = await cb2!.service.status();
    expect(s.members.map((m) => m.name)).toEqual(['cb2', 'cb3']);
    expect(s.members.filter((m) => m.leader)).toHaveLength(1);
    await expect(cb1!.service.leave()).rejects.toThrow(NOT_CLUSTERED);
    cb1!.settings = { ...cb1!.settings, clusterEnabled: true };
    expect((await cb1!.service.join(at(2))).peers).toBe(3);
  });
});

/**
 * The cluster-wide `xmpp dns` settings through ClusterService on nodes
 * linked by a MemoryNetwork: a new cluster seeded with the initializing
 * node's settings, a change made on any member applied on every member (with
 * a `dns` change event there), refusals in the local words, a leaving member
 * keeping a copy; and which members DNS serves (zoneMembers) as the cluster's
 * failure detector sees them: a member cut off from the others drops out
 * after an election timeout, on every node, and comes back after heal.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigurationChange } from '../../../src/node/configuration.js';
import { ServiceHarness, type TestNode } from './service-harness.js';

let h: ServiceHarness;
afterEach(async () => {
  await h.close();
});

const at = (n: number) => ({ host: `10.0.0.${n}`, port: 5999 });
const RECORD = { target: 'xmpp1.example.test', priority: 10, weight: 5 };

async function threeNodes(): Promise<TestNode[]> {
  h = new ServiceHarness();
  const cb1 = await h.node(1, { dns: { enabled: true, ttl: 30, records: { 'id-1': RECORD, 'id-9': { target: 'gone.example.test', priority: 0, weight: 0 } } } });
  await cb1.service.initialize();
  const cb2 = await h.node(2);
  await cb2.service.join(at(1));
  const cb3 = await h.node(3);
  await cb3.service.join(at(1));
  return [cb1, cb2, cb3];
}

const liveIds = (n: TestNode) =>
  n.service
    .zoneMembers()
    .filter((m) => m.live)
    .map((m) => m.id)
    .sort();

describe('xmpp dns settings in a cluster', () => {
  it("seeds a new cluster with the initializing node's settings and its own record, and every joiner serves with them", async () => {
    const nodes = await threeNodes();
    for (const n of nodes) {
      await h.until(() => n.current.kind === 'replicated' && n.current.dns().enabled, `cb${n.n} to hold the seeded dns settings`);
      // The record of id-9 (no member of the new cluster) was not seeded.
      expect(n.current.dns()).toEqual({ enabled: true, ttl: 30, records: { 'id-1': RECORD } });
    }
  });

  it('applies a change made on any member on every member, and tells each one', async () => {
    const [cb1, cb2, cb3] = await threeNodes();
    const seen: ConfigurationChange[] = [];
    cb3!.current.onChange((c) => seen.push(c));
    await cb2!.current.setDnsTtl(60);
    await cb2!.current.setDnsRecord('id-3', { target: 'XMPP3.Example.Test.', priority: 1, weight: 2 });
    await cb1!.current.setDnsEnabled(false);
    await cb3!.current.setDnsRecord('id-1', null);
    const want = { enabled: false, ttl: 60, records: { 'id-3': { target: 'xmpp3.example.test', priority: 1, weight: 2 } } };
    for (const n of [cb1!, cb2!, cb3!]) await h.until(() => JSON.stringify(n.current.dns()) === JSON.stringify(want), `cb${n.n} to apply the dns changes`);
    expect(seen.filter((c) => c.type === 'dns').length).toBeGreaterThanOrEqual(1);
  });

  it('refuses a bad TTL, a bad record and an unknown member with the local words, and changes nothing', async () => {
    const [cb1, cb2] = await threeNodes();
    const before = JSON.stringify(cb1!.current.dns());
    await expect(cb2!.current.setDnsTtl(0)).rejects.toThrow('the TTL must be whole seconds from 1 to 86400, not 0');
    await expect(cb2!.current.setDnsTtl(86401)).rejects.toThrow('not 86401');
    await expect(cb2!.current.setDnsRecord('id-2', { target: 'bad_name.example', priority: 0, weight: 0 })).rejects.toThrow(/'bad_name\.example' is not a host name for an SRV target/);
    await expect(cb2!.current.setDnsRecord('id-2', { target: 'ok.example', priority: 65536, weight: 0 })).rejects.toThrow('the priority must be a whole number from 0 to 65535, not 65536');
    await expect(cb2!.current.setDnsRecord('id-9', RECORD)).rejects.toThrow('no cluster member id-9');
    expect(JSON.stringify(cb1!.current.dns())).toBe(before);
    expect(JSON.stringify(cb2!.current.dns())).toBe(before);
  });

  it('keeps a copy when a member leaves: enable and TTL, and only its own record', async () => {
    const [cb1, cb2] = await threeNodes();
    await cb1!.current.setDnsRecord('id-2', { target: 'xmpp2.example.test', priority: 3, weight: 4 });
    await h.until(() => cb2!.current.dns().records['id-2'] !== undefined, 'cb2 to apply its record');
    await cb2!.service.leave();
    expect(cb2!.current.kind).toBe('local');
    expect(cb2!.local.dns()).toEqual({ enabled: true, ttl: 30, records: { 'id-2': { target: 'xmpp2.example.test', priority: 3, weight: 4 } } });
    // The cluster dropped the record of the member that left.
    await h.until(() => cb1!.current.dns().records['id-2'] === undefined, 'the cluster to drop the record of cb2');
  });
});

describe('zoneMembers: which members DNS serves', () => {
  it('lists every member with its address, first component port and 5269, all live while all are reachable', async () => {
    const nodes = await threeNodes();
    for (const n of nodes) await h.until(() => liveIds(n).length === 3, `cb${n.n} to see three live members`);
    expect(nodes[1]!.service.zoneMembers().sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual([
      { id: 'id-1', name: 'cb1', address: '10.0.0.1', componentPort: 5222, serverPort: 5269, live: true },
      { id: 'id-2', name: 'cb2', address: '10.0.0.2', componentPort: 5222, serverPort: 5269, live: true },
      { id: 'id-3', name: 'cb3', address: '10.0.0.3', componentPort: 5222, serverPort: 5269, live: true },
    ]);
  });

  it('drops a member cut off from the network after an election timeout, on the leader and the other follower, and brings it back after heal', async () => {
    const nodes = await threeNodes();
    const [cb1, cb2, cb3] = nodes;
    for (const n of nodes) await h.until(() => liveIds(n).length === 3, `cb${n.n} to see three live members`);
    h.network.isolate('id-3');
    for (const n of [cb1!, cb2!]) await h.until(() => liveIds(n).join() === 'id-1,id-2', `cb${n.n} to leave out the isolated cb3`);
    // The isolated member still answers for itself: it is up, it only cannot reach the others.
    expect(liveIds(cb3!)).toContain('id-3');
    h.network.healAll();
    for (const n of nodes) await h.until(() => liveIds(n).length === 3, `cb${n.n} to serve cb3 again after heal`);
  });

  it('is empty on a node that is not a member', async () => {
    h = new ServiceHarness();
    const a = await h.node(1);
    expect(a.service.zoneMembers()).toEqual([]);
  });
});

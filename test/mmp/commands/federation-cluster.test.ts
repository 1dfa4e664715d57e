import { afterEach, describe, expect, it } from 'vitest';
import { eventually, MemoryCluster, type MemoryClusterNode } from '../../helpers/memory-cluster.js';

/**
 * `xmpp federation ...` on cluster members (over a memory network: no port
 * is opened): `xmpp cluster initialize` carries the standalone settings into
 * the new cluster, a joiner serves with the cluster's, a change typed on any
 * member shows on every member, refusals read as on a standalone node, and a
 * member that leaves keeps a copy.
 */

let cluster: MemoryCluster;
let cb1: MemoryClusterNode;
let cb2: MemoryClusterNode;
afterEach(async () => cluster.close());

const SEED = [
  'xmpp federation dialback-secret cluster-secret',
  'xmpp federation enable',
  'xmpp federation security optional',
  'xmpp federation allow add partner.example',
  'xmpp federation deny add *.spam.example incoming',
  'xmpp federation route add partner.example 192.0.2.7',
];

const STATUS = [
  'Federation           : enabled',
  'Dialback secret      : set',
  'Security mode        : TLS optional',
  'Client certificates  : not required',
  'SASL EXTERNAL        : incoming on, outgoing on',
  'Privacy mode         : Allow list',
  'Allow list           : 1 domain',
  'Deny list            : 1 domain',
  'Static routes        : 1 domain',
  'Connections          : 0 (0 incoming, 0 outgoing)',
  '',
].join('\n');

async function twoMembers(): Promise<void> {
  cluster = new MemoryCluster();
  cb1 = await cluster.node('cb1', '127.0.8.21');
  for (const line of ['xmpp domain example.test', ...SEED, 'xmpp cluster initialize']) expect({ line, out: await cb1.run(line) }).toEqual({ line, out: '' });
  cb2 = await cluster.node('cb2', '127.0.8.22');
  await cb2.run('xmpp domain example.test');
  await cb2.run('xmpp federation privacy off');
  expect(await cb2.run('xmpp cluster join 127.0.8.21')).toBe('Joined cluster: 2 peers, leader 127.0.8.21:5222\n');
}

describe('xmpp federation on cluster members', () => {
  it("seeds the cluster with the initializing node's settings; the joiner shows the cluster's, secret included", async () => {
    await twoMembers();
    for (const n of [cb1, cb2]) {
      await eventually(() => n.node.federation.settings().enabled, `${n.node.name} to apply the seed`);
      expect(await n.run('xmpp federation status')).toBe(STATUS);
      expect(await n.run('xmpp federation allow list')).toBe('partner.example  both\n');
      expect(await n.run('xmpp federation deny list')).toBe('*.spam.example  incoming\n');
      expect(await n.run('xmpp federation route list')).toBe('partner.example  192.0.2.7:5269\n');
      expect(n.node.federation.settings().dialbackSecret).toBe('cluster-secret');
    }
  });

  it('shows a change typed on one member on the other; refuses with the words of a standalone node', async () => {
    await twoMembers();
    for (const line of ['xmpp federation allow add friend.example outgoing', 'xmpp federation route del partner.example', 'xmpp federation privacy deny', 'xmpp federation client-certs on']) {
      expect({ line, out: await cb2.run(line) }).toEqual({ line, out: '' });
    }
    await eventually(() => cb1.node.federation.settings().clientCertsRequired, 'cb1 to apply the changes made on cb2');
    expect(await cb1.run('xmpp federation allow list')).toBe('friend.example   outgoing\npartner.example  both\n');
    expect(await cb1.run('xmpp federation route list')).toBe('');
    expect(await cb1.run('xmpp federation status')).toMatch(/^Privacy mode +: Deny list\nAllow list +: 2 domains$/m);
    expect(await cb1.run('xmpp federation deny add partner.example')).toBe('Error: partner.example is on the allow list; delete it there first\n');
    expect(await cb2.run('xmpp federation route add bad_domain.example h.example')).toBe(
      "Error: 'bad_domain.example' is not a domain name: the label 'bad_domain' may hold only letters, digits and hyphens, and may not start or end with a hyphen\n",
    );
    expect(await cb2.run('xmpp federation route add x.example h.example:0')).toBe('Error: port 0 is outside 1–65535\n');
  });

  it('prints a generated secret once on the member it is typed on; the other member never shows it', async () => {
    await twoMembers();
    const printed = await cb2.run('xmpp federation dialback-secret');
    const secret = /^Dialback secret: ([0-9a-f]{64})\n$/.exec(printed)![1]!;
    await eventually(() => cb1.node.federation.settings().dialbackSecret === secret, 'cb1 to apply the new secret');
    for (const n of [cb1, cb2]) for (const line of ['xmpp federation status', 'xmpp federation status --json', 'xmpp --json']) expect(await n.run(line)).not.toContain(secret);
  });

  it('keeps a copy on leave: the standalone node shows the same settings', async () => {
    await twoMembers();
    await cb1.run('xmpp federation allow add later.example');
    await eventually(() => cb2.node.federation.settings().allow.length === 2, 'cb2 to apply the new entry');
    expect(await cb2.run('xmpp cluster leave')).toBe('');
    expect(cb2.node.configuration().kind).toBe('local');
    expect(await cb2.run('xmpp federation status')).toBe(STATUS.replace('Allow list           : 1 domain', 'Allow list           : 2 domains'));
    expect(cb2.node.federation.settings().dialbackSecret).toBe('cluster-secret');
  });
});

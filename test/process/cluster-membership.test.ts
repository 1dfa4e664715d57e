import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterNodeProcess, clusterProcesses, expectOk, PROCESS_TEST_TIMEOUT_MS } from '../helpers/cluster-processes.js';
import { NOT_CLUSTERED, NOT_MEMBER } from '../../src/node/cluster-control.js';
import { buildCluster, configure, joinCluster, makeCertificate, prepareJoiner, statusOf, upload } from '../helpers/cluster-setup.js';
import { Condition } from '../helpers/condition.js';

/**
 * Every refusal of `xmpp cluster join | remove | leave | enable | disable`
 * and `xmpp reset` on a member (reference: commands.md, "Cluster"), on real
 * node processes over the OpenSSH client: three members on 127.0.0.10-12
 * and a fourth node on 127.0.0.13 that tries to join. Each refusal is one
 * `Error:` line, exit status 1, and no member's status or registry changed.
 */

let root: string;
let nodes: ClusterNodeProcess[];
let cb1: ClusterNodeProcess, cb2: ClusterNodeProcess, cb3: ClusterNodeProcess, cb4: ClusterNodeProcess;
let cb1Secret: string;
const PEERS = ['127.0.0.10:5222', '127.0.0.11:5222', '127.0.0.12:5222'];
const LEADER = '127.0.0.10:5222';

beforeAll(async () => {
  ({ root, nodes } = await clusterProcesses(4, { firstAddress: 10 }));
  [cb1, cb2, cb3, cb4] = nodes as [ClusterNodeProcess, ClusterNodeProcess, ClusterNodeProcess, ClusterNodeProcess];
  // cb4's own certificate, which the cluster's bundle (abhiall.cer) does not hold.
  await Promise.all([cb4.start(), makeCertificate(root, 'rogue', [cb4.address])]);
  cb1Secret = await buildCluster(root, [cb1, cb2, cb3], nodes.map((n) => n.address));
  await upload(cb4, root, ['abhiall.key', 'abhiall.cer', 'rogue.key', 'rogue.cer']);
}, 60_000);

afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.kill('SIGKILL')));
});

/** The command fails with exactly `Error: <error>` on standard error, nothing on standard output, exit status 1. */
async function expectRefused(n: ClusterNodeProcess, command: string, error: string | RegExp, input?: string): Promise<string> {
  const r = await n.ssh(command, input);
  const line = r.stderr.replace(/\n$/, '');
  expect({ command, code: r.code, stdout: r.stdout, lines: r.stderr.split('\n').length - 1 }).toEqual({ command, code: 1, stdout: '', lines: 1 });
  if (typeof error === 'string') expect(line).toBe(`Error: ${error}`);
  else expect(line).toMatch(error);
  return line;
}

/** What the members show: peers, leader and registry on each; a refusal must leave all of it as it was. */
async function membersView(members: readonly ClusterNodeProcess[]): Promise<unknown[]> {
  return Promise.all(
    members.map(async (n) => {
      const s = await statusOf(n);
      return { node: n.name, state: s.state, peers: s.peers, leader: s.leader, callbridges: await expectOk(n, 'xmpp callbridge list') };
    }),
  );
}

/** Resolves once `pattern` occurs `count` times in the node's log, woken by each chunk the process writes. */
async function logged(n: ClusterNodeProcess, pattern: RegExp, count = 1, timeoutMs = 20_000): Promise<string[]> {
  const seen = new Condition();
  const child = n.process!.child;
  const wake = () => seen.changed();
  child.stderr!.on('data', wake);
  const matches = () => n.log.split('\n').filter((l) => pattern.test(l));
  try {
    await seen.until(() => matches().length >= count, timeoutMs, () => `${n.name} logged ${pattern} ${matches().length} of ${count} times; log tail: ${n.log.slice(-2000)}`);
  } finally {
    child.stderr!.off('data', wake);
  }
  return matches();
}

describe('cluster membership refusals, on node processes over ssh', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  let before: unknown[];

  it('xmpp cluster enable is refused while XMPP is enabled, and changes nothing', async () => {
    await configure(cb4, { key: 'rogue.key', cert: 'rogue.cer', trust: 'abhiall.cer' });
    expect(await expectOk(cb4, 'xmpp enable')).toBe('');
    await expectRefused(cb4, 'xmpp cluster enable', 'disable the XMPP server first (xmpp disable)');
    expect(await expectOk(cb4, 'xmpp')).toMatch(/^Clustered +: false$/m);
    await expectRefused(cb4, 'xmpp cluster status', NOT_CLUSTERED);
    for (const command of ['xmpp disable', 'xmpp cluster enable']) expect(await expectOk(cb4, command)).toBe('');
    before = await membersView([cb1, cb2, cb3]);
    expect(before.map((v) => (v as { peers: string[] }).peers)).toEqual([PEERS, PEERS, PEERS]);
  });

  it('a node whose certificate the cluster does not trust cannot join; the cluster logs who, where and why', async () => {
    await expectRefused(cb4, 'xmpp cluster join 127.0.0.10', "127.0.0.10:5999 does not trust this node's certificate (it does not chain to the cluster's trust bundle; check xmpp certs)");
    const [line] = await logged(cb1, /"event":"peer_refused"/);
    const entry = JSON.parse(line!) as { remote: string; subject: string; subjectAltName: string; reason: string };
    // Where: the socket's source, which the kernel picks (the dial does not bind the node's own address, so on loopback it is 127.0.0.1).
    expect(entry.remote).toMatch(/^127\.0\.0\.\d+:\d+$/);
    expect(entry.subject).toBe('rogue.example.test');
    expect(entry.subjectAltName).toContain('127.0.0.13');
    expect(entry.reason).not.toBe('');
    expect(await membersView([cb1, cb2, cb3])).toEqual(before);
    await expectRefused(cb4, 'xmpp cluster status', NOT_MEMBER);
    await expectRefused(cb4, 'xmpp cluster leave', NOT_MEMBER);
    await expectRefused(cb4, 'xmpp cluster remove cb1', NOT_MEMBER);
  });

  it("a node that does not trust the cluster's certificate cannot join", async () => {
    for (const command of ['xmpp certs abhiall.key abhiall.cer', 'xmpp cluster trust rogue.cer']) expect(await expectOk(cb4, command)).toBe('');
    await expectRefused(cb4, 'xmpp cluster join 127.0.0.10', "the certificate of 127.0.0.10:5999 is not trusted here (it does not chain to this node's trust bundle, xmpp cluster trust)");
    // The joiner logs whom it refused, and why.
    const [line] = await logged(cb4, /"event":"peer_refused"[^\n]*"subject":"abhiall\.example\.test"/);
    expect((JSON.parse(line!) as { reason: string }).reason).not.toBe('');
    expect(await membersView([cb1, cb2, cb3])).toEqual(before);
  });

  it('refuses a join with another secret for a call bridge, or another domain', async () => {
    expect(await expectOk(cb4, 'xmpp cluster trust abhiall.cer')).toBe('');
    expect(await expectOk(cb4, 'xmpp callbridge add-secret cb1', 'notTheClusterSecret\n')).toBe('Successfully added callbridge.\n');
    await expectRefused(cb4, 'xmpp cluster join 127.0.0.10', 'callbridge cb1 has a different secret here than in the cluster; fix it with xmpp callbridge del cb1, then join again');
    expect(await membersView([cb1, cb2, cb3])).toEqual(before);
    for (const command of ['xmpp callbridge del cb1', 'xmpp domain other.test']) expect(await expectOk(cb4, command)).toBe('');
    await expectRefused(cb4, 'xmpp cluster join 127.0.0.11', "the cluster's domain is example.test, this node's is other.test; set xmpp domain example.test here, then join again");
    expect(await membersView([cb1, cb2, cb3])).toEqual(before);
  });

  it('a join to a closed port names the address, the port and how long it tried', async () => {
    await expectRefused(cb4, 'xmpp cluster join 127.0.0.10:5998', /^Error: cannot reach 127\.0\.0\.10:5998 \(tried for \d+\.\d s\): \S.*$/);
    expect(await membersView([cb1, cb2, cb3])).toEqual(before);
  });

  it('a member cannot join again, nor be disabled for clustering', async () => {
    await expectRefused(cb2, 'xmpp cluster join 127.0.0.10', 'this node is already a member of a cluster');
    await expectRefused(cb1, 'xmpp cluster join 127.0.0.11', 'this node is already a member of a cluster');
    await expectRefused(cb2, 'xmpp cluster disable', 'this node is a member of a cluster; run xmpp cluster leave first');
    expect(await membersView([cb1, cb2, cb3])).toEqual(before);
  });

  it('xmpp reset on a member clears its membership; configured again, it joins and is listed once on every node', async () => {
    expect(await expectOk(cb3, 'xmpp reset --force')).toBe('');
    await expectRefused(cb3, 'xmpp cluster status', NOT_CLUSTERED);
    expect(await expectOk(cb3, 'xmpp callbridge list')).toBe('No callbridges configured.\n');
    // The cluster keeps the old entry until the node joins again.
    expect((await statusOf(cb1)).peers).toEqual(PEERS);
    await configure(cb3, { key: 'abhiall.key', cert: 'abhiall.cer', trust: 'abhiall.cer' });
    await prepareJoiner(cb3, cb1Secret);
    await joinCluster(cb3, '127.0.0.10', 3, LEADER);
    for (const s of await Promise.all([cb1, cb2, cb3].map(statusOf))) {
      expect(s.peers).toEqual(PEERS);
      expect(s.text.match(/\(Leader\)/g)).toHaveLength(1);
      expect(s.leader).toBe(LEADER);
    }
  });

  it('removes a member by address and by name; the removed node goes standalone; an unknown peer is refused', async () => {
    expect(await expectOk(cb4, 'xmpp domain example.test')).toBe('');
    // Through a follower, which relays to the leader.
    await joinCluster(cb4, '127.0.0.11', 4, LEADER);
    expect((await statusOf(cb2)).peers).toEqual([...PEERS, '127.0.0.13:5222']);

    expect(await expectOk(cb1, 'xmpp cluster remove 127.0.0.13:5222')).toBe('Removed 127.0.0.13:5222 from the cluster.\n');
    await logged(cb4, /standalone again/);
    await expectRefused(cb4, 'xmpp cluster status', NOT_CLUSTERED);
    // Standalone with a copy of the cluster's registry.
    expect(await expectOk(cb4, 'xmpp callbridge list')).toMatch(/^Callbridge : cb1$/m);
    for (const s of await Promise.all([cb1, cb2, cb3].map(statusOf))) expect(s.peers).toEqual(PEERS);

    expect(await expectOk(cb4, 'xmpp cluster enable')).toBe('');
    await joinCluster(cb4, '127.0.0.10', 4, LEADER);
    expect(await expectOk(cb2, 'xmpp cluster remove cb4')).toBe('Removed cb4 from the cluster.\n');
    await logged(cb4, /standalone again/, 2);
    await expectRefused(cb4, 'xmpp cluster status', NOT_CLUSTERED);

    const now = await membersView([cb1, cb2, cb3]);
    await expectRefused(cb1, 'xmpp cluster remove cb9', 'no cluster member cb9');
    await expectRefused(cb1, 'xmpp cluster remove 127.0.0.13:5222', 'no cluster member 127.0.0.13:5222');
    expect(await membersView([cb1, cb2, cb3])).toEqual(now);
  });

  it('leave: a follower, then the leader, which hands leadership over first', async () => {
    expect(await expectOk(cb3, 'xmpp cluster leave')).toBe('');
    await expectRefused(cb3, 'xmpp cluster status', NOT_CLUSTERED);
    for (const s of await Promise.all([cb1, cb2].map(statusOf))) expect(s.peers).toEqual(PEERS.slice(0, 2));

    expect(await expectOk(cb1, 'xmpp cluster leave')).toBe('');
    await expectRefused(cb1, 'xmpp cluster status', NOT_CLUSTERED);
    const last = await statusOf(cb2);
    expect(last).toMatchObject({ state: 'LEADER', peers: ['127.0.0.11:5222'], leader: '127.0.0.11:5222' });
    // Both keep a standalone copy of the registry.
    for (const n of [cb1, cb3]) expect(await expectOk(n, 'xmpp callbridge list')).toMatch(/^Callbridge : cb1$/m);
  });
});

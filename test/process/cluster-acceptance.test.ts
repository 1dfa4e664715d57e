import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterNodeProcess, clusterProcesses, expectOk, PROCESS_TEST_TIMEOUT_MS } from '../helpers/cluster-processes.js';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { Condition } from '../helpers/condition.js';
import { DOMAIN, makeCertificate, statusOf, upload } from '../helpers/cluster-setup.js';

/**
 * The acceptance story of the cluster (issue 13), word for word over the
 * OpenSSH client into three real node processes on 127.0.0.1, .2 and .3, with
 * one certificate for all three uploaded by SFTP, as the CMS guide builds it.
 * Then call bridges on the two followers exchange messages through the
 * leader, the leader is killed with SIGKILL under that traffic, and not one
 * message is lost or delivered twice.
 */

let root: string;
let nodes: ClusterNodeProcess[];
const bridges: CallBridge[] = [];

beforeAll(async () => {
  ({ root, nodes } = await clusterProcesses(3));
  // One key and certificate for all three, its subjectAltName naming every address (the seed's abhiall.cer).
  await makeCertificate(root, 'abhiall', nodes.map((n) => n.address));
  await Promise.all(nodes.map((n) => n.start()));
  for (const n of nodes) await upload(n, root, ['abhiall.key', 'abhiall.cer']);
}, 60_000);

afterAll(async () => {
  for (const b of bridges) await b.close().catch(() => undefined);
  await Promise.all((nodes ?? []).map((n) => n.kill('SIGKILL')));
});

describe('the cluster, built as a CMS operator builds it', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  let cb1Secret = '';

  it('initializes on cb1 with the seed sequence, each command answering with nothing', async () => {
    const [cb1] = nodes;
    for (const command of ['xmpp domain example.test', 'xmpp listen a', 'xmpp certs abhiall.key abhiall.cer', 'xmpp cluster trust abhiall.cer']) {
      expect(await expectOk(cb1!, command)).toBe('');
    }
    const add = await expectOk(cb1!, 'xmpp callbridge add cb1');
    cb1Secret = /Secret: (\S+)/.exec(add)![1]!;
    for (const command of ['xmpp disable', 'xmpp cluster enable', 'xmpp cluster initialize', 'xmpp enable']) {
      expect({ command, out: await expectOk(cb1!, command) }).toEqual({ command, out: '' });
    }
    const status = await statusOf(cb1!);
    expect(status).toMatchObject({ state: 'LEADER', peers: ['127.0.0.1:5222'], leader: '127.0.0.1:5222' });
  });

  it('joins cb2 and cb3 with the same sequence and xmpp cluster join 127.0.0.1', async () => {
    for (const [i, n] of nodes.slice(1).entries()) {
      for (const command of ['xmpp domain example.test', 'xmpp listen a', 'xmpp certs abhiall.key abhiall.cer', 'xmpp cluster trust abhiall.cer']) {
        expect(await expectOk(n, command)).toBe('');
      }
      expect(await expectOk(n, 'xmpp callbridge add-secret cb1', `${cb1Secret}\n`)).toBe('Successfully added callbridge.\n');
      for (const command of ['xmpp disable', 'xmpp cluster enable', 'xmpp enable']) expect(await expectOk(n, command)).toBe('');
      expect(await expectOk(n, 'xmpp cluster join 127.0.0.1')).toBe(`Joined cluster: ${i + 2} peers, leader 127.0.0.1:5222\n`);
    }
  });

  it('shows on every node three peers, each once, and the same one leader', async () => {
    const statuses = await Promise.all(nodes.map(statusOf));
    for (const s of statuses) {
      expect(s.peers).toEqual(['127.0.0.1:5222', '127.0.0.2:5222', '127.0.0.3:5222']);
      expect(s.text.match(/\(Leader\)/g)).toHaveLength(1);
      expect(s.leader).toBe('127.0.0.1:5222');
    }
    expect(statuses.map((s) => s.state)).toEqual(['LEADER', 'FOLLOWER', 'FOLLOWER']);
    expect(statuses[1]!.text).toMatch(/^Peer +Node +Role +Last contact +Match +Lag$/m);
  });

  it('keeps call bridges on cb2 and cb3 talking through a kill -9 of the leader, with nothing lost or doubled', async () => {
    const [cb1, cb2, cb3] = nodes as [ClusterNodeProcess, ClusterNodeProcess, ClusterNodeProcess];
    const secret2 = /Secret: (\S+)/.exec(await expectOk(cb3, 'xmpp callbridge add cb2'))![1]!;
    const sender = await CallBridge.connect({ name: 'cb1', secret: cb1Secret, domain: DOMAIN, host: cb2.address, port: 5222 });
    const receiver = await CallBridge.connect({ name: 'cb2', secret: secret2, domain: DOMAIN, host: cb3.address, port: 5222 });
    bridges.push(sender, receiver);
    const received: string[] = [];
    const arrivals = new Condition();
    receiver.on('message', (m: { body: string }) => {
      received.push(m.body);
      arrivals.changed();
    });
    const total = 300;
    let killed = false;
    for (let i = 1; i <= total; i++) {
      await sender.sendMessage(`cb2.${DOMAIN}`, String(i));
      if (i === 100) {
        await arrivals.until(() => received.length >= 50, 20_000, () => `only ${received.length} of the first 100 arrived before the kill`);
        await cb1.kill('SIGKILL');
        killed = true;
      }
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(killed).toBe(true);
    await arrivals.until(() => received.length >= total, 30_000, () => `${received.length} of ${total} arrived: ${missing(received, total)}`);
    expect(received).toEqual(Array.from({ length: total }, (_, i) => String(i + 1)));
    const after = await Promise.all([statusOf(cb2), statusOf(cb3)]);
    expect(after[0]!.leader).toBeDefined();
    expect(after[0]!.leader).not.toBe('127.0.0.1:5222');
    expect(after[1]!.leader).toBe(after[0]!.leader);
  });

  it('takes the old leader back as a follower without disturbing the new leader', async () => {
    const [cb1, cb2] = nodes as [ClusterNodeProcess, ClusterNodeProcess];
    const before = await statusOf(cb2);
    const term = /^Term +: (\d+)$/m.exec(before.text)![1];
    await cb1.start();
    // It resumes its membership from its own Raft log and hears the leader.
    await cb1.process!.waitForOutput(/"event":"leader_changed"[^\n]*"leader":"(?!none)/, 20_000, 'stderr');
    const status = await statusOf(cb1);
    expect(status.state).toBe('FOLLOWER');
    expect(status.leader).toBe(before.leader);
    const now = await statusOf(cb2);
    expect(now.leader).toBe(before.leader);
    expect(/^Term +: (\d+)$/m.exec(now.text)![1]).toBe(term);
  });

  it('shows in xmpp status on any node the call-bridge sessions of every node, with the node each is on', async () => {
    const [cb1] = nodes as [ClusterNodeProcess];
    // The session table is soft state the members report to the leader: it may take a moment after a failover.
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = await expectOk(cb1, 'xmpp status');
      if (/^cb1\.example\.test .* cb2 /m.test(text) && /^cb2\.example\.test .* cb3 /m.test(text)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(text).toMatch(/^Role +: FOLLOWER$/m);
    expect(text).toMatch(/^Call bridges +: 0 connected here, 2 in the cluster$/m);
    expect(text).toMatch(/^cb1\.example\.test +127\.0\.0\.\d+:\d+ +cb2 /m);
    expect(text).toMatch(/^cb2\.example\.test +127\.0\.0\.\d+:\d+ +cb3 /m);
  });
});

/** Which of 1..total are absent or repeated, for the failure message. */
function missing(received: string[], total: number): string {
  const counts = new Map<string, number>();
  for (const r of received) counts.set(r, (counts.get(r) ?? 0) + 1);
  const absent = Array.from({ length: total }, (_, i) => String(i + 1)).filter((x) => !counts.has(x));
  const twice = [...counts].filter(([, n]) => n > 1).map(([x]) => x);
  return `absent ${absent.slice(0, 20).join(',')}; twice ${twice.slice(0, 20).join(',')}`;
}

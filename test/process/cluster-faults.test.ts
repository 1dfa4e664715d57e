import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterNodeProcess, clusterProcesses, expectOk, PROCESS_TEST_TIMEOUT_MS, REFERENCE_PORTS } from '../helpers/cluster-processes.js';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { buildCluster, DOMAIN, logAfter, statusOf, type ClusterStatus } from '../helpers/cluster-setup.js';
import { Condition } from '../helpers/condition.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

/**
 * The cluster under faults (issue 13), on three real node processes on
 * 127.0.0.7-9 built over ssh as the acceptance story builds them: a silent
 * leader (SIGSTOP) under traffic, a partition of one follower (a
 * fault-injecting TCP proxy on every cluster port), and kill -9 of a
 * follower while another node adds call bridges.
 */

const CLUSTER_LISTEN = 6999;
const LEADER_KNOWN = /"event":"leader_changed"[^\n]*"leader":"(?!none)/;
const LEADER_LOST = /"event":"leader_changed"[^\n]*"leader":"none"/;
let nodes: ClusterNodeProcess[];
let proxy: FaultProxy;
let cb1Secret: string;
const bridges: CallBridge[] = [];

beforeAll(async () => {
  let root: string;
  ({ root, nodes } = await clusterProcesses(3, { firstAddress: 7, ports: { ...REFERENCE_PORTS, clusterListen: CLUSTER_LISTEN } }));
  proxy = await FaultProxy.start(nodes.map((n) => n.address), REFERENCE_PORTS.cluster, CLUSTER_LISTEN);
  cb1Secret = await buildCluster(root, nodes);
}, 60_000);

afterAll(async () => {
  for (const b of bridges) await b.close().catch(() => undefined);
  await Promise.all((nodes ?? []).map(async (n) => {
    await n.kill('SIGCONT');
    await n.kill('SIGKILL');
  }));
  await proxy?.close();
});

const componentAddress = (n: ClusterNodeProcess) => `${n.address}:${REFERENCE_PORTS.component[0]}`;
const byAddress = (address: string | undefined) => nodes.find((n) => componentAddress(n) === address)!;

/** The roles now, as every node reports them, once all three agree on one leader (bounded: status has no event). */
async function agreedRoles(): Promise<{ leader: ClusterNodeProcess; followers: ClusterNodeProcess[]; statuses: ClusterStatus[] }> {
  let statuses: ClusterStatus[] = [];
  for (let attempt = 0; attempt < 40; attempt++) {
    statuses = await Promise.all(nodes.map(statusOf));
    const leader = statuses[0]!.leader;
    const agreed = leader && statuses.every((s) => s.leader === leader);
    const states = statuses.map((s) => s.state).sort();
    if (agreed && states.join() === 'FOLLOWER,FOLLOWER,LEADER') {
      const l = byAddress(leader);
      return { leader: l, followers: nodes.filter((n) => n !== l), statuses };
    }
  }
  throw new Error(`the nodes do not agree on one leader: ${statuses.map((s) => `${s.state} ${s.leader}`).join('; ')}`);
}

/** The call-bridge names `xmpp callbridge list` prints, and whether it said the list may be stale. */
async function listOf(n: ClusterNodeProcess): Promise<{ names: string[]; stale: boolean }> {
  const out = await expectOk(n, 'xmpp callbridge list');
  return { names: [...out.matchAll(/^Callbridge : (\S+)$/gm)].map((m) => m[1]!), stale: out.includes('Warning: the cluster has no quorum; this list may be stale') };
}

/** A receiving call bridge whose message bodies are collected, and a Condition that changes with each. */
function collect(bridge: CallBridge): { received: string[]; errors: string[]; arrivals: Condition } {
  const received: string[] = [];
  const errors: string[] = [];
  const arrivals = new Condition();
  bridge.on('message', (m: { body: string; error?: string }) => {
    (m.error ? errors : received).push(m.error ? `${m.body}: ${m.error}` : m.body);
    arrivals.changed();
  });
  return { received, errors, arrivals };
}

async function connectBridge(name: string, secret: string, at: ClusterNodeProcess): Promise<CallBridge> {
  const bridge = await CallBridge.connect({ name, secret, domain: DOMAIN, host: at.address, port: REFERENCE_PORTS.component[0] });
  bridges.push(bridge);
  return bridge;
}

/**
 * A call bridge is told <handshake/> only once the leader knows its session
 * (cluster/routing/attach-waits.ts), so the very first stanza sent to it from
 * another node, the moment both are connected, must arrive and not bounce,
 * as on a single node. Once it has, the probe is forgotten.
 */
async function routeKnown(sender: CallBridge, receiver: CallBridge, to: string): Promise<void> {
  const seen = new Set<string>();
  const bounced: string[] = [];
  const settled = new Condition();
  // A bounce carries the probe's id, not its body.
  const arrived = (m: { body: string }) => (seen.add(m.body), settled.changed());
  const bounce = (m: { id?: string; error?: string }) => (m.error && m.id && (bounced.push(`${m.id}: ${m.error}`), seen.add(m.id)), settled.changed());
  receiver.on('message', arrived);
  sender.on('message', bounce);
  try {
    for (let attempt = 1; attempt <= 1; attempt++) {
      const probe = `probe-${attempt}`;
      await sender.sendMessage(`${to}.${DOMAIN}`, probe, probe);
      await settled.until(() => seen.has(probe), 10_000, () => `${probe} neither arrived nor bounced`);
      if (!bounced.some((b) => b.startsWith(`${probe}:`))) return;
    }
    throw new Error(`no probe reached ${to}: ${bounced.join('; ')}`);
  } finally {
    receiver.off('message', arrived);
    sender.off('message', bounce);
  }
}

const secretOf = (out: string) => /Secret: (\S+)/.exec(out)![1]!;
const numbers = (from: number, to: number, prefix = '') => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

describe('the cluster under faults', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('elects a new leader when the leader is stopped silently (SIGSTOP), loses and doubles nothing, and takes it back as a follower (SIGCONT)', async () => {
    const { leader: old, followers } = await agreedRoles();
    const [a, b] = followers as [ClusterNodeProcess, ClusterNodeProcess];
    const receiverSecret = secretOf(await expectOk(a, 'xmpp callbridge add cb2'));
    const sender = await connectBridge('cb1', cb1Secret, a);
    const receiverBridge = await connectBridge('cb2', receiverSecret, b);
    await routeKnown(sender, receiverBridge, 'cb2');
    const receiver = collect(receiverBridge);
    const total = 300;
    const mark = a.log.length;
    for (let i = 1; i <= total; i++) {
      await sender.sendMessage(`cb2.${DOMAIN}`, String(i));
      if (i === 100) {
        await receiver.arrivals.until(() => receiver.received.length >= 50, 20_000, () => `only ${receiver.received.length} of the first 100 arrived`);
        // Silent: the process stops, its sockets stay open, nothing is reset.
        await old.kill('SIGSTOP');
      }
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    try {
      await logAfter(a, mark, LEADER_KNOWN, 20_000);
      await receiver.arrivals.until(() => receiver.received.length >= total, 30_000, () => `${receiver.received.length} of ${total} arrived, absent: ${numbers(1, total).filter((x) => !receiver.received.includes(x)).join(',')}; ${a.name}: ${a.log.slice(mark).split('\n').filter((l) => !/"level":30/.test(l)).slice(-30).join('\n')}`);
    } catch (err) {
      await old.kill('SIGCONT');
      throw err;
    }
    expect(receiver.received).toEqual(numbers(1, total));
    expect(receiver.errors).toEqual([]);
    const survivors = await Promise.all([statusOf(a), statusOf(b)]);
    expect(survivors[0]!.leader).toBeDefined();
    expect(survivors[0]!.leader).not.toBe(componentAddress(old));
    expect(survivors[1]!.leader).toBe(survivors[0]!.leader);

    const resumed = old.log.length;
    await old.kill('SIGCONT');
    // It wakes up a leader of an old term, hears the new term and follows it.
    await logAfter(old, resumed, LEADER_KNOWN, 20_000);
    const after = await agreedRoles();
    expect(after.leader).not.toBe(old);
    expect(componentAddress(after.leader)).toBe(survivors[0]!.leader);
    expect(after.statuses[nodes.indexOf(old)]!.state).toBe('FOLLOWER');
    // Nothing it held while stopped reached the receiver a second time.
    expect(receiver.received).toEqual(numbers(1, total));
  }, 60_000);

  it('refuses changes on a partitioned minority, holds its call bridge\'s messages until the partition heals, and converges', async () => {
    const { leader, followers } = await agreedRoles();
    const minority = followers[0]!;
    const senderSecret = secretOf(await expectOk(leader, 'xmpp callbridge add cbm'));
    const receiverSecret = secretOf(await expectOk(leader, 'xmpp callbridge add cbr'));
    const sender = await connectBridge('cbm', senderSecret, minority);
    const receiverBridge = await connectBridge('cbr', receiverSecret, leader);
    await routeKnown(sender, receiverBridge, 'cbr');
    const receiver = collect(receiverBridge);
    await sender.sendMessage(`cbr.${DOMAIN}`, 'before');
    await receiver.arrivals.until(() => receiver.received.length === 1, 10_000, () => 'the message before the partition did not arrive');

    const mark = minority.log.length;
    proxy.isolate(minority.address);
    await logAfter(minority, mark, LEADER_LOST, 10_000);
    for (let i = 1; i <= 20; i++) await sender.sendMessage(`cbr.${DOMAIN}`, `p${i}`);

    const refused = await minority.ssh('xmpp callbridge add cbx');
    expect(refused).toMatchObject({ code: 1, stdout: '', stderr: 'Error: the cluster has no leader (no quorum); nothing was changed\n' });
    const stale = await listOf(minority);
    expect(stale.stale).toBe(true);
    expect(stale.names).not.toContain('cbx');
    expect(await expectOk(minority, 'xmpp cluster status')).toMatch(/^Quorum: lost \(reachable: 1 of 3\)$/m);
    // The majority goes on: a change there is acknowledged.
    expect(await expectOk(leader, 'xmpp callbridge add cbz')).toMatch(/^Successfully added callbridge\.\nSecret: \S+\n$/);
    // The minority's messages wait in its router (no leader to forward to): none arrived, none bounced.
    expect(receiver.received).toEqual(['before']);
    expect(receiver.errors).toEqual([]);

    const healed = minority.log.length;
    proxy.heal();
    await logAfter(minority, healed, LEADER_KNOWN, 20_000);
    await receiver.arrivals.until(() => receiver.received.length >= 21, 20_000, () => `after healing ${receiver.received.length - 1} of 20 arrived`);
    expect(receiver.received).toEqual(['before', ...numbers(1, 20, 'p')]);
    expect(receiver.errors).toEqual([]);
    for (const n of nodes) {
      const list = await listOf(n);
      expect({ node: n.name, stale: list.stale, cbz: list.names.includes('cbz'), cbx: list.names.includes('cbx') }).toEqual({ node: n.name, stale: false, cbz: true, cbx: false });
    }
  }, 60_000);

  it('keeps every acknowledged call-bridge add through a kill -9 and restart of a follower, on all three nodes', async () => {
    const { followers } = await agreedRoles();
    const [adder, victim] = followers as [ClusterNodeProcess, ClusterNodeProcess];
    const acknowledged: string[] = [];
    const refused: string[] = [];
    const progress = new Condition();
    // Two ssh sessions adding at once, 12 names each, through the follower that forwards to the leader.
    const stream = async (prefix: string) => {
      for (let i = 1; i <= 12; i++) {
        const name = `${prefix}${i}`;
        const r = await adder.ssh(`xmpp callbridge add ${name}`);
        (r.code === 0 && r.stdout.startsWith('Successfully added callbridge.\n') ? acknowledged : refused).push(name);
        progress.changed();
      }
    };
    const adds = Promise.all([stream('ka'), stream('kb')]);
    await progress.until(() => acknowledged.length + refused.length >= 6, 30_000, () => 'the adds did not start');
    await victim.kill('SIGKILL');
    const killedAt = acknowledged.length + refused.length;
    await progress.until(() => acknowledged.length + refused.length >= killedAt + 6, 30_000, () => 'the adds stopped after the kill');
    const restarted = 0;
    await victim.start();
    await adds;
    await logAfter(victim, restarted, LEADER_KNOWN, 20_000);
    expect(acknowledged.length + refused.length).toBe(24);
    // With one follower down the two others are a quorum: nothing should have been refused.
    expect(refused).toEqual([]);
    for (const n of nodes) {
      // The restarted node catches up from the leader; its read goes through the leader (ReadIndex): bounded retries while it does.
      let list: { names: string[]; stale: boolean } = { names: [], stale: true };
      for (let attempt = 0; attempt < 20 && (list.stale || acknowledged.some((a) => !list.names.includes(a))); attempt++) {
        list = await listOf(n).catch(() => list);
      }
      expect({ node: n.name, missing: acknowledged.filter((a) => !list.names.includes(a)), present: refused.filter((r) => list.names.includes(r)) }).toEqual({
        node: n.name,
        missing: [],
        present: [],
      });
    }
  }, 60_000);
});

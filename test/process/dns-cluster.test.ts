import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { SrvCallBridge } from '../../src/bridge/srv-call-bridge.js';
import { type ClusterNodeProcess, clusterProcesses, expectOk, PROCESS_TEST_TIMEOUT_MS, REFERENCE_PORTS } from '../helpers/cluster-processes.js';
import { buildCluster, DOMAIN, statusOf } from '../helpers/cluster-setup.js';
import { type BindServer, dig, startBind } from '../helpers/bind-server.js';
import { Condition } from '../helpers/condition.js';

/**
 * Call bridges find the cluster by DNS SRV (issue 14), on three real node
 * processes on 127.0.0.17-19 whose health-aware responders listen on port
 * 5300, and against a real BIND serving a static zone on 127.0.0.20. A call
 * bridge whose node is killed (-9) moves to another node and receives the
 * stanzas held for it; `dig` shows the responder following the cluster.
 */

const DNS_PORT = 5300;
const COMPONENT_PORT = REFERENCE_PORTS.component[0]!;
let nodes: ClusterNodeProcess[];
let bind: BindServer;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  let root: string;
  ({ root, nodes } = await clusterProcesses(3, { firstAddress: 17 }));
  await buildCluster(root, nodes);
  for (const n of nodes) expect(await expectOk(n, `xmpp dns listen ${n.address}:${DNS_PORT}`)).toBe('');
  expect(await expectOk(nodes[0]!, 'xmpp dns enable')).toBe('');
  bind = await startBind({ origin: DOMAIN, zoneText: staticZone(nodes[0]!), address: '127.0.0.20' });
}, 90_000);

/**
 * The static zone a site would publish: every node under its own name, the
 * `home` node first by priority; plus a name whose SRV target has no address.
 */
function staticZone(home: ClusterNodeProcess, serial = 1): string {
  return [
    `$ORIGIN ${DOMAIN}.`,
    '$TTL 60',
    `@ IN SOA ns1.${DOMAIN}. hostmaster.${DOMAIN}. ${serial} 3600 600 86400 60`,
    `  IN NS ns1.${DOMAIN}.`,
    'ns1 IN A 127.0.0.20',
    ...nodes.map((n) => `_xmpp-component._tcp IN SRV ${n === home ? 0 : 10} 0 ${COMPONENT_PORT} xmppserver${n.index}.${DOMAIN}.`),
    ...nodes.map((n) => `xmppserver${n.index} IN A ${n.address}`),
    `_xmpp-component._tcp.noaddr IN SRV 0 0 ${COMPONENT_PORT} ghost.${DOMAIN}.`,
    '',
  ].join('\n');
}

afterAll(async () => {
  for (const close of closers) await close().catch(() => undefined);
  await bind?.stop();
  await Promise.all((nodes ?? []).map((n) => n.kill('SIGKILL')));
});

const srvName = `_xmpp-component._tcp.${DOMAIN}`;

/** The SRV answer of `at`'s responder, one `priority weight port target` line per record, sorted. */
async function srvAt(at: ClusterNodeProcess, tcp = false): Promise<string[]> {
  const out = await dig(at.address, DNS_PORT, ['+norecurse', '+short', '+time=1', '+tries=1', ...(tcp ? ['+tcp'] : []), 'SRV', srvName]);
  return out.trim().split('\n').filter(Boolean).sort();
}

/** Asks `at`'s responder until its SRV answer is `expected` (bounded: the answer follows the cluster's health, which has no event a test can wait on). */
async function srvBecomes(at: ClusterNodeProcess, expected: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    seen = await srvAt(at).catch((err: Error) => [err.message]);
    if (JSON.stringify(seen) === JSON.stringify(expected)) return;
  }
  throw new Error(`${at.name}'s responder answers ${JSON.stringify(seen)}, not ${JSON.stringify(expected)}`);
}

const record = (n: ClusterNodeProcess, priority = 0) => `${priority} 0 ${COMPONENT_PORT} ${n.name}.${DOMAIN}.`;
const numbers = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
const secretOf = (out: string) => /Secret: (\S+)/.exec(out)![1]!;

/** The leader, once every node agrees on it (bounded: status has no event). */
async function leaderNode(): Promise<ClusterNodeProcess> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const statuses = await Promise.all(nodes.map(statusOf));
    const leader = statuses[0]!.leader;
    if (leader && statuses.every((s) => s.leader === leader)) return nodes.find((n) => `${n.address}:${COMPONENT_PORT}` === leader)!;
  }
  throw new Error('the nodes do not agree on a leader');
}

/**
 * The rehoming story, with the call bridge's resolvers given by `servers`:
 * `moving` (an echoing call bridge found by SRV, whose records put it on
 * `home` first) exchanges messages with `fixed` on another node; `home` is
 * killed with -9 between two bursts; `moving` reconnects to another node and
 * receives the second burst, which waited for it, and echoes it back.
 * Between the bursts every message has come back, so nothing is in flight
 * to the dying node: a stanza it had written to the call bridge's socket but
 * not yet confirmed would be delivered again by the new node, which no
 * server can tell from a lost one (the benchmark counts those under steady
 * traffic).
 */
async function rehome(name: string, servers: string[], home: ClusterNodeProcess, other: ClusterNodeProcess): Promise<void> {
  const leader = await leaderNode();
  const secret = secretOf(await expectOk(leader, `xmpp callbridge add ${name}`));
  const fixedName = `${name}f`;
  const fixedSecret = secretOf(await expectOk(leader, `xmpp callbridge add ${fixedName}`));
  const moving = SrvCallBridge.start({ name, secret, domain: DOMAIN, dnsServers: servers, echo: true, connectTimeoutMs: 1000 });
  closers.push(() => moving.close());
  const first = await moving.waitConnected(20_000);
  expect(first.address).toBe(home.address);
  const fixed = await CallBridge.connect({ name: fixedName, secret: fixedSecret, domain: DOMAIN, host: other.address, port: COMPONENT_PORT });
  closers.push(() => fixed.close());

  const received: string[] = [];
  const echoed: string[] = [];
  const changed = new Condition();
  moving.on('message', (m: { body: string; error?: string }) => (received.push(m.error ? `error ${m.error}` : m.body), changed.changed()));
  fixed.on('message', (m: { body: string; error?: string }) => (echoed.push(m.error ? `error ${m.error}` : m.body), changed.changed()));
  const send = async (from: number, to: number) => {
    for (const body of numbers(from, to)) await fixed.sendMessage(`${name}.${DOMAIN}`, body, `m${body}`);
  };

  await send(1, 50);
  await changed.until(() => echoed.length >= 50, 20_000, () => `${echoed.length} of 50 echoes before the kill: ${echoed.slice(-5).join(',')}`);
  const moved = new Promise<{ address: string }>((resolve) => moving.once('connected', resolve));
  await home.kill('SIGKILL');
  await send(51, 100);
  const next = await moved;
  expect(next.address).not.toBe(home.address);
  await changed.until(() => echoed.length >= 100, 30_000, () => `${received.length} received and ${echoed.length} echoed of 100 after the move to ${next.address}`);
  expect(received).toEqual(numbers(1, 100));
  expect(echoed).toEqual(numbers(1, 100));
}

describe('call bridges find the cluster by DNS SRV', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('every responder answers the same SRV, A, NXDOMAIN and REFUSED, over UDP and TCP', async () => {
    const all = nodes.map((n) => record(n)).sort();
    for (const n of nodes) {
      await srvBecomes(n, all, 10_000);
      expect(await srvAt(n, true)).toEqual(all);
    }
    const a = await dig(nodes[1]!.address, DNS_PORT, ['+norecurse', '+short', 'A', `cb3.${DOMAIN}`]);
    expect(a.trim()).toBe(nodes[2]!.address);
    const missing = await dig(nodes[0]!.address, DNS_PORT, ['+norecurse', 'A', `nope.${DOMAIN}`]);
    expect(missing).toMatch(/status: NXDOMAIN/);
    expect(missing).toMatch(/flags: qr aa/);
    const outside = await dig(nodes[0]!.address, DNS_PORT, ['+norecurse', 'A', 'example.org']);
    expect(outside).toMatch(/status: REFUSED/);
  });

  it('a call bridge whose node is killed moves to another node through our responder and receives what waited for it; dig follows the node out and back', async () => {
    const leader = await leaderNode();
    const [home, other] = nodes.filter((n) => n !== leader) as [ClusterNodeProcess, ClusterNodeProcess];
    // The moving bridge's node first, the others after it (RFC 2782 priority), cluster-wide.
    for (const n of nodes) expect(await expectOk(leader, `xmpp dns record ${n.name} ${n.name}.${DOMAIN} ${n === home ? 0 : 10} 0`)).toBe('');
    const ranked = nodes.map((n) => record(n, n === home ? 0 : 10)).sort();
    await srvBecomes(other, ranked, 10_000);

    await rehome('cbsrv', [leader, other].map((n) => `${n.address}:${DNS_PORT}`), home, other);

    // The dead node leaves the answers within the failure-detection time, on every live node, and comes back after its restart.
    const survivors = nodes.filter((n) => n !== home);
    for (const n of survivors) await srvBecomes(n, ranked.filter((r) => r !== record(home, 0)), 10_000);
    await home.start();
    for (const n of nodes) await srvBecomes(n, ranked, 20_000);
  });

  it('a call bridge finds the nodes through a static zone in BIND and moves when its node is killed', async () => {
    const leader = await leaderNode();
    const [home, other] = nodes.filter((n) => n !== leader) as [ClusterNodeProcess, ClusterNodeProcess];
    await bind.reload(staticZone(home, 2));
    await rehome('cbbind', [bind.server], home, other);
    await home.start();
    await leaderNode();
  });

  it('xmpp dns check resolves step by step as a call bridge does, and names a target without addresses in the call bridge\'s words', async () => {
    const found = await expectOk(nodes[0]!, `xmpp dns check ${DOMAIN} @${nodes[1]!.address}:${DNS_PORT}`);
    expect(found).toMatch(new RegExp(`^Looking up _xmpp-component\\._tcp\\.example\\.test SRV with ${nodes[1]!.address}:${DNS_PORT}$`, 'm'));
    for (const n of nodes) expect(found).toMatch(new RegExp(`^  \\d+ 0 ${COMPONENT_PORT} ${n.name}\\.example\\.test: ${n.address.replace(/\./g, '\\.')}$`, 'm'));
    const missing = await nodes[0]!.ssh(`xmpp dns check noaddr.${DOMAIN} @${bind.server}`);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n').at(-1)).toBe('Error: No DNS A or AAAA records for _xmpp-component._tcp.noaddr.example.test');
  });
});


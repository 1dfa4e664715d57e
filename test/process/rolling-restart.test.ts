import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SrvCallBridge } from '../../src/bridge/srv-call-bridge.js';
import { type ClusterNodeProcess, clusterProcesses, expectOk, PROCESS_TEST_TIMEOUT_MS, REFERENCE_PORTS } from '../helpers/cluster-processes.js';
import { buildCluster, DOMAIN, logAfter, statusOf } from '../helpers/cluster-setup.js';
import { type BindServer, startBind } from '../helpers/bind-server.js';
import { Condition } from '../helpers/condition.js';

/**
 * A rolling restart (issue 16) of three real node processes on
 * 127.0.16.4-6, one at a time (SIGTERM, wait for the exit, start again, wait
 * until it is a live member), under steady traffic between two call bridges
 * that find the nodes by SRV in a real BIND on 127.0.16.7 and move to the
 * next node when told <system-shutdown/> (src/bridge/srv-call-bridge.ts).
 * Numbered messages go both ways, paced; every number must arrive. Copies are
 * counted and printed, not hidden.
 */

const COMPONENT_PORT = REFERENCE_PORTS.component[0]!;
const LEADER_KNOWN = /"event":"leader_changed"[^\n]*"leader":"(?!none)/;
/** Between two sends of one direction: steady traffic, a few hundred messages per restart. */
const PACE_MS = 10;
/** Sent but not yet received, per direction, at most: a lost message shows as a stall, not as an endless backlog. */
const WINDOW = 50;
let nodes: ClusterNodeProcess[];
let bind: BindServer;
const closers: Array<() => Promise<void>> = [];

/** Each call bridge's own SRV name, listing the nodes in its own order (RFC 2782 priority), so they start on different nodes. */
function zone(order: Record<string, readonly ClusterNodeProcess[]>): string {
  return [
    `$ORIGIN ${DOMAIN}.`,
    '$TTL 60',
    `@ IN SOA ns1.${DOMAIN}. hostmaster.${DOMAIN}. 1 3600 600 86400 60`,
    `  IN NS ns1.${DOMAIN}.`,
    `ns1 IN A ${bind?.address ?? '127.0.16.7'}`,
    ...Object.entries(order).flatMap(([name, list]) => list.map((n, i) => `_xmpp-component._tcp.${name} IN SRV ${i * 10} 0 ${COMPONENT_PORT} xmppserver${n.index}.${DOMAIN}.`)),
    ...nodes.map((n) => `xmppserver${n.index} IN A ${n.address}`),
    '',
  ].join('\n');
}

beforeAll(async () => {
  let root: string;
  ({ root, nodes } = await clusterProcesses(3, { network: '127.0.16', firstAddress: 4 }));
  for (const n of nodes) n.extraArgs = ['--shutdown-timeout', '10'];
  await buildCluster(root, nodes);
  const [n1, n2, n3] = nodes as [ClusterNodeProcess, ClusterNodeProcess, ClusterNodeProcess];
  bind = await startBind({ origin: DOMAIN, address: '127.0.16.7', zoneText: zone({ a: [n1, n2, n3], b: [n2, n3, n1] }) });
}, 90_000);

afterAll(async () => {
  for (const close of closers) await close().catch(() => undefined);
  await bind?.stop();
  await Promise.all((nodes ?? []).map((n) => n.kill('SIGKILL')));
});

const secretOf = (out: string) => /Secret: (\S+)/.exec(out)![1]!;

/** One direction of the traffic: numbers sent, and how often each arrived. */
interface Flow {
  readonly name: string;
  sent: number;
  readonly arrived: Map<number, number>;
  readonly bounced: string[];
  readonly sendFailures: string[];
}

function flow(name: string): Flow {
  return { name, sent: 0, arrived: new Map(), bounced: [], sendFailures: [] };
}

function summary(f: Flow): { sent: number; distinct: number; missing: number[]; duplicates: number; bounced: number; sendFailures: number } {
  const missing: number[] = [];
  for (let i = 1; i <= f.sent; i++) if (!f.arrived.has(i)) missing.push(i);
  const duplicates = [...f.arrived.values()].reduce((sum, n) => sum + n - 1, 0);
  return { sent: f.sent, distinct: f.arrived.size, missing, duplicates, bounced: f.bounced.length, sendFailures: f.sendFailures.length };
}

describe('a rolling restart under traffic', { timeout: 4 * PROCESS_TEST_TIMEOUT_MS }, () => {
  it('restarts all three nodes one at a time and loses no stanza between two call bridges', async () => {
    const cbaSecret = secretOf(await expectOk(nodes[0]!, 'xmpp callbridge add cba'));
    const cbbSecret = secretOf(await expectOk(nodes[0]!, 'xmpp callbridge add cbb'));
    const changed = new Condition();
    const moves: string[] = [];
    const start = (name: string, srv: string, secret: string) => {
      const b = SrvCallBridge.start({ name, secret, domain: DOMAIN, srvDomain: `${srv}.${DOMAIN}`, dnsServers: [bind.server], connectTimeoutMs: 1000, sendWaitMs: 20_000 });
      closers.push(() => b.close());
      b.on('connected', (to: { address: string }) => (moves.push(`${name}→${to.address}`), changed.changed()));
      return b;
    };
    const cbA = 'cba';
    const a = start(cbA, 'a', cbaSecret);
    const b = start('cbb', 'b', cbbSecret);
    expect((await a.waitConnected(20_000)).address).toBe(nodes[0]!.address);
    expect((await b.waitConnected(20_000)).address).toBe(nodes[1]!.address);

    const aToB = flow(`${cbA}→cbb`);
    const bToA = flow(`cbb→${cbA}`);
    const receive = (f: Flow) => (m: { body: string; error?: string }) => {
      if (m.error) f.bounced.push(`${m.body}: ${m.error}`);
      else f.arrived.set(Number(m.body), (f.arrived.get(Number(m.body)) ?? 0) + 1);
      changed.changed();
    };
    b.on('message', receive(aToB));
    a.on('message', receive(bToA));

    let running = true;
    const pump = async (from: SrvCallBridge, to: string, f: Flow) => {
      while (running) {
        await changed.until(() => !running || f.sent - f.arrived.size < WINDOW, 60_000, () => `${f.name}: ${f.sent - f.arrived.size} unanswered for a minute`);
        if (!running) break;
        const n = ++f.sent;
        await from.sendMessage(to, String(n)).catch((err: Error) => f.sendFailures.push(`${n}: ${err.message}`));
        await new Promise((r) => setTimeout(r, PACE_MS));
      }
    };
    const pumps = [pump(a, `cbb.${DOMAIN}`, aToB), pump(b, `${cbA}.${DOMAIN}`, bToA)];
    const flowing = async (more: number) => {
      const [x, y] = [aToB.arrived.size + more, bToA.arrived.size + more];
      await changed.until(() => aToB.arrived.size >= x && bToA.arrived.size >= y, 30_000, () => `traffic stalled: ${JSON.stringify([summary(aToB), summary(bToA)].map((s) => ({ ...s, missing: s.missing.slice(0, 20) })))}`);
    };
    await flowing(50);

    const restarts: string[] = [];
    for (const n of nodes) {
      const before = await statusOf(n);
      const mark = n.log.length;
      n.process!.child.kill('SIGTERM');
      const code = await Promise.race([n.process!.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 20_000))]);
      const log = n.log.slice(mark);
      expect({ node: n.name, code }, log.slice(-3000)).toEqual({ node: n.name, code: 0 });
      expect(log).toMatch(/"event":"shutdown_complete"/);
      expect(log).not.toMatch(/"event":"shutdown_timeout"/);
      if (before.state === 'LEADER') expect(log).toMatch(/"event":"leadership_transferred"/);
      await flowing(20); // the other two carry the traffic meanwhile
      await n.start();
      await logAfter(n, 0, LEADER_KNOWN, 20_000);
      const after = await statusOf(n);
      expect(['LEADER', 'FOLLOWER']).toContain(after.state);
      restarts.push(`${n.name} (${before.state.toLowerCase()}): exit ${code}, back as ${after.state.toLowerCase()}`);
      await flowing(50);
    }

    running = false;
    changed.changed();
    await Promise.all(pumps);
    const complete = () => [aToB, bToA].every((f) => summary(f).missing.length === 0);
    await changed.until(complete, 30_000, () => `not every number arrived: ${JSON.stringify([summary(aToB), summary(bToA)])}`).catch(() => undefined);

    const counts = [aToB, bToA].map((f) => ({ flow: f.name, ...summary(f) }));
    console.log(`rolling restart: ${restarts.join('; ')}\ncall bridges moved: ${moves.join(', ')}\n${counts.map((c) => `${c.flow}: sent ${c.sent}, arrived ${c.distinct} distinct, missing ${c.missing.length}${c.missing.length ? ` (${c.missing.slice(0, 30).join(',')})` : ''}, duplicates ${c.duplicates}, bounced ${c.bounced}, send failures ${c.sendFailures}`).join('\n')}`);
    for (const f of [aToB, bToA]) {
      expect({ flow: f.name, missing: summary(f).missing, bounced: f.bounced, sendFailures: f.sendFailures }).toEqual({ flow: f.name, missing: [], bounced: [], sendFailures: [] });
    }
    // Both call bridges moved at least once.
    expect(moves.filter((m) => m.startsWith(`${cbA}→`)).length).toBeGreaterThan(1);
    expect(moves.filter((m) => m.startsWith('cbb→')).length).toBeGreaterThan(1);
  });
});


import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { type ClusterNodeProcess, clusterProcesses, expectOk, PROCESS_TEST_TIMEOUT_MS, REFERENCE_PORTS } from '../helpers/cluster-processes.js';
import { buildCluster, DOMAIN, logAfter, statusOf } from '../helpers/cluster-setup.js';
import { Condition } from '../helpers/condition.js';

/**
 * SIGTERM on the leader of three real node processes (127.0.16.1-3, issue
 * 16): it hands leadership over, and only once the new leader is known does
 * it tell its call bridge <system-shutdown/>; the call bridge reconnects to
 * another member and is routed at once; the process exits 0.
 */

const SHUTDOWN_SECONDS = 8;
const COMPONENT_PORT = REFERENCE_PORTS.component[0]!;
let nodes: ClusterNodeProcess[];
const bridges: CallBridge[] = [];

beforeAll(async () => {
  let root: string;
  ({ root, nodes } = await clusterProcesses(3, { network: '127.0.16', firstAddress: 1 }));
  for (const n of nodes) n.extraArgs = ['--shutdown-timeout', String(SHUTDOWN_SECONDS)];
  await buildCluster(root, nodes);
}, 90_000);

afterAll(async () => {
  for (const b of bridges) await b.close().catch(() => undefined);
  await Promise.all((nodes ?? []).map((n) => n.kill('SIGKILL')));
});

const componentAddress = (n: ClusterNodeProcess) => `${n.address}:${COMPONENT_PORT}`;
const secretOf = (out: string) => /Secret: (\S+)/.exec(out)![1]!;

/** The leader once every node agrees on it (bounded: status has no event). */
async function agreedLeader(among: readonly ClusterNodeProcess[]): Promise<ClusterNodeProcess> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const statuses = await Promise.all(among.map(statusOf));
    const leader = statuses[0]!.leader;
    if (leader && statuses.every((s) => s.leader === leader)) return among.find((n) => componentAddress(n) === leader)!;
  }
  throw new Error('the nodes do not agree on a leader');
}

async function connect(name: string, secret: string, at: ClusterNodeProcess): Promise<CallBridge> {
  const bridge = await CallBridge.connect({ name, secret, domain: DOMAIN, host: at.address, port: COMPONENT_PORT });
  bridges.push(bridge);
  return bridge;
}

/** Where in the log the first line matching `pattern` starts (-1: none). */
const lineAt = (log: string, pattern: RegExp) => log.search(pattern);

describe('SIGTERM on the leader', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('hands leadership over, tells its call bridge <system-shutdown/> only once the new leader is known, and exits 0', async () => {
    const old = await agreedLeader(nodes);
    const [a, b] = nodes.filter((n) => n !== old) as [ClusterNodeProcess, ClusterNodeProcess];
    const movingSecret = secretOf(await expectOk(old, 'xmpp callbridge add cbmove'));
    const fixedSecret = secretOf(await expectOk(old, 'xmpp callbridge add cbfix'));
    const moving = await connect('cbmove', movingSecret, old);
    const fixed = await connect('cbfix', fixedSecret, b);

    const told = new Condition();
    let condition: string | undefined;
    moving.on('stream-error', (err: { condition?: string }) => {
      condition = err.condition;
      told.changed();
    });
    const mark = old.log.length;
    old.process!.child.kill('SIGTERM');
    await told.until(() => condition !== undefined, SHUTDOWN_SECONDS * 1000, () => 'the call bridge was not told why its stream ended');
    expect(condition).toBe('system-shutdown');

    // Exit 0, having finished every step within the bound (no shutdown_timeout line).
    const exited = await Promise.race([old.process!.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), (SHUTDOWN_SECONDS + 5) * 1000))]);
    expect(exited).toBe(0);
    const log = old.log.slice(mark);
    expect(log).not.toMatch(/"event":"shutdown_timeout"/);
    expect(log).toMatch(/"event":"shutdown_complete"/);

    // The log shows the transfer, and the new leader known (it learns of it only from the new leader) before the call bridges were sent away.
    const transfer = /"event":"leadership_transfer"[^\n]*"to":"([^"]+)"/.exec(log);
    expect(transfer, log).not.toBeNull();
    const successor = transfer![1]!;
    const transferred = new RegExp(`"event":"leadership_transferred"[^\\n]*"leader":"${successor}"`);
    expect(lineAt(log, transferred), log).toBeGreaterThan(lineAt(log, /"event":"leadership_transfer"/));
    expect(lineAt(log, /"event":"component_disconnected"[^\n]*"component":"cbmove\.example\.test"[^\n]*"condition":"system-shutdown"/)).toBeGreaterThan(lineAt(log, transferred));
    expect(lineAt(log, /"event":"callbridges_told"/)).toBeGreaterThan(lineAt(log, transferred));
    // The transferee leads: the survivors say so.
    for (const n of [a, b]) await logAfter(n, 0, new RegExp(`"event":"leader_changed"[^\\n]*"leader":"${successor}"`), 10_000);

    // The survivors agree on that leader; the call bridge reconnects to one and is routed at once, both ways.
    const leader = await agreedLeader([a, b]);
    expect(leader).not.toBe(old);
    const back = await connect('cbmove', movingSecret, a);
    const arrived = new Condition();
    const atFixed: string[] = [];
    const atMoving: string[] = [];
    fixed.on('message', (m: { body: string; error?: string }) => (atFixed.push(m.error ? `error ${m.error}` : m.body), arrived.changed()));
    back.on('message', (m: { body: string; error?: string }) => (atMoving.push(m.error ? `error ${m.error}` : m.body), arrived.changed()));
    await back.sendMessage(`cbfix.${DOMAIN}`, 'after the move');
    await fixed.sendMessage(`cbmove.${DOMAIN}`, 'welcome back');
    await arrived.until(() => atFixed.length > 0 && atMoving.length > 0, 10_000, () => `fixed got ${atFixed.join(',')}; moving got ${atMoving.join(',')}`);
    expect(atFixed).toEqual(['after the move']);
    expect(atMoving).toEqual(['welcome back']);

    // Started again, it follows the new leader.
    await old.start();
    await logAfter(old, 0, /"event":"leader_changed"[^\n]*"leader":"(?!none)/, 20_000);
    expect((await statusOf(old)).state).toBe('FOLLOWER');
  });
});

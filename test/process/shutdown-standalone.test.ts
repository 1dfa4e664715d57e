import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { type ClusterNodeProcess, clusterProcesses, expectOk, PROCESS_TEST_TIMEOUT_MS, REFERENCE_PORTS } from '../helpers/cluster-processes.js';
import { DOMAIN } from '../helpers/cluster-setup.js';
import { Condition } from '../helpers/condition.js';

/**
 * SIGTERM on a standalone node process (127.0.16.10, issue 16): no cluster
 * to hand anything to; the listeners close, its call bridges are told
 * <system-shutdown/> after every stanza already routed to them, and it exits 0.
 */

let node: ClusterNodeProcess;
const bridges: CallBridge[] = [];

beforeAll(async () => {
  node = (await clusterProcesses(1, { network: '127.0.16', firstAddress: 10 })).nodes[0]!;
  node.extraArgs = ['--shutdown-timeout', '5'];
  await node.start();
}, 60_000);

afterAll(async () => {
  for (const b of bridges) await b.close().catch(() => undefined);
  await node?.kill('SIGKILL');
});

const secretOf = (out: string) => /Secret: (\S+)/.exec(out)![1]!;

describe('SIGTERM on a standalone node', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('tells its call bridges <system-shutdown/> after what was routed to them, and exits 0', async () => {
    for (const command of [`xmpp domain ${DOMAIN}`, 'xmpp listen a']) expect(await expectOk(node, command)).toBe('');
    const secrets = { cb1: secretOf(await expectOk(node, 'xmpp callbridge add cb1')), cb2: secretOf(await expectOk(node, 'xmpp callbridge add cb2')) };
    expect(await expectOk(node, 'xmpp enable')).toBe('');
    const connect = async (name: 'cb1' | 'cb2') => {
      const b = await CallBridge.connect({ name, secret: secrets[name], domain: DOMAIN, host: node.address, port: REFERENCE_PORTS.component[0]! });
      bridges.push(b);
      return b;
    };
    const [sender, receiver] = [await connect('cb1'), await connect('cb2')];
    const changed = new Condition();
    const received: string[] = [];
    const conditions: Record<string, string | undefined> = {};
    receiver.on('message', (m: { body: string }) => (received.push(m.body), changed.changed()));
    for (const [name, b] of [['cb1', sender], ['cb2', receiver]] as const) {
      b.on('stream-error', (err: { condition?: string }) => ((conditions[name] = err.condition), changed.changed()));
      b.on('disconnected', () => ((conditions[`${name} disconnected`] = 'yes'), changed.changed()));
    }
    for (let i = 1; i <= 20; i++) await sender.sendMessage(`cb2.${DOMAIN}`, String(i));
    await changed.until(() => received.length === 20, 10_000, () => `${received.length} of 20 arrived`);

    const mark = node.log.length;
    node.process!.child.kill('SIGTERM');
    await changed.until(() => conditions.cb1 !== undefined && conditions.cb2 !== undefined, 5_000, () => `told: ${JSON.stringify(conditions)}`);
    expect({ cb1: conditions.cb1, cb2: conditions.cb2 }).toEqual({ cb1: 'system-shutdown', cb2: 'system-shutdown' });
    const exited = await Promise.race([node.process!.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 10_000))]);
    expect(exited).toBe(0);
    await changed.until(() => conditions['cb1 disconnected'] === 'yes' && conditions['cb2 disconnected'] === 'yes', 5_000, () => `disconnected: ${JSON.stringify(conditions)}`);

    const log = node.log.slice(mark);
    expect(log).toMatch(/"event":"signal"[^\n]*"signal":"SIGTERM"/);
    expect(log).toMatch(/"event":"callbridges_shut_down"[^\n]*"sessions":2[^\n]*"stayed":0/);
    expect(log).toMatch(/"event":"shutdown_complete"/);
    expect(log).not.toMatch(/"event":"shutdown_timeout"|"event":"leadership_transfer"/);
    expect(received).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)));
    // The port is closed: nothing more is accepted.
    await expect(CallBridge.connect({ name: 'cb1', secret: secrets.cb1, domain: DOMAIN, host: node.address, port: REFERENCE_PORTS.component[0]!, timeoutMs: 2000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

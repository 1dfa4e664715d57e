import type { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge, type ReceivedMessage } from '../../src/bridge/call-bridge.js';
import { SrvCallBridge, type Attempt, type ConnectFailure, type SrvTargetAddress } from '../../src/bridge/srv-call-bridge.js';
import type { SrvLookupError } from '../../src/dns/srv-lookup.js';
import { startBind, type BindServer } from '../helpers/bind-server.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { LogCapture, startTestNode, type TestNode } from '../helpers/test-node.js';

/**
 * A call bridge that finds its node by SRV in a real BIND zone and moves to
 * the next node when its own refuses, stays silent, refuses its secret or
 * goes away: real nodes on loopback, xmpp.js as the call bridge.
 */

const DNS = '127.0.2.3';
const NODE1 = '127.0.2.4';
const NODE2 = '127.0.2.5';
const REFUSING = '127.0.2.6';
const BAD_SECRET = '127.0.2.7';
const SILENT = '127.0.2.8';
const SECRETS = { cb1: 'secret-one-1234567890', cb2: 'secret-two-1234567890' };

let node1: TestNode;
let node2: TestNode;
let badSecretNode: TestNode;
let silent: Server;
const silentSockets: Socket[] = [];
let bind: BindServer;
let refusedPort: number;
let silentPort: number;
/** In front of node1's second component port: cutting it is node1 dying without a word (kill -9: resets, then refusals). */
let proxy: FaultProxy;
let proxyPort: number;

/** The next `event` whose value satisfies `matches`, or a rejection naming what was awaited. */
function next<T>(emitter: EventEmitter, event: string, matches: (v: T) => boolean = () => true, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`no matching ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (v: T) => {
      if (!matches(v)) return;
      clearTimeout(timer);
      emitter.off(event, on);
      resolve(v);
    };
    emitter.on(event, on);
  });
}

async function freePort(address: string): Promise<number> {
  const probe = createServer();
  const port = await listen(probe, address);
  await new Promise((r) => probe.close(r));
  return port;
}

function listen(server: Server, address: string): Promise<number> {
  return new Promise((resolve) => server.listen(0, address, () => resolve((server.address() as { port: number }).port)));
}

/** The test zone; `extra` lines are added by a reload. */
function zoneText(serial: number, extra = ''): string {
  return `$ORIGIN example.test.
$TTL 60
@ IN SOA ns1 hostmaster ${serial} 3600 600 86400 60
@ IN NS ns1
ns1 IN A ${DNS}
node1 IN A ${NODE1}
node2 IN A ${NODE2}
node3 IN A ${BAD_SECRET}
refusing IN A ${REFUSING}
silent IN A ${SILENT}
_xmpp-component._tcp IN SRV 0 0 ${node1.ports[0]} node1
_xmpp-component._tcp IN SRV 10 0 ${node2.ports[0]} node2
_xmpp-component._tcp.refused IN SRV 0 0 ${refusedPort} refusing.example.test.
_xmpp-component._tcp.refused IN SRV 10 0 ${node2.ports[0]} node2.example.test.
_xmpp-component._tcp.silent IN SRV 0 0 ${silentPort} silent.example.test.
_xmpp-component._tcp.silent IN SRV 10 0 ${node2.ports[1]} node2.example.test.
_xmpp-component._tcp.badsecret IN SRV 0 0 ${badSecretNode.ports[0]} node3.example.test.
_xmpp-component._tcp.badsecret IN SRV 10 0 ${node2.ports[0]} node2.example.test.
_xmpp-component._tcp.noaddr IN SRV 0 0 5223 ghost.noaddr
_xmpp-component._tcp.later IN SRV 0 0 ${refusedPort} refusing.example.test.
_xmpp-component._tcp.cut IN SRV 0 0 ${proxyPort} node1.example.test.
_xmpp-component._tcp.cut IN SRV 10 0 ${node2.ports[0]} node2.example.test.
${extra}
`;
}

beforeAll(async () => {
  node1 = await startTestNode({ address: NODE1, name: 'node1', callbridges: SECRETS });
  node2 = await startTestNode({ address: NODE2, name: 'node2', callbridges: SECRETS });
  badSecretNode = await startTestNode({ address: BAD_SECRET, name: 'node3', callbridges: { cb1: 'another-secret-1234567890', cb2: 'another-secret-0987654321' } });
  // A port nothing listens on: bound once, then closed.
  refusedPort = await freePort(REFUSING);
  proxyPort = await freePort(NODE1);
  proxy = await FaultProxy.start([NODE1], proxyPort, node1.ports[1]);
  // Accepts TCP and never says a word: the call bridge's connect timeout ends it.
  silent = createServer((s) => silentSockets.push(s));
  silentPort = await listen(silent, SILENT);
  bind = await startBind({ origin: 'example.test', zoneText: zoneText(1), address: DNS });
});

afterAll(async () => {
  await bind?.stop();
  await proxy?.close();
  for (const s of silentSockets) s.destroy();
  await new Promise((r) => silent?.close(r));
  await Promise.all([node1?.close(), node2?.close(), badSecretNode?.close()]);
});

/** Default connect timeout (2 s) unless a test waits one out on purpose. */
function srvBridge(name: 'cb1' | 'cb2', srvDomain: string, log?: LogCapture, connectTimeoutMs?: number): SrvCallBridge {
  return SrvCallBridge.start({
    name,
    secret: SECRETS[name],
    domain: 'example.test',
    srvDomain,
    dnsServers: [bind.server],
    connectTimeoutMs,
    log: log?.logger,
  });
}

const plainBridge = (t: TestNode, address: string, name: 'cb1' | 'cb2') =>
  CallBridge.connect({ name, secret: SECRETS[name], domain: 'example.test', host: address, port: t.ports[0] });

describe('SRV call bridge', () => {
  it('after a pass in which every target refuses, waits a growing time, looks up again and finds a node added to DNS', async () => {
    const bridge = srvBridge('cb1', 'later.example.test');
    const delays: number[] = [];
    bridge.on('backoff', (b: { delayMs: number }) => delays.push(b.delayMs));
    try {
      await next(bridge, 'backoff', () => delays.length === 3);
      expect(delays.every((d, i) => d <= 3000 && (i === 0 || d >= delays[i - 1]!))).toBe(true);
      const connected = next<SrvTargetAddress>(bridge, 'connected');
      await bind.reload(zoneText(2, `_xmpp-component._tcp.later IN SRV 10 0 ${node2.ports[0]} node2.example.test.`));
      expect((await connected).target).toBe('node2.example.test');
    } finally {
      await bridge.close();
    }
  });

  it('skips a target that refuses connections and connects to the next', async () => {
    const bridge = srvBridge('cb1', 'refused.example.test');
    const failed = next<ConnectFailure>(bridge, 'connect-failed');
    const attempt = next<Attempt>(bridge, 'attempt', (a) => a.left !== undefined);
    try {
      expect(await bridge.waitConnected()).toEqual({ target: 'node2.example.test', address: NODE2, port: node2.ports[0] });
      expect(await failed).toMatchObject({ target: 'refusing.example.test', port: refusedPort, reason: 'refused' });
      expect((await attempt).left).toEqual({ target: 'refusing.example.test', reason: 'refused' });
    } finally {
      await bridge.close();
    }
  });

  it('leaves a target that accepts and never answers after the connect timeout', async () => {
    const bridge = srvBridge('cb1', 'silent.example.test', undefined, 300);
    const failed = next<ConnectFailure>(bridge, 'connect-failed');
    try {
      expect((await bridge.waitConnected()).target).toBe('node2.example.test');
      expect(await failed).toMatchObject({ target: 'silent.example.test', reason: 'timeout' });
    } finally {
      await bridge.close();
    }
  });

  it('logs an authentication failure in the seeds’ words and tries the other nodes', async () => {
    const log = new LogCapture();
    const bridge = srvBridge('cb1', 'badsecret.example.test', log);
    const failed = next<ConnectFailure>(bridge, 'connect-failed');
    try {
      expect((await bridge.waitConnected()).target).toBe('node2.example.test');
      expect((await failed).reason).toBe('authentication failure');
      expect(log.find('connect-failed').map((l) => l.msg)).toContain('XMPP connection failed to connect to node3.example.test due to authentication failure');
      expect(log.find('connect-attempt').map((l) => l.msg)).toContain(
        `trying node2.example.test (${NODE2}:${node2.ports[0]}) after authentication failure from node3.example.test`,
      );
    } finally {
      await bridge.close();
    }
  });

  it('says "No DNS A or AAAA records" and "dns error" when no target has an address, and keeps trying', async () => {
    const log = new LogCapture();
    const bridge = srvBridge('cb1', 'noaddr.example.test', log);
    try {
      const first = await next<SrvLookupError>(bridge, 'dns-error');
      expect(first.message).toBe('No DNS A or AAAA records for _xmpp-component._tcp.noaddr.example.test');
      await next<{ delayMs: number }>(bridge, 'backoff');
      await next<SrvLookupError>(bridge, 'dns-error');
      const lines = log.find('dns-error').map((l) => l.msg);
      expect(lines.slice(0, 2)).toEqual([
        'No DNS A or AAAA records for _xmpp-component._tcp.noaddr.example.test',
        'XMPP component connection disconnected due to failure reason: "dns error"',
      ]);
    } finally {
      await bridge.close();
    }
    expect(bridge.connectedTo).toBeUndefined();
  });

  it('sendMessage waits for a session and keeps the sender’s order', async () => {
    const receiver = await plainBridge(node2, NODE2, 'cb1');
    const got: ReceivedMessage[] = [];
    receiver.on('message', (m: ReceivedMessage) => got.push(m));
    const all = next<ReceivedMessage>(receiver, 'message', () => got.length === 3);
    // Not connected yet: the first target refuses cb2's secret, so all three wait for node2.
    const sender = srvBridge('cb2', 'badsecret.example.test');
    try {
      await Promise.all([1, 2, 3].map((i) => sender.sendMessage('cb1.example.test', `in order ${i}`, `o${i}`)));
      await all;
      expect(got.map((m) => m.body)).toEqual(['in order 1', 'in order 2', 'in order 3']);
    } finally {
      await sender.close();
      await receiver.close();
    }
  });

  it('moves to the next node when its node dies without a word (connection reset, then refused)', async () => {
    const cb1 = srvBridge('cb1', 'cut.example.test');
    try {
      expect(await cb1.waitConnected()).toEqual({ target: 'node1.example.test', address: NODE1, port: proxyPort });
      const dropped = next<{ condition?: string }>(cb1, 'dropped');
      const moved = next<SrvTargetAddress>(cb1, 'connected');
      proxy.isolate(NODE1);
      expect((await dropped).condition).toBeUndefined();
      expect(await moved).toEqual({ target: 'node2.example.test', address: NODE2, port: node2.ports[0] });
      const onNode2 = await plainBridge(node2, NODE2, 'cb2');
      const got = next<ReceivedMessage>(cb1, 'message');
      await onNode2.sendMessage('cb1.example.test', 'after the reset', 'r1');
      expect((await got).body).toBe('after the reset');
      await onNode2.close();
    } finally {
      proxy.heal();
      await cb1.close();
    }
  });

  it('connects by priority and, when its node goes away, moves to the next node and goes on receiving there', async () => {
    const log = new LogCapture();
    const cb1 = srvBridge('cb1', 'example.test', log);
    const received: ReceivedMessage[] = [];
    cb1.on('message', (m: ReceivedMessage) => received.push(m));
    try {
      const first = await cb1.waitConnected();
      expect(first).toEqual<SrvTargetAddress>({ target: 'node1.example.test', address: NODE1, port: node1.ports[0] });

      const onNode1 = await plainBridge(node1, NODE1, 'cb2');
      const one = next<ReceivedMessage>(cb1, 'message');
      await onNode1.sendMessage('cb1.example.test', 'through node1', 'n1');
      expect(await one).toMatchObject({ from: 'cb2.example.test', body: 'through node1' });
      await onNode1.close();

      const moved = next<SrvTargetAddress>(cb1, 'connected');
      const attempt = next<Attempt>(cb1, 'attempt', (a) => a.target === 'node2.example.test');
      await node1.close();
      expect(await moved).toEqual({ target: 'node2.example.test', address: NODE2, port: node2.ports[0] });
      expect((await attempt).left).toEqual({ target: 'node1.example.test', reason: 'disconnected' });
      expect(log.find('session-dropped')[0]).toMatchObject({ target: 'node1.example.test', condition: 'system-shutdown' });

      const onNode2 = await plainBridge(node2, NODE2, 'cb2');
      const more = next<ReceivedMessage>(cb1, 'message', () => received.length === 4);
      for (const i of [1, 2, 3]) await onNode2.sendMessage('cb1.example.test', `through node2 ${i}`, `n2-${i}`);
      await more;
      expect(received.map((m) => m.body)).toEqual(['through node1', 'through node2 1', 'through node2 2', 'through node2 3']);
      await onNode2.close();
    } finally {
      await cb1.close();
    }
  });
});

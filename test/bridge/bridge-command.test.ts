import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { startBind, type BindServer } from '../helpers/bind-server.js';
import { assertBuilt, CliProcess, runCli } from '../helpers/cli.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

/** `xmpp-cluster bridge --srv`, as an operator runs it (the built CLI), against BIND and real nodes. */

const DNS = '127.0.2.9';
const NODE_A = '127.0.2.10';
const NODE_B = '127.0.2.11';
const SECRETS = { cb1: 'secret-one-1234567890', cb2: 'secret-two-1234567890' };

let nodeA: TestNode;
let nodeB: TestNode;
let bind: BindServer;

beforeAll(async () => {
  assertBuilt();
  nodeA = await startTestNode({ address: NODE_A, name: 'nodea', callbridges: SECRETS });
  nodeB = await startTestNode({ address: NODE_B, name: 'nodeb', callbridges: SECRETS });
  bind = await startBind({
    origin: 'example.test',
    address: DNS,
    zoneText: `$ORIGIN example.test.
$TTL 60
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
@ IN NS ns1
ns1 IN A ${DNS}
_xmpp-component._tcp IN SRV 0 0 ${nodeA.ports[0]} xmppserver1
_xmpp-component._tcp IN SRV 10 0 ${nodeB.ports[0]} xmppserver2
xmppserver1 IN A ${NODE_A}
xmppserver2 IN A ${NODE_B}
_xmpp-component._tcp.noaddr IN SRV 0 0 5223 xmppserver9.noaddr
`,
  });
});

afterAll(async () => {
  await bind?.stop();
  await Promise.all([nodeA?.close(), nodeB?.close()]);
});

const bridgeArgs = (srv: string, dns: string, ...more: string[]) => ['bridge', '--name', 'cb1', '--secret', SECRETS.cb1, '--domain', 'example.test', '--srv', srv, '--dns', dns, ...more];

const sender = (t: TestNode, host: string) => CallBridge.connect({ name: 'cb2', secret: SECRETS.cb2, domain: 'example.test', host, port: t.ports[0] });

describe('xmpp-cluster bridge --srv', () => {
  it('finds its node by SRV, receives there, and after that node stops receives on the next one', async () => {
    const cli = new CliProcess(bridgeArgs('example.test', bind.server, '--expect', '2', '--timeout', '20'));
    try {
      await cli.waitForOutput(/connected as cb1\.example\.test to xmppserver1\.example\.test/, 15_000, 'stderr');
      const onA = await sender(nodeA, NODE_A);
      await onA.sendMessage('cb1.example.test', 'via xmppserver1', 'a1');
      await cli.waitForOutput(/via xmppserver1/);
      await onA.close();

      await nodeA.close();
      await cli.waitForOutput(/connected as cb1\.example\.test to xmppserver2\.example\.test/, 15_000, 'stderr');
      expect(cli.stderr).toMatch(/trying xmppserver2\.example\.test \(127\.0\.2\.11:\d+\) after disconnected from xmppserver1\.example\.test/);
      const onB = await sender(nodeB, NODE_B);
      await onB.sendMessage('cb1.example.test', 'via xmppserver2', 'b1');
      expect(await cli.exited).toBe(0);
      await onB.close();
      const bodies = cli.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).body);
      expect(bodies).toEqual(['via xmppserver1', 'via xmppserver2']);
    } finally {
      await cli.stop();
    }
  });

  it('prints the seeds’ lines when the SRV targets have no A or AAAA records', async () => {
    const cli = new CliProcess(bridgeArgs('noaddr.example.test', bind.server, '--expect', '1', '--timeout', '20'));
    try {
      await cli.waitForOutput(/failure reason: "dns error"/, 15_000, 'stderr');
      expect(cli.stderr.split('\n').slice(0, 2)).toEqual([
        'No DNS A or AAAA records for _xmpp-component._tcp.noaddr.example.test',
        'XMPP component connection disconnected due to failure reason: "dns error"',
      ]);
    } finally {
      await cli.stop();
    }
  });

  it('prints a dns error when nothing answers on the --dns address', async () => {
    // A UDP port nobody listens on.
    const probe = createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, DNS, resolve));
    const port = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const cli = new CliProcess(bridgeArgs('example.test', `${DNS}:${port}`, '--expect', '1', '--timeout', '30'));
    try {
      await cli.waitForOutput(/failure reason: "dns error"/, 20_000, 'stderr');
      expect(cli.stderr).toMatch(/^DNS lookup of _xmpp-component\._tcp\.example\.test failed: (ECONNREFUSED|ETIMEOUT)$/m);
    } finally {
      await cli.stop();
    }
  });

  it('--server still connects to the one node given and receives there', async () => {
    const cli = new CliProcess(['bridge', '--name', 'cb1', '--secret', SECRETS.cb1, '--domain', 'example.test', '--server', `${NODE_B}:${nodeB.ports[1]}`, '--expect', '1']);
    try {
      await cli.waitForOutput(/^connected as cb1\.example\.test$/m, 15_000, 'stderr');
      const onB = await sender(nodeB, NODE_B);
      await onB.sendMessage('cb1.example.test', 'direct', 'd1');
      expect(await cli.exited).toBe(0);
      await onB.close();
      expect(JSON.parse(cli.stdout.trim())).toMatchObject({ from: 'cb2.example.test', to: 'cb1.example.test', body: 'direct' });
    } finally {
      await cli.stop();
    }
  });

  it('refuses --server with --srv, and a --dns that is not an address', async () => {
    const both = await runCli(['bridge', '--name', 'cb1', '--secret', 's', '--domain', 'example.test', '--server', '127.0.2.10:5222', '--srv', 'example.test']);
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('Error: bridge takes --server HOST:PORT or --srv DOMAIN, not both\n');
    const badDns = await runCli(bridgeArgs('example.test', 'dns.example.test'));
    expect(badDns.code).toBe(2);
    expect(badDns.stderr).toMatch(/^Error: --dns dns\.example\.test: expected an IP address/);
    const neither = await runCli(['bridge', '--name', 'cb1', '--secret', 's', '--domain', 'example.test']);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/missing: server/);
  });
});

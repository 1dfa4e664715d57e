import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Interpreter } from '../../../src/mmp/interpreter.js';
import { nodeInterpreter } from '../../../src/mmp/node-commands.js';
import { XmppNode } from '../../../src/node/xmpp-node.js';
import { eventually, MemoryCluster, type MemoryClusterNode } from '../../helpers/memory-cluster.js';
import { ScriptTerminal } from '../../helpers/script-terminal.js';
import { LogCapture, tempDir } from '../../helpers/test-node.js';

/**
 * `xmpp dns ...` (reference/commands.md, "Health-aware DNS"): the settings
 * layout and the records it would serve, the configuration commands and
 * their refusals on a standalone node, and the cluster-wide settings on
 * members of a cluster (over a memory network: no port is opened here).
 */

let node: XmppNode;
let mmp: Interpreter;
let dataDir: string;
const open = (address = '127.0.3.1') => XmppNode.open({ dataDir, name: 'cb1', address, log: new LogCapture().logger, serve: false });
const run = (line: string) => mmp.run(line, new ScriptTerminal([]), 'exec', 'admin');
const out = async (line: string) => (await run(line)).output;

beforeEach(async () => {
  dataDir = await tempDir();
  node = await open();
  mmp = nodeInterpreter(node);
});
afterEach(async () => node.close());

const DEFAULT_LAYOUT = [
  'Enabled          : false',
  'Domain           : example.test',
  'Listen addresses : <none>',
  'TTL              : 5',
  '',
  'Peer            Node  Target                      Priority  Weight  Live',
  '127.0.3.1:5222  cb1   cb1.example.test (default)  0         0       yes',
  '',
  'Records it would serve now:',
  '_xmpp-component._tcp.example.test. 5 IN SRV 0 0 5222 cb1.example.test.',
  '_xmpp-server._tcp.example.test. 5 IN SRV 0 0 5269 cb1.example.test.',
  'cb1.example.test. 5 IN A 127.0.3.1',
  '',
].join('\n');

describe('xmpp dns on a standalone node', () => {
  it('says so when there is no domain, and shows the defaults', async () => {
    expect(await run('xmpp dns')).toEqual({
      output: [
        'Enabled          : false',
        'Domain           : <none>',
        'Listen addresses : <none>',
        'TTL              : 5',
        '',
        'Peer            Node  Target                  Priority  Weight  Live',
        '127.0.3.1:5222  cb1   cb1.<domain> (default)  0         0       yes',
        '',
        'No records: no domain set (xmpp domain <domain>)',
        '',
      ].join('\n'),
      exitCode: 0,
    });
  });

  it('shows the records it would serve: SRV for call bridges and federation on the node name under the domain, and its A record', async () => {
    await out('xmpp domain example.test');
    expect(await out('xmpp dns')).toBe(DEFAULT_LAYOUT);
  });

  it('takes enable, ttl, listen and record, printing nothing, and keeps them across a restart', async () => {
    for (const line of ['xmpp domain example.test', 'xmpp dns enable', 'xmpp dns ttl 30', 'xmpp dns listen 127.0.3.1:5300 ::1 [fd00::A]:5353', 'xmpp dns record cb1 XMPP1.example.test. 10 5']) {
      expect({ line, result: await run(line) }).toEqual({ line, result: { output: '', exitCode: 0 } });
    }
    const layout = [
      'Enabled          : true',
      'Domain           : example.test',
      'Listen addresses : 127.0.3.1:5300 [::1]:53 [fd00::a]:5353',
      'TTL              : 30',
      '',
      'Peer            Node  Target              Priority  Weight  Live',
      '127.0.3.1:5222  cb1   xmpp1.example.test  10        5       yes',
      '',
      'Records it would serve now:',
      '_xmpp-component._tcp.example.test. 30 IN SRV 10 5 5222 xmpp1.example.test.',
      '_xmpp-server._tcp.example.test. 30 IN SRV 10 5 5269 xmpp1.example.test.',
      'xmpp1.example.test. 30 IN A 127.0.3.1',
      '',
    ].join('\n');
    expect(await out('xmpp dns')).toBe(layout);
    expect(node.dnsListen()).toEqual([{ host: '127.0.3.1', port: 5300 }, { host: '::1', port: 53 }, { host: 'fd00::a', port: 5353 }]);
    await node.close();
    node = await open();
    mmp = nodeInterpreter(node);
    expect(await out('xmpp dns')).toBe(layout);
    expect(await run('xmpp dns disable')).toEqual({ output: '', exitCode: 0 });
    expect(node.settings().dns.enabled).toBe(false);
  });

  it('names this node by its name, its address or its endpoint; none restores the default; priority and weight default to 0', async () => {
    await out('xmpp domain example.test');
    for (const peer of ['cb1', 'CB1', '127.0.3.1', '127.0.3.1:5222', node.identity.id]) {
      expect(await run(`xmpp dns record ${peer} ${peer.length}.example.test`)).toEqual({ output: '', exitCode: 0 });
      expect(node.settings().dns.records).toEqual({ [node.identity.id]: { target: `${peer.length}.example.test`, priority: 0, weight: 0 } });
    }
    expect(await run('xmpp dns record cb1 none')).toEqual({ output: '', exitCode: 0 });
    expect(node.settings().dns.records).toEqual({});
    expect(await out('xmpp dns')).toBe(DEFAULT_LAYOUT);
  });

  it.each([
    ['xmpp dns ttl 0', 'Error: the TTL must be whole seconds from 1 to 86400, not 0', 1],
    ['xmpp dns ttl 86401', 'Error: the TTL must be whole seconds from 1 to 86400, not 86401', 1],
    ['xmpp dns ttl 5.5', 'Error: the TTL must be whole seconds from 1 to 86400, not 5.5', 1],
    ['xmpp dns ttl -1', 'Error: the TTL must be whole seconds from 1 to 86400, not -1', 1],
    ['xmpp dns ttl', 'Error: usage: xmpp dns ttl <seconds>', 2],
    ['xmpp dns record cb9 x.example.test', 'Error: cb9 is not this node; a standalone node sets only its own record (xmpp dns record cb1 <target-fqdn>)', 1],
    ['xmpp dns record cb1 bad_name.example.test', "Error: 'bad_name.example.test' is not a host name for an SRV target: the label 'bad_name' may hold only letters, digits and hyphens, and may not start or end with a hyphen", 1],
    ['xmpp dns record cb1 x..example.test', "Error: 'x..example.test' is not a host name for an SRV target: the name has an empty label (two dots, or a dot at either end)", 1],
    ['xmpp dns record cb1 x.example.test 65536 0', 'Error: the priority must be a whole number from 0 to 65535, not 65536', 1],
    ['xmpp dns record cb1 x.example.test 0 ten', 'Error: the weight must be a whole number from 0 to 65535, not ten', 1],
    ['xmpp dns record cb1 x.example.test 10', 'Error: usage: xmpp dns record <peer> <target-fqdn> [<priority> <weight>] | <peer> none', 2],
    ['xmpp dns record cb1 none 1 2', 'Error: usage: xmpp dns record <peer> <target-fqdn> [<priority> <weight>] | <peer> none', 2],
    ['xmpp dns listen dns.example.test', "Error: 'dns.example.test' is not an IP address with an optional port (127.0.0.1, 127.0.0.1:5300, ::1 or [::1]:5300)", 1],
    ['xmpp dns listen 127.0.3.1:0', "Error: '0' is not a port number (1 to 65535)", 1],
    ['xmpp dns listen 127.0.3.1:65536', "Error: '65536' is not a port number (1 to 65535)", 1],
    ['xmpp dns listen 127.0.3.1:', "Error: '' is not a port number (1 to 65535)", 1],
    ['xmpp dns listen 127.0.3.1:5300 fd00::1::2', "Error: 'fd00::1::2' is not an IP address with an optional port (127.0.0.1, 127.0.0.1:5300, ::1 or [::1]:5300)", 1],
    ['xmpp dns listen [127.0.3.1]:53', "Error: '[127.0.3.1]:53' is not an IP address with an optional port (127.0.0.1, 127.0.0.1:5300, ::1 or [::1]:5300)", 1],
    ['xmpp dns listen 127.0.3.1 127.0.3.1:53', 'Error: 127.0.3.1:53 is given twice', 1],
    ['xmpp dns listen', 'Error: usage: xmpp dns listen <address>[:<port>] [<address>[:<port>]...] | none', 2],
    ['xmpp dns enable now', 'Error: usage: xmpp dns enable', 2],
    ['xmpp dns frobnicate', "Error: unknown command 'xmpp dns frobnicate'; type help xmpp dns", 2],
  ] as const)('refuses `%s` with one Error line and changes nothing', async (line, error, exitCode) => {
    await out('xmpp domain example.test');
    await out('xmpp dns listen 127.0.3.2');
    const before = await readFile(node.layout.settings, 'utf8');
    expect(await run(line)).toEqual({ output: `${error}\n`, exitCode });
    expect(await readFile(node.layout.settings, 'utf8')).toBe(before);
  });

  it('help xmpp dns prints the syntax of each command', async () => {
    const usages = (await out('help xmpp dns')).split('\n').filter(Boolean).map((l) => l.split(/ {2,}/)[0]);
    expect(usages).toEqual([
      'xmpp dns [--json]',
      'xmpp dns enable',
      'xmpp dns disable',
      'xmpp dns listen <address>[:<port>] [<address>[:<port>]...] | none',
      'xmpp dns ttl <seconds>',
      'xmpp dns record <peer> <target-fqdn> [<priority> <weight>] | <peer> none',
      'xmpp dns check <domain> [@<server>[:<port>] ...]',
    ]);
  });

  it('prints one JSON document with --json', async () => {
    await out('xmpp domain example.test');
    await out('xmpp dns listen 127.0.3.1:5300');
    expect(JSON.parse(await out('xmpp dns --json'))).toEqual({
      enabled: false,
      domain: 'example.test',
      listen: ['127.0.3.1:5300'],
      ttl: 5,
      members: [{ id: node.identity.id, name: 'cb1', endpoint: '127.0.3.1:5222', target: 'cb1.example.test', priority: 0, weight: 0, default: true, live: true }],
      zone: {
        domain: 'example.test',
        ttl: 5,
        component: [{ priority: 0, weight: 0, port: 5222, target: 'cb1.example.test' }],
        server: [{ priority: 0, weight: 0, port: 5269, target: 'cb1.example.test' }],
        hosts: [{ name: 'cb1.example.test', addresses: ['127.0.3.1'] }],
      },
    });
    expect(node.dnsZone()).toEqual(JSON.parse(await out('xmpp dns --json')).zone);
  });

  it('serves AAAA for a node on an IPv6 address, its endpoint in brackets', async () => {
    await node.close();
    node = await open('fd00::7');
    mmp = nodeInterpreter(node);
    await out('xmpp domain example.test');
    const text = await out('xmpp dns');
    expect(text).toMatch(/^\[fd00::7\]:5222 +cb1 +cb1\.example\.test \(default\)/m);
    expect(text).toMatch(/^cb1\.example\.test\. 5 IN AAAA fd00::7$/m);
    expect(await run('xmpp dns record [fd00::7]:5222 v6.example.test')).toEqual({ output: '', exitCode: 0 });
  });

  it('tells the responder of each change it is configured by: dns settings, listen addresses, domain, reset', async () => {
    let calls = 0;
    node.onDnsChange(() => calls++);
    for (const line of ['xmpp domain example.test', 'xmpp dns enable', 'xmpp dns ttl 9', 'xmpp dns listen 127.0.3.1', 'xmpp dns record cb1 a.example.test']) {
      const before = calls;
      await out(line);
      expect({ line, told: calls > before }).toEqual({ line, told: true });
    }
    const before = calls;
    await out('xmpp dns ttl 9');
    expect(calls).toBe(before);
    await out('xmpp reset --force');
    expect(calls).toBeGreaterThan(before);
  });

  it('xmpp reset clears the dns settings and the listen addresses with the rest', async () => {
    for (const line of ['xmpp domain example.test', 'xmpp dns enable', 'xmpp dns ttl 60', 'xmpp dns listen 127.0.3.1', 'xmpp dns record cb1 a.example.test 1 1']) await out(line);
    expect(await run('xmpp reset --force')).toEqual({ output: '', exitCode: 0 });
    expect(node.settings()).toMatchObject({ dns: { enabled: false, ttl: 5, records: {} }, dnsListen: [] });
    await out('xmpp domain example.test');
    expect(await out('xmpp dns')).toBe(DEFAULT_LAYOUT);
  });

  it('reads a settings.json written before xmpp dns as the defaults, and refuses a damaged dns field, naming the file', async () => {
    await out('xmpp domain example.test');
    await node.close();
    const doc = JSON.parse(await readFile(node.layout.settings, 'utf8')) as Record<string, unknown>;
    delete doc.dns;
    delete doc.dnsListen;
    await writeFile(node.layout.settings, JSON.stringify(doc));
    node = await open();
    mmp = nodeInterpreter(node);
    expect(await out('xmpp dns')).toBe(DEFAULT_LAYOUT);
    await node.close();
    for (const bad of [{ dns: { enabled: true, ttl: 0, records: {} } }, { dns: { enabled: true, ttl: 5, records: { x: { target: 'A.example', priority: 0, weight: 0 } } } }, { dnsListen: ['127.0.3.1'] }]) {
      await writeFile(node.layout.settings, JSON.stringify({ ...doc, ...bad }));
      await expect(open()).rejects.toThrow(/settings\.json is corrupt \(dns/);
    }
    await writeFile(node.layout.settings, JSON.stringify(doc));
    node = await open();
  });
});

describe('xmpp dns on cluster members', () => {
  let cluster: MemoryCluster;
  let cb1: MemoryClusterNode;
  let cb2: MemoryClusterNode;
  afterEach(async () => cluster.close());

  const liveCount = (n: MemoryClusterNode) => n.node.zoneMembers().filter((m) => m.live).length;

  async function twoMembers(): Promise<void> {
    cluster = new MemoryCluster();
    cb1 = await cluster.node('cb1', '127.0.3.1');
    for (const line of ['xmpp domain example.test', 'xmpp dns enable', 'xmpp dns ttl 30', 'xmpp dns record cb1 xmpp1.example.test 1 2', 'xmpp cluster initialize']) {
      expect({ line, out: await cb1.run(line) }).toEqual({ line, out: '' });
    }
    cb2 = await cluster.node('cb2', '127.0.3.2');
    await cb2.run('xmpp domain example.test');
    expect(await cb2.run('xmpp cluster join 127.0.3.1')).toBe('Joined cluster: 2 peers, leader 127.0.3.1:5222\n');
  }

  it("seeds the cluster with the initializing node's settings, and every member shows the same records for every member", async () => {
    await twoMembers();
    for (const n of [cb1, cb2]) {
      expect(n.node.configuration().kind).toBe('replicated');
      await eventually(() => n.node.settings().dns.ttl === 30, `${n.node.name} to apply the seeded settings`);
    }
    // Liveness comes from the failure detector: wait for its first view of both members.
    await eventually(() => liveCount(cb1) === 2 && liveCount(cb2) === 2, 'both members to see both live');
    for (const n of [cb1, cb2]) {
      const text = await n.run('xmpp dns');
      expect(text.split('\n').slice(0, 8)).toEqual([
        'Enabled          : true',
        'Domain           : example.test',
        'Listen addresses : <none>',
        'TTL              : 30',
        '',
        'Peer            Node  Target                      Priority  Weight  Live',
        '127.0.3.1:5222  cb1   xmpp1.example.test          1         2       yes',
        '127.0.3.2:5222  cb2   cb2.example.test (default)  0         0       yes',
      ]);
      const served = text.slice(text.indexOf('Records it would serve now:\n') + 'Records it would serve now:\n'.length).trim().split('\n');
      expect(served.sort()).toEqual(
        [
          '_xmpp-component._tcp.example.test. 30 IN SRV 1 2 5222 xmpp1.example.test.',
          '_xmpp-component._tcp.example.test. 30 IN SRV 0 0 5222 cb2.example.test.',
          '_xmpp-server._tcp.example.test. 30 IN SRV 1 2 5269 xmpp1.example.test.',
          '_xmpp-server._tcp.example.test. 30 IN SRV 0 0 5269 cb2.example.test.',
          'xmpp1.example.test. 30 IN A 127.0.3.1',
          'cb2.example.test. 30 IN A 127.0.3.2',
        ].sort(),
      );
    }
  });

  it('changes the cluster-wide settings from any member, but listen only on the node it is typed on; refuses an unknown peer', async () => {
    await twoMembers();
    let told = 0;
    cb1.node.onDnsChange(() => told++);
    for (const line of ['xmpp dns ttl 7', 'xmpp dns record 127.0.3.1:5222 none', 'xmpp dns record cb2 xmpp2.example.test 5 5', 'xmpp dns disable', 'xmpp dns listen 127.0.3.2:5300']) {
      expect({ line, out: await cb2.run(line) }).toEqual({ line, out: '' });
    }
    await eventually(() => !cb1.node.settings().dns.enabled && cb1.node.settings().dns.ttl === 7, 'cb1 to apply the changes made on cb2');
    expect(cb1.node.settings().dns.records).toEqual({ [cb2.node.identity.id]: { target: 'xmpp2.example.test', priority: 5, weight: 5 } });
    // cb1's responder hears of the changes applied from the log.
    expect(told).toBeGreaterThan(0);
    expect(cb1.node.dnsListen()).toEqual([]);
    expect(cb2.node.dnsListen()).toEqual([{ host: '127.0.3.2', port: 5300 }]);
    expect(await cb1.run('xmpp dns record cb9 x.example.test')).toBe('Error: no cluster member cb9; name it as xmpp cluster status lists it, or by its node name\n');
    expect(await cb1.run('xmpp dns record 127.0.3.9:5222 x.example.test')).toMatch(/^Error: no cluster member 127\.0\.3\.9:5222;/);
  });

  it('keeps a copy on leave: the standalone node serves its own record with the same settings', async () => {
    await twoMembers();
    await cb1.run('xmpp dns record cb2 xmpp2.example.test 3 4');
    await eventually(() => cb2.node.settings().dns.records[cb2.node.identity.id] !== undefined, 'cb2 to apply its record');
    expect(await cb2.run('xmpp cluster leave')).toBe('');
    expect(cb2.node.configuration().kind).toBe('local');
    const text = await cb2.run('xmpp dns');
    expect(text).toMatch(/^Enabled +: true$/m);
    expect(text).toMatch(/^TTL +: 30$/m);
    expect(text).toMatch(/^127\.0\.3\.2:5222 +cb2 +xmpp2\.example\.test +3 +4 +yes$/m);
    expect(text).not.toMatch(/127\.0\.3\.1/);
  });
});

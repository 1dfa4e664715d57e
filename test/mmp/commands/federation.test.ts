import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { federationCommands } from '../../../src/mmp/commands/federation.js';
import { Interpreter } from '../../../src/mmp/interpreter.js';
import { nodeInterpreter } from '../../../src/mmp/node-commands.js';
import type { FederationConnectionRow } from '../../../src/node/federation-view.js';
import { XmppNode } from '../../../src/node/xmpp-node.js';
import { ScriptTerminal } from '../../helpers/script-terminal.js';
import { LogCapture, tempDir } from '../../helpers/test-node.js';

/**
 * `xmpp federation ...` on a standalone node (federation.md, "Commands"):
 * every layout line by line as the reference prints it, the refusals as one
 * `Error:` line that changes nothing, and the dialback secret shown once.
 */

const NOW = Date.UTC(2024, 0, 1, 12, 0, 0);
let node: XmppNode;
let log: LogCapture;
let mmp: Interpreter;
let dataDir: string;
const open = async () => {
  log = new LogCapture();
  node = await XmppNode.open({ dataDir, name: 'cb1', address: '127.0.8.1', log: log.logger, serve: false });
  mmp = nodeInterpreter(node);
};
const run = (line: string) => mmp.run(line, new ScriptTerminal([]), 'exec', 'admin');
const out = async (line: string) => {
  const r = await run(line);
  if (r.exitCode !== 0) throw new Error(`${line}: ${r.output}`);
  return r.output;
};
const lines = (text: string) => text.split('\n').slice(0, -1);

beforeEach(async () => {
  dataDir = await tempDir();
  await open();
});
afterEach(async () => node.close());

const row = (r: Partial<FederationConnectionRow> & Pick<FederationConnectionRow, 'remoteDomain' | 'peerAddress' | 'direction' | 'node'>): FederationConnectionRow => ({
  id: `${r.node}-${r.peerAddress}`,
  localDomain: 'example.test',
  tls: 'TLS 1.3',
  auth: 'dialback',
  lastActivity: NOW,
  ...r,
});

/** The rows of federation.md's `xmpp federation connections` example. */
const REFERENCE_ROWS = [
  row({ remoteDomain: 'partner.net', peerAddress: '198.51.100.7:5269', direction: 'outgoing', tls: null, auth: 'dialback', lastActivity: NOW - 598_000, node: 'cb1' }),
  row({ remoteDomain: 'example.org', peerAddress: '192.0.2.10:40218', direction: 'incoming', auth: 'dialback', lastActivity: NOW - 3_400, node: 'cb2' }),
  row({ remoteDomain: 'example.org', peerAddress: '192.0.2.10:5269', direction: 'outgoing', auth: 'sasl', lastActivity: NOW - 42_999, node: 'cb1' }),
];

describe('xmpp federation status', () => {
  it('shows the defaults of federation.md on a new node, with no connections when no view is attached', async () => {
    expect(lines(await out('xmpp federation status'))).toEqual([
      'Federation           : disabled',
      'Dialback secret      : not set',
      'Security mode        : TLS required',
      'Client certificates  : not required',
      'SASL EXTERNAL        : incoming on, outgoing on',
      'Privacy mode         : Allow list',
      'Allow list           : 0 domains',
      'Deny list            : 0 domains',
      'Static routes        : 0 domains',
      'Connections          : 0 (0 incoming, 0 outgoing)',
    ]);
    expect(await out('xmpp federation connections')).toBe('No federation connections.\n');
  });

  it("prints federation.md's example block for the same settings and streams", async () => {
    for (const line of ['xmpp federation enable', 'xmpp federation allow add example.org', 'xmpp federation allow add *.partner.net outgoing', 'xmpp federation route add partner.net 198.51.100.7']) {
      expect({ line, out: await out(line) }).toEqual({ line, out: '' });
    }
    const streams = [
      row({ remoteDomain: 'example.org', peerAddress: '192.0.2.10:5269', direction: 'outgoing', node: 'cb1' }),
      row({ remoteDomain: 'example.org', peerAddress: '192.0.2.10:40218', direction: 'incoming', node: 'cb1' }),
      row({ remoteDomain: 'partner.net', peerAddress: '198.51.100.7:40100', direction: 'incoming', node: 'cb1' }),
    ];
    node.federation.attach({ connections: async () => streams });
    expect(lines(await out('xmpp federation status'))).toEqual([
      'Federation           : enabled',
      'Dialback secret      : set',
      'Security mode        : TLS required',
      'Client certificates  : not required',
      'SASL EXTERNAL        : incoming on, outgoing on',
      'Privacy mode         : Allow list',
      'Allow list           : 2 domains',
      'Deny list            : 0 domains',
      'Static routes        : 1 domain',
      'Connections          : 3 (2 incoming, 1 outgoing)',
    ]);
  });

  it('words every mode as the reference does', async () => {
    for (const line of ['xmpp federation security none', 'xmpp federation client-certs on', 'xmpp federation sasl-external incoming off', 'xmpp federation privacy deny', 'xmpp federation deny add spam.example']) await out(line);
    const text = await out('xmpp federation status');
    expect(lines(text).slice(2, 8)).toEqual([
      'Security mode        : No TLS',
      'Client certificates  : required',
      'SASL EXTERNAL        : incoming off, outgoing on',
      'Privacy mode         : Deny list',
      'Allow list           : 0 domains',
      'Deny list            : 1 domain',
    ]);
    await out('xmpp federation security optional');
    await out('xmpp federation privacy off');
    await out('xmpp federation sasl-external outgoing off');
    expect(lines(await out('xmpp federation status')).filter((l) => /^(Security|Privacy|SASL)/.test(l))).toEqual([
      'Security mode        : TLS optional',
      'SASL EXTERNAL        : incoming off, outgoing off',
      'Privacy mode         : Off',
    ]);
  });

  it('prints the settings as JSON with --json, saying only whether a secret is set', async () => {
    await out('xmpp federation enable');
    await out('xmpp federation deny add *.spam.example incoming');
    await out('xmpp federation route add partner.net [2001:DB8::7]:5270');
    node.federation.attach({ connections: async () => REFERENCE_ROWS });
    expect(JSON.parse(await out('xmpp federation status --json'))).toEqual({
      enabled: true,
      dialbackSecretSet: true,
      securityMode: 'required',
      clientCertsRequired: false,
      saslExternal: { incoming: true, outgoing: true },
      privacyMode: 'allow',
      allow: [],
      deny: [{ domain: '*.spam.example', direction: 'incoming' }],
      routes: [{ domain: 'partner.net', targets: ['[2001:db8::7]:5270'] }],
      connections: { total: 3, incoming: 1, outgoing: 2 },
      unanswered: [],
    });
  });
});

describe('xmpp federation connections', () => {
  it("prints federation.md's table: domain, peer address, direction, security, auth, idle (m:ss), node", async () => {
    const fixed = new Interpreter(federationCommands({ node, now: () => NOW }));
    node.federation.attach({ connections: async () => REFERENCE_ROWS });
    const result = await fixed.run('xmpp federation connections', new ScriptTerminal([]), 'exec', 'admin');
    expect(result.exitCode).toBe(0);
    expect(lines(result.output)).toEqual([
      'Domain        Peer address      Direction  Security  Auth      Idle    Node',
      'example.org   192.0.2.10:5269   Outgoing   TLS 1.3   SASL      0:42    cb1',
      'example.org   192.0.2.10:40218  Incoming   TLS 1.3   dialback  0:03    cb2',
      'partner.net   198.51.100.7:5269 Outgoing   none      dialback  9:58    cb1',
    ]);
    const json = JSON.parse((await fixed.run('xmpp federation connections --json', new ScriptTerminal([]), 'exec', 'admin')).output);
    expect(json.unanswered).toEqual([]);
    expect(json.connections[0]).toEqual({ domain: 'example.org', localDomain: 'example.test', peerAddress: '192.0.2.10:5269', direction: 'outgoing', tls: 'TLS 1.3', auth: 'sasl', idleSeconds: 42, node: 'cb1' });
    expect(json.connections.map((c: { idleSeconds: number }) => c.idleSeconds)).toEqual([42, 3, 598]);
  });

  it('widens a column for a longer cell and keeps at least one space, and counts minutes past an hour', async () => {
    const fixed = new Interpreter(federationCommands({ node, now: () => NOW }));
    const long = row({ remoteDomain: 'a-very-long-partner-domain.example', peerAddress: '[2001:db8::1234:5678]:5269', direction: 'incoming', lastActivity: NOW - 3_725_000, node: 'cb1' });
    node.federation.attach({ connections: async () => [long] });
    expect(lines((await fixed.run('xmpp federation connections', new ScriptTerminal([]), 'exec', 'admin')).output)).toEqual([
      'Domain                             Peer address               Direction  Security  Auth      Idle    Node',
      'a-very-long-partner-domain.example [2001:db8::1234:5678]:5269 Incoming   TLS 1.3   dialback  62:05   cb1',
    ]);
  });
});

describe('xmpp federation lists and routes', () => {
  it('lists `<domain>  <direction>` sorted, and `<domain>  <host>:<port>` per route; del takes them off', async () => {
    for (const line of [
      'xmpp federation allow add Zeta.example',
      'xmpp federation allow add alpha.example incoming',
      'xmpp federation allow add *.mid.example outgoing',
      'xmpp federation deny add spam.example',
      'xmpp federation route add partner.net xmpp.Partner.net',
      'xmpp federation route add partner.net 192.0.2.7:5270',
      'xmpp federation route add other.net 198.51.100.9',
    ]) {
      expect({ line, out: await out(line) }).toEqual({ line, out: '' });
    }
    expect(lines(await out('xmpp federation allow list'))).toEqual(['*.mid.example  outgoing', 'alpha.example  incoming', 'zeta.example   both']);
    expect(lines(await out('xmpp federation deny list'))).toEqual(['spam.example  both']);
    expect(lines(await out('xmpp federation route list'))).toEqual(['other.net    198.51.100.9:5269', 'partner.net  192.0.2.7:5270', 'partner.net  xmpp.partner.net:5269']);
    expect(JSON.parse(await out('xmpp federation allow list --json'))).toEqual([
      { domain: '*.mid.example', direction: 'outgoing' },
      { domain: 'alpha.example', direction: 'incoming' },
      { domain: 'zeta.example', direction: 'both' },
    ]);
    expect(JSON.parse(await out('xmpp federation route list --json'))).toEqual([
      { domain: 'other.net', targets: ['198.51.100.9:5269'] },
      { domain: 'partner.net', targets: ['192.0.2.7:5270', 'xmpp.partner.net:5269'] },
    ]);
    // Adding a domain again changes its direction.
    await out('xmpp federation allow add alpha.example both');
    await out('xmpp federation allow del zeta.example');
    await out('xmpp federation route del partner.net 192.0.2.7:5270');
    expect(lines(await out('xmpp federation allow list'))).toEqual(['*.mid.example  outgoing', 'alpha.example  both']);
    expect(lines(await out('xmpp federation route list'))).toEqual(['other.net    198.51.100.9:5269', 'partner.net  xmpp.partner.net:5269']);
    // Without a target: every route of the domain.
    await out('xmpp federation route add partner.net 192.0.2.8');
    await out('xmpp federation route del partner.net');
    expect(lines(await out('xmpp federation route list'))).toEqual(['other.net  198.51.100.9:5269']);
    await out('xmpp federation deny del spam.example');
    expect(await out('xmpp federation deny list')).toBe('');
  });

  it.each([
    ['xmpp federation deny add example.org', 'Error: example.org is on the allow list; delete it there first', 1],
    ['xmpp federation allow add Partner.NET', 'Error: partner.net is on the deny list; delete it there first', 1],
    ['xmpp federation allow add exa_mple.org', "Error: 'exa_mple.org' is not a domain or *.domain pattern: the label 'exa_mple' may hold only letters, digits and hyphens, and may not start or end with a hyphen", 1],
    ['xmpp federation deny add *.*.org', "Error: '*.*.org' is not a domain or *.domain pattern: '*' may only start a pattern, as in *.example.com", 1],
    ['xmpp federation allow add a..org', "Error: 'a..org' is not a domain or *.domain pattern: the domain has an empty label (two dots, or a dot at either end)", 1],
    ['xmpp federation allow add a.org sideways', "Error: 'sideways' is not a direction; give both, incoming or outgoing", 1],
    ['xmpp federation allow del nothere.org', 'Error: nothere.org is not on the allow list', 1],
    ['xmpp federation deny del example.org', 'Error: example.org is not on the deny list', 1],
    ['xmpp federation route add partner.net h.partner.net:99999', 'Error: port 99999 is outside 1–65535', 1],
    ['xmpp federation route add partner.net h.partner.net:x', "Error: 'h.partner.net:x' has an invalid port", 1],
    ['xmpp federation route add partner.net bad_host', "Error: 'bad_host' is not a host name or IP address", 1],
    ['xmpp federation route add bad_domain.net h.example', "Error: 'bad_domain.net' is not a domain name: the label 'bad_domain' may hold only letters, digits and hyphens, and may not start or end with a hyphen", 1],
    ['xmpp federation route add routed.net 192.0.2.1', 'Error: route routed.net 192.0.2.1:5269 already exists', 1],
    ['xmpp federation route del routed.net 192.0.2.2', 'Error: no static route routed.net 192.0.2.2:5269', 1],
    ['xmpp federation route del nowhere.net', 'Error: no static route for nowhere.net', 1],
    ['xmpp federation security maybe', "Error: 'maybe' is not a security mode; give none, optional or required", 1],
    ['xmpp federation privacy sometimes', "Error: 'sometimes' is not a privacy mode; give off, allow or deny", 1],
    ['xmpp federation client-certs yes', "Error: 'yes' is not on or off", 1],
    ['xmpp federation sasl-external both on', "Error: 'both' is not a direction; give incoming or outgoing", 1],
    ['xmpp federation sasl-external incoming maybe', "Error: 'maybe' is not on or off", 1],
    ['xmpp federation dialback-secret "two words"', 'Error: dialback secret contains whitespace or control characters', 1],
    ['xmpp federation security', 'Error: usage: xmpp federation security none | optional | required', 2],
    ['xmpp federation allow add', 'Error: usage: xmpp federation allow add <domain> [both|incoming|outgoing]', 2],
    ['xmpp federation route add partner.net', 'Error: usage: xmpp federation route add <domain> <host>[:<port>]', 2],
    ['xmpp federation route del', 'Error: usage: xmpp federation route del <domain> [<host>[:<port>]]', 2],
    ['xmpp federation enable now', 'Error: usage: xmpp federation enable', 2],
    ['xmpp federation frobnicate', "Error: unknown command 'xmpp federation frobnicate'; type help xmpp federation", 2],
  ] as const)('refuses `%s` with one Error line and changes nothing', async (line, error, exitCode) => {
    await out('xmpp federation allow add example.org');
    await out('xmpp federation deny add partner.net');
    await out('xmpp federation route add routed.net 192.0.2.1');
    const before = await readFile(node.layout.settings, 'utf8');
    expect(await run(line)).toEqual({ output: `${error}\n`, exitCode });
    expect(await readFile(node.layout.settings, 'utf8')).toBe(before);
  });

  it('help xmpp federation prints the syntax of every command of the reference', async () => {
    const usages = lines(await out('help xmpp federation')).map((l) => l.split(/ {2,}/)[0]);
    expect(usages).toEqual([
      'xmpp federation enable',
      'xmpp federation disable',
      'xmpp federation status [--json]',
      'xmpp federation dialback-secret [<secret>]',
      'xmpp federation security none | optional | required',
      'xmpp federation client-certs on | off',
      'xmpp federation sasl-external incoming | outgoing on | off',
      'xmpp federation privacy off | allow | deny',
      'xmpp federation allow add <domain> [both|incoming|outgoing]',
      'xmpp federation allow del <domain>',
      'xmpp federation allow list [--json]',
      'xmpp federation deny add <domain> [both|incoming|outgoing]',
      'xmpp federation deny del <domain>',
      'xmpp federation deny list [--json]',
      'xmpp federation route add <domain> <host>[:<port>]',
      'xmpp federation route del <domain> [<host>[:<port>]]',
      'xmpp federation route list [--json]',
      'xmpp federation connections [--json]',
    ]);
  });
});

describe('the dialback secret', () => {
  it('is generated when federation is first enabled, never printed, and kept when enabled again', async () => {
    expect(await run('xmpp federation enable')).toEqual({ output: '', exitCode: 0 });
    const first = node.federation.settings().dialbackSecret;
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    await out('xmpp federation disable');
    await out('xmpp federation enable');
    expect(node.federation.settings().dialbackSecret).toBe(first);
  });

  it('without a value: generated and printed once; never shown again by status, --json, any other command or the log', async () => {
    await out('xmpp federation enable');
    const printed = await out('xmpp federation dialback-secret');
    const match = /^Dialback secret: ([0-9a-f]{64})\n$/.exec(printed);
    expect(match, printed).not.toBeNull();
    const secret = match![1]!;
    expect(node.federation.settings().dialbackSecret).toBe(secret);
    const shown: string[] = [];
    for (const line of ['xmpp federation status', 'xmpp federation status --json', 'xmpp federation allow list --json', 'xmpp federation route list --json', 'xmpp federation connections --json', 'xmpp', 'xmpp --json', 'xmpp status --json']) {
      shown.push(await out(line));
    }
    expect(shown.join('\n')).not.toContain(secret);
    expect(shown[0]).toMatch(/^Dialback secret +: set$/m);
    expect(log.raw.join('')).not.toContain(secret);
    // A restart reads it back; it still is not shown.
    await node.close();
    await open();
    expect(node.federation.settings().dialbackSecret).toBe(secret);
    expect(await out('xmpp federation status --json')).not.toContain(secret);
  });

  it('with a value: set as given, printing nothing', async () => {
    expect(await run('xmpp federation dialback-secret s3cret-of-ours')).toEqual({ output: '', exitCode: 0 });
    expect(node.federation.settings().dialbackSecret).toBe('s3cret-of-ours');
    expect(await out('xmpp federation status')).toMatch(/^Dialback secret +: set$/m);
    // Enabling afterwards keeps it: a secret exists already.
    await out('xmpp federation enable');
    expect(node.federation.settings().dialbackSecret).toBe('s3cret-of-ours');
  });
});

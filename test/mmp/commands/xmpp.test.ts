import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeInterpreter } from '../../../src/mmp/node-commands.js';
import type { Interpreter } from '../../../src/mmp/interpreter.js';
import { createSelfSigned } from '../../../src/pki/generate.js';
import { parseSubjectWords } from '../../../src/pki/subject.js';
import { XmppNode } from '../../../src/node/xmpp-node.js';
import { ScriptTerminal } from '../../helpers/script-terminal.js';
import { LogCapture, tempDir } from '../../helpers/test-node.js';

/** The node's settings commands with the reference's words and layouts (reference/commands.md). */

let node: XmppNode;
let mmp: Interpreter;
let dataDir: string;
const run = (line: string, answers: Array<string | null> = [], mode: 'interactive' | 'exec' = 'interactive') =>
  mmp.run(line, new ScriptTerminal(answers), mode, 'admin');

beforeEach(async () => {
  dataDir = await tempDir();
  node = await XmppNode.open({ dataDir, name: 'cb1', address: '127.0.0.1', componentPorts: [0, 0], log: new LogCapture().logger });
  mmp = nodeInterpreter(node);
});
afterEach(async () => node.close());

describe('xmpp', () => {
  it('shows unset settings as <none> and what is missing', async () => {
    expect((await run('xmpp')).output).toBe(
      [
        'Enabled              : false',
        'Clustered            : false',
        'Domain               : <none>',
        'Listening interfaces : <none>',
        'Key file             : <none>',
        'Certificate file     : <none>',
        'CA Bundle file       : <none>',
        'STATUS               : XMPP server not configured: no domain set (xmpp domain <domain>) and no listening interfaces set (xmpp listen <interface>)',
        '',
      ].join('\n'),
    );
  });

  it('shows the seed configuration once it is set, and the server running once enabled', async () => {
    await createSelfSigned(node.certFolder, 'abhiall', parseSubjectWords(['CN:tptac9.com']));
    expect(await run('xmpp domain tptac9.com')).toEqual({ output: '', exitCode: 0 });
    expect(await run('xmpp listen a')).toEqual({ output: '', exitCode: 0 });
    expect(await run('xmpp certs abhiall.key abhiall.crt')).toEqual({ output: '', exitCode: 0 });
    expect(await run('xmpp enable')).toEqual({ output: '', exitCode: 0 });
    expect((await run('xmpp')).output).toBe(
      [
        'Enabled              : true',
        'Clustered            : false',
        'Domain               : tptac9.com',
        'Listening interfaces : a',
        'Key file             : abhiall.key',
        'Certificate file     : abhiall.crt',
        'CA Bundle file       : <none>',
        'STATUS               : XMPP server running',
        '',
      ].join('\n'),
    );
    expect(JSON.parse((await run('xmpp --json')).output)).toMatchObject({ enabled: true, domain: 'tptac9.com', status: 'XMPP server running' });
    await run('xmpp disable');
    expect((await run('xmpp')).output).toContain('STATUS               : XMPP server disabled\n');
  });
});

describe('xmpp domain, listen, certs', () => {
  it('refuses an invalid domain, saying why', async () => {
    expect(await run('xmpp domain -bad-.com')).toEqual({
      output: "Error: invalid domain '-bad-.com': the label '-bad-' may hold only letters, digits and hyphens, and may not start or end with a hyphen\n",
      exitCode: 1,
    });
    expect((await run(`xmpp domain ${'a'.repeat(64)}.com`)).output).toMatch(/^Error: invalid domain .*longer than 63 characters\n$/);
    expect(node.settings().domain).toBeNull();
  });

  it('accepts letters a-d that are mapped, interface names and local addresses, several at once', async () => {
    expect(await run('xmpp listen a lo 127.0.0.2')).toEqual({ output: '', exitCode: 0 });
    expect(node.settings().listen).toEqual(['a', 'lo', '127.0.0.2']);
    expect(await run('xmpp listen none')).toEqual({ output: '', exitCode: 0 });
    expect(node.settings().listen).toEqual([]);
  });

  it('refuses an unmapped letter, an unknown interface or a foreign address, changing nothing', async () => {
    await run('xmpp listen a');
    expect((await run('xmpp listen a b')).output).toBe('Error: interface b is not mapped to an address on this node; start the node with --iface b=<address>\n');
    expect((await run('xmpp listen eth99')).output).toMatch(/^Error: unknown interface 'eth99': use a, b, c or d, a network interface name \(.*lo.*\), or an IP address of this machine\n$/);
    expect((await run('xmpp listen 192.0.2.1')).output).toBe('Error: 192.0.2.1 is not an address of this machine\n');
    expect(node.settings().listen).toEqual(['a']);
  });

  it('refuses certificates that are missing, do not parse or do not match, naming the file', async () => {
    await createSelfSigned(node.certFolder, 'one', parseSubjectWords(['CN:one.test']));
    await createSelfSigned(node.certFolder, 'two', parseSubjectWords(['CN:two.test']));
    await writeFile(join(node.certFolder, 'junk.crt'), 'not a certificate');
    const missing = await run('xmpp certs nosuch.key one.crt');
    expect(missing.exitCode).toBe(1);
    expect(missing.output).toMatch(/^Error: key file .*nosuch\.key[^\n]*\n$/);
    expect((await run('xmpp certs one.key junk.crt')).output).toMatch(/^Error: certificate file .*junk\.crt[^\n]*\n$/);
    expect((await run('xmpp certs one.key two.crt')).output).toMatch(/^Error: key file one\.key does not match certificate file two\.crt/);
    expect((await run('xmpp certs one.key one.crt junk.crt')).output).toMatch(/^Error: CA bundle file .*junk\.crt/);
    expect(node.settings().certs).toBeNull();
    expect(await run('xmpp certs one.key one.crt one.crt')).toEqual({ output: '', exitCode: 0 });
    expect(node.settings().certs).toEqual({ key: 'one.key', cert: 'one.crt', bundle: 'one.crt' });
    expect(await run('xmpp certs none')).toEqual({ output: '', exitCode: 0 });
    expect(node.settings().certs).toBeNull();
  });
});

describe('xmpp enable, disable, status', () => {
  it('says what is missing before it can enable', async () => {
    expect(await run('xmpp enable')).toEqual({
      output: 'Error: cannot enable: no domain set (xmpp domain <domain>) and no listening interfaces set (xmpp listen <interface>)\n',
      exitCode: 1,
    });
    await run('xmpp domain example.test');
    expect((await run('xmpp enable')).output).toBe('Error: cannot enable: no listening interfaces set (xmpp listen <interface>)\n');
    expect(node.settings().enabled).toBe(false);
  });

  it('changes domain and interfaces while running, but keeps at least one interface', async () => {
    await run('xmpp domain example.test');
    await run('xmpp listen a');
    await run('xmpp enable');
    expect(await run('xmpp domain other.test')).toEqual({ output: '', exitCode: 0 });
    expect(node.settings().domain).toBe('other.test');
    expect(await run('xmpp listen a 127.0.0.2')).toEqual({ output: '', exitCode: 0 });
    const st = node.serviceState();
    expect(st.state === 'running' ? st.bindings.map((b) => b.host) : []).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.2']);
    expect((await run('xmpp listen none')).output).toBe('Error: the XMPP server needs an interface while it runs; disable it first (xmpp disable)\n');
    expect(node.settings().listen).toEqual(['a', '127.0.0.2']);
  });

  it('reports a port it cannot listen on and stays disabled', async () => {
    const blocker = await XmppNode.open({ dataDir: await tempDir(), name: 'x', address: '127.0.0.1', componentPorts: [0], log: new LogCapture().logger });
    await blocker.setDomain('example.test');
    await blocker.setListen(['a']);
    await blocker.enable();
    const st = blocker.serviceState();
    const port = st.state === 'running' ? st.bindings[0]!.port : 0;
    const clash = await XmppNode.open({ dataDir: await tempDir(), name: 'y', address: '127.0.0.1', componentPorts: [port], log: new LogCapture().logger });
    const m = nodeInterpreter(clash);
    await clash.setDomain('example.test');
    await clash.setListen(['a']);
    const r = await m.run('xmpp enable', new ScriptTerminal(), 'exec', 'admin');
    expect(r).toEqual({ output: `Error: cannot enable: cannot listen on 127.0.0.1:${port}: the port is already in use\n`, exitCode: 1 });
    expect(clash.settings().enabled).toBe(false);
    await clash.close();
    await blocker.close();
  });

  it('xmpp status lists the ports and the counters', async () => {
    await run('xmpp domain example.test');
    await run('xmpp listen a');
    await run('xmpp enable');
    const out = (await run('xmpp status')).output;
    expect(out).toMatch(/^STATUS {15}: XMPP server running\nClustered {12}: false\nRole {17}: standalone\nLeader {15}: <none>\nListening on {9}: 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+\nStanzas routed {7}: 0\nStanzas bounced {6}: 0\nCall bridges {9}: 0 connected\n$/);
    expect(JSON.parse((await run('xmpp status --json')).output)).toMatchObject({ status: 'XMPP server running', sessions: [] });
  });
});

describe('xmpp reset', () => {
  it('asks first in a shell, needs --force in exec mode, and keeps the certificate folder', async () => {
    await run('xmpp domain example.test');
    await run('xmpp callbridge add cb1');
    await mkdir(node.certFolder, { recursive: true });
    await writeFile(join(node.certFolder, 'keep.crt'), 'x');
    expect(await run('xmpp reset', ['no'])).toEqual({ output: 'Error: reset cancelled; nothing was changed\n', exitCode: 1 });
    expect(await run('xmpp reset', [], 'exec')).toEqual({ output: 'Error: xmpp reset asks for confirmation; in exec mode use xmpp reset --force\n', exitCode: 1 });
    expect(node.settings().domain).toBe('example.test');
    const terminal = new ScriptTerminal(['yes']);
    expect(await mmp.run('xmpp reset', terminal, 'interactive', 'admin')).toEqual({ output: '', exitCode: 0 });
    expect(terminal.asked[0]!.question).toBe('This removes all XMPP configuration from this node. Continue? (yes/no)');
    expect(node.settings().domain).toBeNull();
    expect(node.configuration().callbridges()).toEqual([]);
    const again = node.identity.id;
    await run('xmpp domain example.test');
    expect(await run('xmpp reset --force', [], 'exec')).toEqual({ output: '', exitCode: 0 });
    expect(node.identity.id).toBe(again);
  });
});

describe('the interpreter', () => {
  it('answers unknown commands with one line, pointing at help', async () => {
    expect(await run('frobnicate')).toEqual({ output: "Error: unknown command 'frobnicate'; type help\n", exitCode: 2 });
    expect(await run('xmpp frob')).toEqual({ output: "Error: unknown command 'xmpp frob'; type help xmpp\n", exitCode: 2 });
    expect(await run('xmpp callbridge frob')).toEqual({ output: "Error: unknown command 'xmpp callbridge frob'; type help xmpp callbridge\n", exitCode: 2 });
  });

  it('gives every command a help line with its syntax', async () => {
    const help = (await run('help xmpp callbridge')).output;
    expect(help).toContain('xmpp callbridge add <name>');
    expect(help).toContain('xmpp callbridge add-secret <name>');
    for (const c of mmp.list()) expect(c.summary.length).toBeGreaterThan(10);
    expect((await run('help')).output).toMatch(/^Commands \(type help <command> for details\):\n/);
  });

  it('answers the cluster commands with the reference line while clustering is not enabled, and join without a target with its usage', async () => {
    expect(await run('xmpp cluster status')).toEqual({ output: 'Error: clustering is not enabled on this node (xmpp cluster enable)\n', exitCode: 1 });
    expect((await run('xmpp cluster join')).output).toBe('Error: usage: xmpp cluster join <cluster>[:<port>]\n');
  });
});

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatClusterStatus } from '../../../src/mmp/cluster-status-layout.js';
import { parseJoinTarget } from '../../../src/mmp/commands/cluster.js';
import type { Interpreter } from '../../../src/mmp/interpreter.js';
import { nodeInterpreter } from '../../../src/mmp/node-commands.js';
import type { ClusterStatusView } from '../../../src/node/cluster-control.js';
import { XmppNode } from '../../../src/node/xmpp-node.js';
import { makeOpensslCa } from '../../pki/openssl.js';
import { ScriptTerminal } from '../../helpers/script-terminal.js';
import { LogCapture, tempDir } from '../../helpers/test-node.js';

/** `xmpp cluster ...`: the commands a node answers by itself, and the status layout (reference/commands.md, "Cluster"). */

let node: XmppNode;
let mmp: Interpreter;
const run = (line: string) => mmp.run(line, new ScriptTerminal([]), 'exec', 'admin');

beforeEach(async () => {
  node = await XmppNode.open({ dataDir: await tempDir(), name: 'cb1', address: '127.0.0.1', log: new LogCapture().logger, serve: false });
  mmp = nodeInterpreter(node);
});
afterEach(async () => node.close());

describe('xmpp cluster trust', () => {
  it('takes a PEM bundle from the certificate folder, and none and insecure-lab', async () => {
    await makeOpensslCa(node.certFolder, 'ca.cer', 'ca.key');
    expect(await run('xmpp cluster trust ca.cer')).toEqual({ output: '', exitCode: 0 });
    const trust = node.settings().trust;
    expect(trust.kind === 'pem' && trust.file).toBe('ca.cer');
    expect(trust.kind === 'pem' && trust.pem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(await run('xmpp cluster trust insecure-lab')).toEqual({ output: '', exitCode: 0 });
    expect(node.settings().trust).toEqual({ kind: 'insecure-lab' });
    expect(await run('xmpp cluster trust none')).toEqual({ output: '', exitCode: 0 });
    expect(node.settings().trust).toEqual({ kind: 'none' });
  });

  it('refuses a missing file, a file without certificates and a path, with one Error line and no change', async () => {
    await writeFile(join(node.certFolder, 'notes.txt'), 'hello\n');
    expect(await run('xmpp cluster trust absent.cer')).toEqual({ output: 'Error: trust bundle file absent.cer does not exist in the certificate folder; upload it by SFTP first (pki list shows what is there)\n', exitCode: 1 });
    expect(await run('xmpp cluster trust notes.txt')).toEqual({ output: 'Error: trust bundle file notes.txt does not parse: is not a valid X.509 certificate\n', exitCode: 1 });
    expect((await run('xmpp cluster trust ../settings.json')).output).toMatch(/^Error: trust bundle file \.\.\/settings\.json is not a plain file name [^\n]*\n$/);
    expect(node.settings().trust).toEqual({ kind: 'none' });
  });

  it('keeps the trust bundle across a restart', async () => {
    await makeOpensslCa(node.certFolder, 'ca.cer', 'ca.key');
    await run('xmpp cluster trust ca.cer');
    const dataDir = node.layout.root;
    await node.close();
    node = await XmppNode.open({ dataDir, name: 'cb1', address: '127.0.0.1', log: new LogCapture().logger, serve: false });
    expect(node.settings().trust.kind).toBe('pem');
  });
});

describe('xmpp cluster enable and disable', () => {
  it('enables clustering only while the XMPP server is disabled, as CMS orders it', async () => {
    await run('xmpp domain example.test');
    await run('xmpp listen a');
    await run('xmpp enable');
    expect(await run('xmpp cluster enable')).toEqual({ output: 'Error: disable the XMPP server first (xmpp disable)\n', exitCode: 1 });
    expect(node.settings().clusterEnabled).toBe(false);
    await run('xmpp disable');
    expect(await run('xmpp cluster enable')).toEqual({ output: '', exitCode: 0 });
    expect((await run('xmpp')).output).toMatch(/^Clustered +: true$/m);
    expect(await run('xmpp cluster disable')).toEqual({ output: '', exitCode: 0 });
    expect(node.settings().clusterEnabled).toBe(false);
  });

  it('answers the membership commands with the reference line while clustering is not enabled', async () => {
    for (const line of ['xmpp cluster status', 'xmpp cluster initialize', 'xmpp cluster join 10.0.0.1', 'xmpp cluster leave', 'xmpp cluster remove cb2']) {
      expect(await run(line)).toEqual({ output: 'Error: clustering is not enabled on this node (xmpp cluster enable)\n', exitCode: 1 });
    }
  });
});

describe('xmpp cluster join <cluster>', () => {
  it('takes an address or name, with the cluster port 5999 unless given', () => {
    expect(parseJoinTarget('10.106.81.30')).toEqual({ host: '10.106.81.30', port: 5999 });
    expect(parseJoinTarget('10.106.81.30:6000')).toEqual({ host: '10.106.81.30', port: 6000 });
    expect(parseJoinTarget('cb1.example.com')).toEqual({ host: 'cb1.example.com', port: 5999 });
    expect(parseJoinTarget('[fd00::1]:6000')).toEqual({ host: 'fd00::1', port: 6000 });
    expect(() => parseJoinTarget('10.0.0.1:99999')).toThrow(/not a port number/);
  });
});

describe('xmpp cluster status layout', () => {
  const at = (s: string) => new Date(`2017-08-13T${s}`);
  const view: ClusterStatusView = {
    state: 'FOLLOWER',
    members: [
      { endpoint: '10.106.81.30:5222', clusterEndpoint: '10.106.81.30:5999', name: 'cb1', id: 'a', self: false, leader: true, role: 'leader', lastContact: at('07:30:00.000'), unreachableSince: null, match: 1042, lag: 0 },
      { endpoint: '10.106.81.31:5222', clusterEndpoint: '10.106.81.31:5999', name: 'cb2', id: 'b', self: true, leader: false, role: 'follower', lastContact: null, unreachableSince: null, match: 1042, lag: 0 },
      { endpoint: '10.106.81.32:5222', clusterEndpoint: '10.106.81.32:5999', name: 'cb3', id: 'c', self: false, leader: false, role: 'follower', lastContact: null, unreachableSince: at('07:29:00'), match: 1000, lag: 42 },
    ],
    lastStateChange: at('07:27:58'),
    keyFile: 'abhiall.key',
    certificateFile: 'abhiall.cer',
    trustBundle: 'abhiall.cer',
    insecureLab: false,
    quorum: { reachable: 2, voters: 3, lost: false },
    term: 7,
    commitIndex: 1042,
    appliedIndex: 1042,
  };

  it("prints CMS's layout first, then our additions after one blank line", () => {
    expect(formatClusterStatus(view, at('07:30:00.100'))).toBe(
      [
        'State: FOLLOWER',
        'List of peers',
        '10.106.81.30:5222 (Leader)',
        '10.106.81.31:5222',
        '10.106.81.32:5222',
        'Last state change: 2017-Aug-13 07:27:58',
        'Key file           : abhiall.key',
        'Certificate file   : abhiall.cer',
        'Trust bundle       : abhiall.cer',
        '',
        'This node          : cb2 10.106.81.31:5222',
        'Term               : 7',
        'Commit index       : 1042',
        'Applied index      : 1042',
        'Peer               Node  Role      Last contact                            Match  Lag',
        '10.106.81.30:5222  cb1   leader    0.1 s ago                               1042   0',
        '10.106.81.32:5222  cb3   follower  unreachable since 2017-Aug-13 07:29:00  1000   42',
      ].join('\n'),
    );
  });

  it('says when the quorum is lost, and INSECURE LAB MODE in capitals', () => {
    const text = formatClusterStatus({ ...view, quorum: { reachable: 1, voters: 3, lost: true }, insecureLab: true }, at('07:30:00'));
    expect(text.split('\n').slice(0, 2)).toEqual(['State: FOLLOWER', 'Quorum: lost (reachable: 1 of 3)']);
    expect(text).toMatch(/^Trust bundle +: INSECURE LAB MODE/m);
  });
});

import { join } from 'node:path';
import { expect } from 'vitest';
import { openssl } from '../pki/openssl.js';
import { expectOk, type ClusterNodeProcess } from './cluster-processes.js';

/**
 * The operator's steps that build a cluster over ssh, for the process tests
 * that need one as their starting point: certificates made with openssl and
 * uploaded by SFTP, the CMS sequence on the first node, and the join
 * sequence on the others, each command checked for the reference's answer.
 */

export const DOMAIN = 'example.test';

/** A self-signed P-256 key and certificate `<name>.key` / `<name>.cer` under `root`, naming `addresses` as IP subjectAltNames. */
export async function makeCertificate(root: string, name: string, addresses: readonly string[]): Promise<void> {
  await openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '365',
    '-keyout', join(root, `${name}.key`), '-out', join(root, `${name}.cer`), '-subj', `/CN=${name}.${DOMAIN}`,
    '-addext', `subjectAltName=${addresses.map((a) => `IP:${a}`).join(',')}`,
  ]);
}

/** `sftp put` of each named file under `root` into the node's certificate folder. */
export async function upload(node: ClusterNodeProcess, root: string, files: readonly string[]): Promise<void> {
  const put = await node.sftp(files.map((f) => `put ${join(root, f)} ${f}\n`).join(''));
  expect(put.code, put.stderr).toBe(0);
}

export interface ClusterStatus {
  state: string;
  /** As listed under `List of peers`, without the `(Leader)` mark. */
  peers: string[];
  leader: string | undefined;
  text: string;
}

/** `xmpp cluster status`, its CMS part read back. */
export async function statusOf(n: ClusterNodeProcess): Promise<ClusterStatus> {
  return parseStatus(await expectOk(n, 'xmpp cluster status'));
}

export function parseStatus(text: string): ClusterStatus {
  const lines = text.split('\n');
  const start = lines.indexOf('List of peers') + 1;
  const end = lines.findIndex((l) => l.startsWith('Last state change:'));
  const peers = lines.slice(start, end);
  const leader = peers.find((p) => p.endsWith(' (Leader)'))?.replace(' (Leader)', '');
  return { state: lines[0]!.replace('State: ', ''), peers: peers.map((p) => p.replace(' (Leader)', '')), leader, text };
}

/**
 * Waits for a log line matching `pattern` written after `from` (an offset in
 * the node's stderr, taken before the event was provoked): the node's own
 * event, not an earlier one.
 */
export async function logAfter(n: ClusterNodeProcess, from: number, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(n.log.slice(from));
    if (m) return m[0];
    if (Date.now() > deadline) throw new Error(`${n.name}: no ${pattern} in its log after offset ${from}: ${n.log.slice(from).slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface NodeSetup {
  domain?: string;
  key: string;
  cert: string;
  trust: string;
}

/** `xmpp domain`, `listen a`, `certs`, `cluster trust`: each answers with nothing. */
export async function configure(n: ClusterNodeProcess, setup: NodeSetup): Promise<void> {
  const commands = [`xmpp domain ${setup.domain ?? DOMAIN}`, 'xmpp listen a', `xmpp certs ${setup.key} ${setup.cert}`, `xmpp cluster trust ${setup.trust}`];
  for (const command of commands) expect({ command, out: await expectOk(n, command) }).toEqual({ command, out: '' });
}

/** The rest of the CMS sequence on the first node; returns the secret of the call bridge cb1 it registered. */
export async function initialize(n: ClusterNodeProcess): Promise<string> {
  const add = await expectOk(n, 'xmpp callbridge add cb1');
  const secret = /Secret: (\S+)/.exec(add)![1]!;
  for (const command of ['xmpp disable', 'xmpp cluster enable', 'xmpp cluster initialize', 'xmpp enable']) {
    expect({ command, out: await expectOk(n, command) }).toEqual({ command, out: '' });
  }
  return secret;
}

/** `add-secret cb1`, disable, cluster enable, enable: a node ready to `xmpp cluster join`. */
export async function prepareJoiner(n: ClusterNodeProcess, cb1Secret: string): Promise<void> {
  expect(await expectOk(n, 'xmpp callbridge add-secret cb1', `${cb1Secret}\n`)).toBe('Successfully added callbridge.\n');
  for (const command of ['xmpp disable', 'xmpp cluster enable', 'xmpp enable']) expect({ command, out: await expectOk(n, command) }).toEqual({ command, out: '' });
}

/** `xmpp cluster join <target>`, expecting the reference's answer. */
export async function joinCluster(n: ClusterNodeProcess, target: string, peers: number, leader: string): Promise<void> {
  expect(await expectOk(n, `xmpp cluster join ${target}`)).toBe(`Joined cluster: ${peers} peers, leader ${leader}\n`);
}

/**
 * Starts `nodes`, gives all of them one certificate `abhiall` (naming every
 * address in `certAddresses`, default theirs) and builds the cluster: the
 * first initializes, the others join through it. Returns cb1's secret.
 */
export async function buildCluster(root: string, nodes: readonly ClusterNodeProcess[], certAddresses = nodes.map((n) => n.address)): Promise<string> {
  await makeCertificate(root, 'abhiall', certAddresses);
  await Promise.all(nodes.map((n) => (n.process?.child.exitCode === null ? Promise.resolve() : n.start())));
  await Promise.all(nodes.map((n) => upload(n, root, ['abhiall.key', 'abhiall.cer'])));
  const setup = { key: 'abhiall.key', cert: 'abhiall.cer', trust: 'abhiall.cer' };
  const [first, ...rest] = nodes;
  await configure(first!, setup);
  const secret = await initialize(first!);
  const leader = `${first!.address}:5222`;
  for (const [i, n] of rest.entries()) {
    await configure(n, setup);
    await prepareJoiner(n, secret);
    await joinCluster(n, first!.address, i + 2, leader);
  }
  return secret;
}

import { join } from 'node:path';
import { expectOk, type ClusterNodeProcess } from './cluster-processes.js';
import { openssl } from '../pki/openssl.js';

/**
 * The acceptance story's build steps, for the test files that need a running
 * three-node cluster rather than a check of each step: one certificate for
 * every address uploaded by SFTP, then the seed's sequence over SSH (cb1
 * initializes, the others join it). Every command must answer as the
 * acceptance test checks, or the build throws with what it got.
 */

export const DOMAIN = 'example.test';

export interface BuiltCluster {
  /** The secret of call bridge `cb1`, registered everywhere. */
  cb1Secret: string;
}

export async function buildCluster(root: string, nodes: ClusterNodeProcess[]): Promise<BuiltCluster> {
  const san = [...nodes.map((n) => `IP:${n.address}`), ...nodes.map((n) => `DNS:${n.name}.${DOMAIN}`)].join(',');
  await openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30',
    '-keyout', join(root, 'abhiall.key'), '-out', join(root, 'abhiall.cer'), '-subj', `/CN=${DOMAIN}`, '-addext', `subjectAltName=${san}`,
  ]);
  await Promise.all(nodes.map((n) => n.start()));
  await Promise.all(
    nodes.map(async (n) => {
      const put = await n.sftp(`put ${join(root, 'abhiall.key')} abhiall.key\nput ${join(root, 'abhiall.cer')} abhiall.cer\n`);
      if (put.code !== 0) throw new Error(`sftp to ${n.name}: ${put.stderr}`);
    }),
  );
  const [first, ...others] = nodes as [ClusterNodeProcess, ...ClusterNodeProcess[]];
  const prepare = async (n: ClusterNodeProcess) => {
    for (const command of [`xmpp domain ${DOMAIN}`, 'xmpp listen a', 'xmpp certs abhiall.key abhiall.cer', 'xmpp cluster trust abhiall.cer']) {
      expectSilent(n, command, await expectOk(n, command));
    }
  };
  await prepare(first);
  const cb1Secret = /Secret: (\S+)/.exec(await expectOk(first, 'xmpp callbridge add cb1'))![1]!;
  for (const command of ['xmpp disable', 'xmpp cluster enable', 'xmpp cluster initialize', 'xmpp enable']) expectSilent(first, command, await expectOk(first, command));
  for (const [i, n] of others.entries()) {
    await prepare(n);
    const added = await expectOk(n, 'xmpp callbridge add-secret cb1', `${cb1Secret}\n`);
    if (added !== 'Successfully added callbridge.\n') throw new Error(`${n.name}> xmpp callbridge add-secret cb1: ${added}`);
    for (const command of ['xmpp disable', 'xmpp cluster enable', 'xmpp enable']) expectSilent(n, command, await expectOk(n, command));
    const joined = await expectOk(n, `xmpp cluster join ${first.address}`);
    if (!joined.startsWith(`Joined cluster: ${i + 2} peers, leader `)) throw new Error(`${n.name}> xmpp cluster join: ${joined}`);
  }
  return { cb1Secret };
}

function expectSilent(n: ClusterNodeProcess, command: string, out: string): void {
  if (out !== '') throw new Error(`${n.name}> ${command}: expected no output, got ${out}`);
}

export interface ClusterStatus {
  state: string;
  peers: string[];
  leader: string | undefined;
  text: string;
}

/** `xmpp cluster status` parsed: the state line, the peers (without the mark) and the one marked `(Leader)`. */
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

import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { OperatorError } from '../base/operator-error.js';
import { writeFileAtomic } from '../base/atomic-file.js';
import { generateSecret } from '../node/callbridge-registry.js';
import { dataDirLayout } from '../node/data-dir.js';
import type { Logger } from '../observability/logger.js';
import { DemoBridges } from './demo-bridges.js';
import { demoNodes, type DemoNode } from './demo-nodes.js';
import { untilSignal } from './signals.js';

/**
 * `npm start`: a three-node cluster on 127.0.0.1, .2 and .3, built by the
 * commands a CMS operator types (run through each node's MMP), with one lab
 * certificate made by our own `pki selfsigned` for all three, and two demo
 * call bridges on different nodes talking through the leader. Ctrl-C stops
 * everything; the data stays for the next start.
 */

export const DEMO_DOMAIN = 'example.test';
export const DEMO_CALLBRIDGES = ['cb1', 'cb2'];
const DEFAULT_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
const CERT = 'demo';

export async function runDemo(argv: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' }, addresses: { type: 'string' } }, strict: true });
  const root = resolve(values['data-dir'] ?? '.data/demo');
  const addresses = values.addresses ? values.addresses.split(',') : DEFAULT_ADDRESSES;
  if (addresses.length < 3) throw new OperatorError('--addresses: give three addresses or more, e.g. 127.0.0.1,127.0.0.2,127.0.0.3');
  await mkdir(root, { recursive: true, mode: 0o700 });
  const passwordFile = join(root, 'admin-password');
  const password = await demoAdminPassword(passwordFile);
  const nodes = demoNodes(root, addresses, passwordFile);
  let bridges: DemoBridges | undefined;
  try {
    for (const n of nodes) n.start();
    const secrets = await buildCluster(nodes);
    const leader = await leaderOf(nodes[0]!);
    bridges = new DemoBridges({ domain: DEMO_DOMAIN, secrets, nodes, dnsPort: DEMO_DNS_PORT, log, write: (line) => process.stdout.write(`${line}\n`) });
    await bridges.start();
    process.stdout.write(banner(nodes, password, passwordFile, secrets, leader));
    await untilSignal();
  } catch (err) {
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    await bridges?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
    return 1;
  }
  await bridges.stop();
  await Promise.all(nodes.map((n) => n.stop()));
  return 0;
}

/**
 * The seed's sequence: everything on the first node, which initializes the
 * cluster, then the same settings on the others, which join it. A cluster
 * built by an earlier start is reused as it is.
 */
async function buildCluster(nodes: DemoNode[]): Promise<Record<string, string>> {
  const [first, ...others] = nodes as [DemoNode, ...DemoNode[]];
  const built = await first.run('xmpp cluster status').then(() => true, () => false);
  if (!built) {
    const certs = dataDirLayout(first.dataDir).certs;
    const files = await first.run('pki list');
    if (!files.split('\n').includes(`${CERT}.crt`)) {
      await first.run(`pki selfsigned ${CERT} CN:${DEMO_DOMAIN} subjectAltName:${nodes.map((n) => n.address).join(',')},${nodes.map((n) => `${n.name}.${DEMO_DOMAIN}`).join(',')}`);
    }
    // The operator's SFTP upload of the same certificate and key to every node,
    // once each answers (its certificate folder exists from then on).
    for (const n of others) await n.run('pki list');
    for (const n of others) for (const f of [`${CERT}.key`, `${CERT}.crt`]) await copyFile(join(certs, f), join(dataDirLayout(n.dataDir).certs, f));
    const settings = ['xmpp domain example.test', 'xmpp listen a', `xmpp certs ${CERT}.key ${CERT}.crt`, `xmpp cluster trust ${CERT}.crt`];
    for (const line of settings) await first.run(line);
    for (const name of DEMO_CALLBRIDGES) await first.run(`xmpp callbridge add ${name}`);
    for (const line of ['xmpp disable', 'xmpp cluster enable', 'xmpp cluster initialize', 'xmpp enable']) await first.run(line);
    const secrets = await secretsOf(first);
    for (const n of others) {
      for (const line of settings) await n.run(line);
      for (const name of DEMO_CALLBRIDGES) await n.run(`xmpp callbridge add-secret ${name}`, [secrets[name]!]);
      for (const line of ['xmpp disable', 'xmpp cluster enable', 'xmpp enable', `xmpp cluster join ${first.address}`]) await n.run(line);
    }
  }
  await serveDns(nodes);
  return secretsOf(first);
}

/** The port every demo node's health-aware DNS responder answers on (53 needs root). */
export const DEMO_DNS_PORT = 5300;

/**
 * Each node's responder on its own address (`xmpp dns listen` is per node),
 * enabled cluster-wide. The demo's echoing call bridge finds its node by SRV;
 * the last node gets the best priority so that it lands apart from the
 * sender, and every message crosses the cluster.
 */
async function serveDns(nodes: DemoNode[]): Promise<void> {
  for (const n of nodes) await n.run(`xmpp dns listen ${n.address}:${DEMO_DNS_PORT}`);
  const last = nodes.at(-1)!;
  for (const n of nodes) await nodes[0]!.run(`xmpp dns record ${n.name} ${n.name}.${DEMO_DOMAIN} ${n === last ? 0 : 10} 0`);
  await nodes[0]!.run('xmpp dns enable');
}

async function secretsOf(node: DemoNode): Promise<Record<string, string>> {
  const list = await node.run('xmpp callbridge list');
  return Object.fromEntries([...list.matchAll(/Callbridge : (\S+)\nDomain +: \S+\nSecret +: (\S+)/g)].map((m) => [m[1]!, m[2]!]));
}

async function leaderOf(node: DemoNode): Promise<string> {
  const status = await node.run('xmpp cluster status');
  return /^(\S+) \(Leader\)$/m.exec(status)?.[1] ?? '<none>';
}

function banner(nodes: DemoNode[], password: string, passwordFile: string, secrets: Record<string, string>, leader: string): string {
  const leaderNode = nodes.find((n) => leader.startsWith(`${n.address}:`));
  return [
    '',
    `xmpp-cluster demo: a ${nodes.length}-node cluster, domain ${DEMO_DOMAIN} (Ctrl-C stops all ${nodes.length}).`,
    '',
    'Nodes (MMP over SSH, as a CMS operator; admin password: ' + `${password}, kept in ${passwordFile}):`,
    ...nodes.map((n) => `  ${n.name}  pid ${String(n.pid).padEnd(7)} ssh -p 2222 admin@${n.address}   call bridges on ${n.address}:5222/5223   log ${n.logFile}`),
    '',
    'Call bridges:',
    ...Object.entries(secrets).map(([name, secret]) => `  ${name}.${DEMO_DOMAIN}  secret ${secret}`),
    '',
    `Leader: ${leader}${leaderNode ? ` (${leaderNode.name}, pid ${leaderNode.pid})` : ''}. Cluster status: ssh -p 2222 admin@${nodes[0]!.address} 'xmpp cluster status'`,
    `Failover: kill -9 ${leaderNode?.pid ?? '<leader pid>'}   and watch the call bridges below keep talking through the new leader.`,
    `Bring it back: ${leaderNode?.commandLine ?? 'node dist/src/cli.js node ...'}`,
    '',
    'Metrics and health (each node its own; Prometheus text, and ok or a reason with ?format=json for JSON):',
    ...nodes.map((n) => `  ${n.name}  ${n.metricsUrl}/metrics   ${n.metricsUrl}/healthz   ${n.metricsUrl}/readyz`),
    `Status page (log in as admin with the password above): ${nodes.map((n) => `${n.metricsUrl}/`).join('   ')}`,
    '',
    `DNS (every node's health-aware responder): dig @${nodes[0]!.address} -p ${DEMO_DNS_PORT} SRV _xmpp-component._tcp.${DEMO_DOMAIN}`,
    `A call bridge found by SRV: node dist/src/cli.js bridge --srv ${DEMO_DOMAIN} --dns ${nodes[0]!.address}:${DEMO_DNS_PORT} --name cb2 --secret ${secrets.cb2 ?? '<secret>'} --domain ${DEMO_DOMAIN}`,
    '  (stop the demo first: the demo\'s own cb2 holds that name; a second connection would replace it)',
    '',
    '',
  ].join('\n');
}

/** Generated at the first start, kept (0600) so later starts print the same one. */
async function demoAdminPassword(path: string): Promise<string> {
  const existing = await readFile(path, 'utf8').catch(() => null);
  if (existing) return existing.trim();
  const password = generateSecret(16);
  await writeFileAtomic(path, password + '\n', 0o600);
  return password;
}

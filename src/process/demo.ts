import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatBinding } from '../component/component-server.js';
import type { Logger } from '../observability/logger.js';
import { writeFileAtomic } from '../base/atomic-file.js';
import { generateSecret } from '../node/callbridge-registry.js';
import { startNode } from './node-process.js';
import { untilSignal } from './signals.js';

/**
 * `npm start`: one node on 127.0.0.1 with domain example.test and two call
 * bridges, set up through the same methods the MMP commands call, so the
 * demo is the product and not a special case.
 */

export const DEMO_DOMAIN = 'example.test';

const passwordPath = (dataDir: string) => join(dataDir, 'demo-admin-password');

/** The demo's admin password: generated at its first start, kept (0600) so later starts print the same one. */
async function demoAdminPassword(dataDir: string): Promise<string> {
  const path = passwordPath(dataDir);
  const existing = await readFile(path, 'utf8').catch(() => null);
  if (existing) return existing.trim();
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const password = generateSecret(16);
  await writeFileAtomic(path, password + '\n', 0o600);
  return password;
}
export const DEMO_CALLBRIDGES = ['cb1', 'cb2'];

export async function runDemo(argv: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' } }, strict: true });
  const dataDir = resolve(values['data-dir'] ?? '.data/demo');
  const adminPassword = await demoAdminPassword(dataDir);
  const running = await startNode({ dataDir, name: 'xmpp1', address: '127.0.0.1', log, adminPassword });
  const { node } = running;
  if (!node.settings().domain) await node.setDomain(DEMO_DOMAIN);
  if (node.settings().listen.length === 0) await node.setListen(['a']);
  for (const name of DEMO_CALLBRIDGES) if (!node.configuration().callbridge(name)) await node.addCallbridge(name, generateSecret());
  try {
    await node.enable();
  } catch (err) {
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    await running.close();
    return 1;
  }

  const domain = node.settings().domain!;
  const state = node.serviceState();
  const ports = state.state === 'running' ? state.bindings : [];
  const cli = 'node dist/src/cli.js';
  const [first, second] = node.configuration().callbridges();
  const lines = [
    `xmpp-cluster demo node "${node.name}" is running (Ctrl-C stops it).`,
    `  Data directory : ${dataDir}`,
    `  Domain         : ${domain}`,
    `  Component ports: ${ports.map(formatBinding).join(' ')}`,
    '',
    'Call bridges:',
    ...node.configuration().callbridges().map((c) => `  ${c.name.padEnd(4)} ${c.name}.${domain}  secret ${c.secret}`),
    '',
    'Connect two simulated call bridges (in two more terminals) and exchange messages:',
    `  ${cli} bridge --name ${first!.name} --secret ${first!.secret} --domain ${domain} --server ${formatBinding(ports[0]!)} --echo`,
    `  ${cli} bridge --name ${second!.name} --secret ${second!.secret} --domain ${domain} --server ${formatBinding(ports[1] ?? ports[0]!)} --send ${first!.name}.${domain} --count 3 --expect 3`,
    '',
    'Operate the node (MMP commands) over SSH, as a CMS operator does:',
    `  ssh -p ${running.ssh!.port} admin@${running.ssh!.address}          (password: ${adminPassword}, kept in ${passwordPath(dataDir)})`,
    `  ssh -p ${running.ssh!.port} admin@${running.ssh!.address} 'xmpp callbridge list'`,
    `  sftp -P ${running.ssh!.port} admin@${running.ssh!.address}         (certificate folder)`,
    'or from this machine without SSH:',
    `  ${cli} mmp --data-dir ${dataDir} 'xmpp status'`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
  await untilSignal();
  await running.close();
  return 0;
}

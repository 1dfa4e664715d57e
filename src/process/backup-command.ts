import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../base/atomic-file.js';
import { OperatorError } from '../base/operator-error.js';
import type { Logger } from '../observability/logger.js';
import { encodeBackup, parseBackup } from '../node/backup-format.js';
import { dataDirLayout } from '../node/data-dir.js';
import type { XmppNode } from '../node/xmpp-node.js';
import { ControlSocketError, requestBackup, type BackupSource } from '../mmp/control-socket.js';
import type { ClusterService } from '../../cluster/member/cluster-service.js';
import { seedRestoredMember } from '../../cluster/member/restored-member.js';

/**
 * `xmpp-cluster backup --data-dir D --out FILE` and `xmpp-cluster restore
 * --data-dir NEW --from FILE`.
 *
 * A backup is asked of the running node over its control socket rather than
 * read from its data directory: the node holds the directory's lock, its
 * files are consistent with each other only between two of its changes
 * (XmppNode.ownFiles reads them inside its change queue), and a member's
 * applied cluster state is in its memory, the snapshot on disk being older
 * than the log after it. The socket is mode 0600: whoever may take a backup
 * may already read the data directory.
 */

/** What the running node answers a backup request with (wired in node-process.ts). */
export function backupSource(node: XmppNode, cluster: ClusterService, log: Logger): BackupSource {
  return async () => {
    const files = await node.ownFiles();
    const applied = cluster.appliedState();
    const text = encodeBackup({
      createdAt: new Date().toISOString(),
      node: { name: node.name, id: node.identity.id },
      files,
      cluster: applied ? { index: applied.index, state: new TextDecoder().decode(applied.state) } : null,
    });
    // Names and counts only: the backup itself holds every secret of the node.
    log.info({ module: 'node', event: 'backup_taken', files: Object.keys(files).length, cluster: applied ? { index: applied.index } : null }, 'backup taken');
    return text;
  };
}

export async function runBackupCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' }, out: { type: 'string' } }, strict: true });
  if (!values['data-dir']) throw new OperatorError('--data-dir is required');
  if (!values.out) throw new OperatorError('--out FILE is required');
  const layout = dataDirLayout(resolve(values['data-dir']));
  const out = resolve(values.out);
  let text: string;
  try {
    text = await requestBackup(layout.controlSocket);
  } catch (err) {
    if (err instanceof ControlSocketError && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')) {
      throw new OperatorError(`no node is running on ${layout.root}: a backup is taken of a running node (a stopped node's data directory can be copied as it is)`);
    }
    throw err;
  }
  const backup = parseBackup(out, text);
  // Mode 0600 and atomic: the file holds every secret of the node, and a half-written backup must never replace a good one.
  await writeFileAtomic(out, text, 0o600);
  process.stdout.write(`Backup of ${backup.node.name} (${backup.cluster ? `cluster state at index ${backup.cluster.index}` : 'standalone'}) written to ${out}; it holds the node's keys and secrets: keep it like a private key\n`);
  return 0;
}

export async function runRestoreCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' }, from: { type: 'string' }, name: { type: 'string' }, address: { type: 'string' } }, strict: true });
  if (!values['data-dir']) throw new OperatorError('--data-dir is required');
  if (!values.from) throw new OperatorError('--from FILE is required');
  const root = resolve(values['data-dir']);
  const from = resolve(values.from);
  const backup = parseBackup(from, await readFile(from, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new OperatorError(`cannot read ${from}: ${err.code ?? err.message}`);
  }));
  const existing = await readdir(root).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  if (existing.length > 0) throw new OperatorError(`${root} is not empty: restore seeds a new data directory only`);
  const layout = dataDirLayout(root);
  await mkdir(layout.certs, { recursive: true, mode: 0o700 });
  for (const [name, content] of Object.entries(backup.files)) {
    const path = join(root, name);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, Buffer.from(content, 'base64'), 0o600);
  }
  if (backup.cluster) {
    const self = seedRestoredMember(join(root, 'raft'), {
      selfId: backup.node.id,
      state: backup.cluster.state,
      index: backup.cluster.index,
      ...(values.name === undefined ? {} : { name: values.name }),
      ...(values.address === undefined ? {} : { address: values.address }),
    });
    process.stdout.write(`Restored ${backup.node.name} into ${root} as a one-member cluster (state at index ${backup.cluster.index}; cluster link ${self.cluster})\n`);
  } else {
    process.stdout.write(`Restored ${backup.node.name} into ${root} as a standalone node\n`);
  }
  return 0;
}

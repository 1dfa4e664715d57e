import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkFormatVersion } from '../base/format-version.js';
import { OperatorError } from '../base/operator-error.js';
import type { DataDirLayout } from './data-dir.js';

/**
 * `xmpp-cluster backup`'s file: one JSON document holding a node's own files
 * (settings, call-bridge registry, identity, accounts, SSH host key, the
 * certificate folder) byte for byte, and for a cluster member the applied
 * cluster state. It holds every secret the node has: it is written 0600 and
 * must be kept like a private key.
 */

export const BACKUP_FORMAT = 'xmpp-cluster-backup';
/** 1: files as base64 by their path in the data directory; cluster: the applied state as cluster/state serializes it. */
export const BACKUP_VERSION = 1;

export interface Backup {
  readonly format: typeof BACKUP_FORMAT;
  readonly version: number;
  readonly createdAt: string;
  /** The backed-up node's name and identity.json id. */
  readonly node: { readonly name: string; readonly id: string };
  /** Path in the data directory (`settings.json`, `certs/abhi.key`) → content, base64. */
  readonly files: Readonly<Record<string, string>>;
  /** A cluster member's applied state and the Raft index it is applied to; null for a standalone node. */
  readonly cluster: { readonly index: number; readonly state: string } | null;
}

/** The node's own files in the data directory; not raft/ (the state travels as `cluster`), the lock or the socket. */
const OWN_FILES = ['settings.json', 'callbridges.json', 'identity.json', 'users.json', 'ssh_host_ed25519_key', 'authorized_keys'];

/** Reads the node's own files. The caller holds the node's change queue, so they are of one moment. */
export async function readOwnFiles(layout: DataDirLayout): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const add = async (relative: string) => {
    try {
      files[relative] = (await readFile(join(layout.root, relative))).toString('base64');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
    }
  };
  for (const name of OWN_FILES) await add(name);
  for (const entry of await readdir(layout.certs, { withFileTypes: true })) if (entry.isFile() && !entry.name.endsWith('.tmp')) await add(`certs/${entry.name}`);
  return files;
}

export function encodeBackup(backup: Omit<Backup, 'format' | 'version'>): string {
  return JSON.stringify({ format: BACKUP_FORMAT, version: BACKUP_VERSION, ...backup }) + '\n';
}

/** A backup file's content, checked; `path` names it in the errors (a newer one: NewerFormatError). */
export function parseBackup(path: string, text: string): Backup {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new OperatorError(`${path} is not a backup (not JSON)`);
  }
  if (typeof doc !== 'object' || doc === null || doc.format !== BACKUP_FORMAT) throw new OperatorError(`${path} is not an xmpp-cluster backup`);
  const version = checkFormatVersion(path, doc.version, BACKUP_VERSION);
  const node = doc.node as Record<string, unknown> | undefined;
  if (typeof node?.name !== 'string' || typeof node.id !== 'string') throw new OperatorError(`${path}: the backup names no node`);
  const files = doc.files as Record<string, unknown> | undefined;
  if (typeof files !== 'object' || files === null) throw new OperatorError(`${path}: the backup holds no files`);
  for (const [name, content] of Object.entries(files)) {
    // Only names a backup writes: nothing may land outside the new data directory.
    if (typeof content !== 'string' || !(OWN_FILES.includes(name) || /^certs\/[^/\\]+$/.test(name)) || name.includes('..')) throw new OperatorError(`${path}: the backup holds an unexpected file ${name}`);
  }
  const cluster = doc.cluster as Record<string, unknown> | null | undefined;
  if (cluster !== null && (typeof cluster !== 'object' || !Number.isSafeInteger(cluster.index) || typeof cluster.state !== 'string')) throw new OperatorError(`${path}: the backup's cluster state is malformed`);
  return {
    format: BACKUP_FORMAT,
    version,
    createdAt: String(doc.createdAt),
    node: { name: node.name, id: node.id },
    files: files as Record<string, string>,
    cluster: cluster === null ? null : { index: cluster.index as number, state: cluster.state as string },
  };
}

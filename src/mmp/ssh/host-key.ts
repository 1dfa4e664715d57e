import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { writeFileAtomic } from '../../base/atomic-file.js';

/**
 * The node's SSH host key: made once at first start and kept, so that
 * operators see the same fingerprint every time and `known_hosts` keeps
 * working. Ed25519, in the OpenSSH format ssh2 writes and reads.
 */

export const HOST_KEY_FILE = 'ssh_host_ed25519_key';

export class HostKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostKeyError';
  }
}

export interface HostKey {
  privateKey: string;
  /** `SHA256:...` as `ssh-keygen -lf` and the ssh client print it. */
  fingerprint: string;
  path: string;
  created: boolean;
}

export async function loadOrCreateHostKey(dataDir: string): Promise<HostKey> {
  const path = join(dataDir, HOST_KEY_FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new HostKeyError(`cannot read the SSH host key ${path}: ${(err as Error).message}`);
  }
  if (text !== undefined) {
    // A damaged key is never replaced silently: clients would see a new fingerprint and must be told why.
    return { privateKey: text, fingerprint: fingerprintOf(path, text), path, created: false };
  }
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'xmpp-cluster MMP host key' });
  await writeFileAtomic(path, pair.private, 0o600);
  await writeFileAtomic(`${path}.pub`, pair.public + '\n', 0o644);
  return { privateKey: pair.private, fingerprint: fingerprintOf(path, pair.private), path, created: true };
}

function fingerprintOf(path: string, privateKey: string): string {
  const parsed = ssh2.utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || key.getPrivatePEM() === null) {
    throw new HostKeyError(`the SSH host key ${path} does not parse as a private key; restore it, or move it away to have a new one made (clients will then see a new fingerprint)`);
  }
  return 'SHA256:' + createHash('sha256').update(key.getPublicSSH()).digest('base64').replace(/=+$/, '');
}

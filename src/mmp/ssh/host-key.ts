import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { writeFileAtomic } from '../../base/atomic-file.js';
import { generateEd25519Key, repairSsh2StrippedKey, type OpenSshKeyPair } from './openssh-ed25519-key.js';

/**
 * The node's SSH host key: made once at first start and kept, so that
 * operators see the same fingerprint every time and `known_hosts` keeps
 * working. Ed25519, in OpenSSH's private key format, which ssh2 and
 * ssh-keygen both read.
 */

export const HOST_KEY_FILE = 'ssh_host_ed25519_key';
const COMMENT = 'xmpp-cluster MMP host key';

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
  /** The file held a key that an earlier version wrote damaged, and was rewritten; the key itself is the same. */
  repaired: boolean;
}

export async function loadOrCreateHostKey(dataDir: string): Promise<HostKey> {
  const path = join(dataDir, HOST_KEY_FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new HostKeyError(`cannot read the SSH host key ${path}: ${(err as Error).message}`);
  }
  if (text === undefined) {
    const pair = generateEd25519Key(COMMENT);
    const fingerprint = await writeChecked(path, pair);
    return { privateKey: pair.private, fingerprint, path, created: true, repaired: false };
  }
  const fingerprint = fingerprintOf(text);
  if (fingerprint !== undefined) return { privateKey: text, fingerprint, path, created: false, repaired: false };
  // Same seed, same key pair: clients see the fingerprint this node made at its first start.
  const repaired = repairSsh2StrippedKey(text);
  if (repaired) {
    return { privateKey: repaired.private, fingerprint: await writeChecked(path, repaired), path, created: false, repaired: true };
  }
  // A damaged key is never replaced silently: clients would see a new fingerprint and must be told why.
  throw new HostKeyError(`the SSH host key ${path} does not parse as a private key; restore it, or move it away to have a new one made (clients will then see a new fingerprint)`);
}

/**
 * Writes a key only once ssh2 has read it back and found the public line's
 * key in it, so a node never keeps a key it cannot start with.
 */
async function writeChecked(path: string, pair: OpenSshKeyPair): Promise<string> {
  const fingerprint = fingerprintOf(pair.private);
  const publicKey = ssh2.utils.parseKey(pair.public);
  if (fingerprint === undefined || publicKey instanceof Error || fingerprint !== fingerprintOfPublic(publicKey)) {
    throw new HostKeyError(`a new SSH host key for ${path} did not read back; nothing was written`);
  }
  await writeFileAtomic(path, pair.private, 0o600);
  await writeFileAtomic(`${path}.pub`, pair.public + '\n', 0o644);
  return fingerprint;
}

function fingerprintOf(privateKey: string): string | undefined {
  // A file with no key in it parses to undefined, whatever the types say.
  const key = ssh2.utils.parseKey(privateKey) as ssh2.ParsedKey | Error | undefined;
  if (!key || key instanceof Error || key.getPrivatePEM() === null) return undefined;
  return fingerprintOfPublic(key);
}

function fingerprintOfPublic(key: ssh2.ParsedKey): string {
  return 'SHA256:' + createHash('sha256').update(key.getPublicSSH()).digest('base64').replace(/=+$/, '');
}

import { readFile } from 'node:fs/promises';
import ssh2, { type ParsedKey } from 'ssh2';

/**
 * `<dataDir>/authorized_keys`: public keys that may log in, in OpenSSH's
 * one-key-a-line format. A key logs in as any existing account (all accounts
 * are admins). Lines with options (`from=`, `command=`...) are skipped, not
 * obeyed partly: ignoring a restriction would grant more than was meant.
 */

export const AUTHORIZED_KEYS_FILE = 'authorized_keys';

export interface AuthorizedKeys {
  keys: ParsedKey[];
  /** 1-based numbers of lines that were skipped, for one warning. */
  skipped: number[];
}

const KEY_TYPE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;

export async function readAuthorizedKeys(path: string): Promise<AuthorizedKeys> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { keys: [], skipped: [] };
    throw err;
  }
  return parseAuthorizedKeys(text);
}

export function parseAuthorizedKeys(text: string): AuthorizedKeys {
  const keys: ParsedKey[] = [];
  const skipped: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [type, blob] = line.split(/\s+/);
    if (!type || !blob || !KEY_TYPE.test(type)) {
      skipped.push(i + 1);
      return;
    }
    const parsed = ssh2.utils.parseKey(`${type} ${blob}`);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key || key instanceof Error) skipped.push(i + 1);
    else keys.push(key);
  });
  return { keys, skipped };
}

/** The authorized key whose public blob is the one the client offers. */
export function findAuthorizedKey(keys: ParsedKey[], offered: Buffer): ParsedKey | undefined {
  return keys.find((k) => k.getPublicSSH().equals(offered));
}

import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../base/atomic-file.js';
import { SerialQueue } from '../base/serial-queue.js';
import { NewerFormatError } from '../base/format-version.js';

/**
 * The MMP's administrator accounts, persisted in `<dataDir>/users.json`
 * (0600, written atomically). Passwords are kept only as scrypt hashes with a
 * per-user salt; the parameters are stored beside each hash so that they can
 * be raised later without invalidating existing accounts.
 */

export type UserRole = 'admin';

export interface UserRecord {
  name: string;
  role: UserRole;
}

interface ScryptHash {
  algorithm: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string; // base64
  hash: string; // base64
}

interface StoredUser extends UserRecord {
  password: ScryptHash;
}

/** A users file that cannot be read as ours, or a change that cannot be saved. */
export class UserStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserStoreError';
  }
}

export const USERS_FILE = 'users.json';
const FILE_VERSION = 1;

// scrypt N=2^14, r=8, p=1: the RFC 7914 §2 "interactive login" parameters,
// about 16 MiB and a few tens of milliseconds per check.
const SCRYPT_PARAMS = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

const USER_NAME = /^[A-Za-z][A-Za-z0-9._-]{0,31}$/;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 256;

export function isValidUserName(name: string): boolean {
  return USER_NAME.test(name);
}

/** Why a new password is refused, or undefined when it is acceptable. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD) return `a password needs at least ${MIN_PASSWORD} characters`;
  if (password.length > MAX_PASSWORD) return `a password has at most ${MAX_PASSWORD} characters`;
  // Control characters cannot be typed reliably at a terminal or in a password file.
  if (/[\u0000-\u001f\u007f]/.test(password)) return 'a password cannot contain control characters';
  return undefined;
}

/** Reads a password file as the node's start-up gets it: one line, the final line end removed. */
export async function readPasswordFile(path: string): Promise<string> {
  const text = await readFile(path, 'utf8');
  return text.replace(/\r?\n$/, '');
}

export class UserStore {
  private users: StoredUser[];
  /** Changes run one at a time so that two sessions cannot lose each other's update. */
  private readonly changes = new SerialQueue();
  /** mtime and size of the file as last read or written, to notice another writer. */
  private seen: string | undefined;

  private constructor(
    readonly path: string,
    users: StoredUser[],
    seen: string | undefined,
  ) {
    this.users = users;
    this.seen = seen;
  }

  /** Opens `<dataDir>/users.json`; a missing file is an empty store, a corrupt one an error naming it. */
  static async open(dataDir: string): Promise<UserStore> {
    const path = join(dataDir, USERS_FILE);
    const loaded = await load(path);
    return new UserStore(path, loaded?.users ?? [], loaded?.seen);
  }

  /**
   * Re-reads the file if someone else changed it (a second store on the same
   * folder, an operator restoring a backup), so that every check sees the
   * accounts on disk. A file that has gone away keeps what is in memory: a
   * running node never locks everyone out by itself.
   */
  async refresh(): Promise<void> {
    const seen = await fingerprint(this.path);
    if (seen === undefined || seen === this.seen) return;
    const loaded = await load(this.path);
    if (loaded) {
      this.users = loaded.users;
      this.seen = loaded.seen;
    }
  }

  list(): UserRecord[] {
    return this.users.map((u) => ({ name: u.name, role: u.role })).sort((a, b) => a.name.localeCompare(b.name));
  }

  has(name: string): boolean {
    return this.users.some((u) => u.name === name);
  }

  get size(): number {
    return this.users.length;
  }

  /**
   * Creates the first admin account when the store is empty (first start).
   * Returns true when it created one; an existing store is left alone, so a
   * password changed with `passwd` is not reset by the next restart.
   */
  async ensureInitialAdmin(password: string | undefined, name = 'admin'): Promise<boolean> {
    return this.changes.run(async () => {
      await this.refresh();
      if (this.users.length > 0) return false;
      if (password === undefined || password === '') {
        throw new UserStoreError(
          `no admin account exists yet (${this.path} is missing); give its password with --admin-password-file or XMPP_CLUSTER_ADMIN_PASSWORD`,
        );
      }
      const problem = passwordProblem(password);
      if (problem) throw new UserStoreError(`the initial admin password is refused: ${problem}`);
      await this.commit([{ name, role: 'admin', password: await hashPassword(password) }]);
      return true;
    });
  }

  async add(name: string, role: UserRole, password: string): Promise<void> {
    return this.changes.run(async () => {
      await this.refresh();
      if (!isValidUserName(name)) throw new UserStoreError(`'${name}' is not a valid user name (a letter, then letters, digits, '.', '_' or '-'; at most 32)`);
      if (this.has(name)) throw new UserStoreError(`user ${name} already exists`);
      const problem = passwordProblem(password);
      if (problem) throw new UserStoreError(problem);
      await this.commit([...this.users, { name, role, password: await hashPassword(password) }]);
    });
  }

  async remove(name: string): Promise<void> {
    return this.changes.run(async () => {
      await this.refresh();
      if (!this.has(name)) throw new UserStoreError(`no user named ${name}`);
      // An MMP with no account left could only be recovered by editing files on the host.
      if (this.users.length === 1) throw new UserStoreError(`${name} is the last account; add another admin first`);
      await this.commit(this.users.filter((u) => u.name !== name));
    });
  }

  async setPassword(name: string, password: string): Promise<void> {
    return this.changes.run(async () => {
      await this.refresh();
      const user = this.users.find((u) => u.name === name);
      if (!user) throw new UserStoreError(`no user named ${name}`);
      const problem = passwordProblem(password);
      if (problem) throw new UserStoreError(problem);
      const hashed = await hashPassword(password);
      await this.commit(this.users.map((u) => (u.name === name ? { ...u, password: hashed } : u)));
    });
  }

  /** Constant-time check; an unknown user costs the same scrypt run as a known one. */
  async verify(name: string, password: string): Promise<boolean> {
    await this.refresh();
    const user = this.users.find((u) => u.name === name);
    const stored = user?.password ?? DUMMY_HASH;
    const salt = Buffer.from(stored.salt, 'base64');
    const expected = Buffer.from(stored.hash, 'base64');
    const actual = await scrypt(password, salt, expected.length, stored);
    return timingSafeEqual(actual, expected) && user !== undefined;
  }

  private async commit(next: StoredUser[]): Promise<void> {
    const body = JSON.stringify({ version: FILE_VERSION, users: next }, null, 2) + '\n';
    try {
      await writeFileAtomic(this.path, body, 0o600);
    } catch (err) {
      throw new UserStoreError(`cannot write the users file ${this.path}: ${(err as Error).message}`);
    }
    this.users = next;
    this.seen = await fingerprint(this.path);
  }

}

function scrypt(password: string, salt: Buffer, length: number, params: { N: number; r: number; p: number }): Promise<Buffer> {
  // maxmem must exceed 128 * N * r; keep head-room for larger stored parameters.
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scryptCallback(password.normalize('NFC'), salt, length, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

async function hashPassword(password: string): Promise<ScryptHash> {
  const salt = randomBytes(SALT_LENGTH);
  const hash = await scrypt(password, salt, KEY_LENGTH, SCRYPT_PARAMS);
  return { algorithm: 'scrypt', ...SCRYPT_PARAMS, salt: salt.toString('base64'), hash: hash.toString('base64') };
}

const DUMMY_HASH: ScryptHash = {
  algorithm: 'scrypt',
  ...SCRYPT_PARAMS,
  salt: randomBytes(SALT_LENGTH).toString('base64'),
  hash: randomBytes(KEY_LENGTH).toString('base64'),
};

async function fingerprint(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path);
    return `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserStoreError(`cannot read the users file ${path}: ${(err as Error).message}`);
  }
}

async function load(path: string): Promise<{ users: StoredUser[]; seen: string | undefined } | undefined> {
  const seen = await fingerprint(path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserStoreError(`cannot read the users file ${path}: ${(err as Error).message}`);
  }
  return { users: parseUsersFile(path, text), seen };
}

function parseUsersFile(path: string, text: string): StoredUser[] {
  const corrupt = (why: string) =>
    new UserStoreError(`the users file ${path} is corrupt (${why}); restore it from a backup, or move it away and restart with --admin-password-file`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw corrupt('not valid JSON');
  }
  // Refused before anything else is checked: a newer release may have changed what the rest means.
  if (isObject(doc) && typeof doc.version === 'number' && doc.version > FILE_VERSION) throw new NewerFormatError(path, doc.version, FILE_VERSION);
  if (!isObject(doc) || doc.version !== FILE_VERSION || !Array.isArray(doc.users)) throw corrupt(`expected {"version": ${FILE_VERSION}, "users": [...]}`);
  const users: StoredUser[] = [];
  for (const [i, entry] of doc.users.entries()) {
    if (!isObject(entry)) throw corrupt(`entry ${i} is not an object`);
    const { name, role, password } = entry;
    if (typeof name !== 'string' || !isValidUserName(name)) throw corrupt(`entry ${i} has no valid name`);
    if (role !== 'admin') throw corrupt(`user ${name} has an unknown role`);
    if (users.some((u) => u.name === name)) throw corrupt(`user ${name} appears twice`);
    if (!isScryptHash(password)) throw corrupt(`user ${name} has no valid scrypt hash`);
    users.push({ name, role, password });
  }
  return users;
}

function isScryptHash(v: unknown): v is ScryptHash {
  if (!isObject(v) || v.algorithm !== 'scrypt') return false;
  const { N, r, p, salt, hash } = v;
  const powerOfTwo = typeof N === 'number' && Number.isInteger(N) && N >= 1024 && N <= 1 << 20 && (N & (N - 1)) === 0;
  const small = (x: unknown, max: number) => typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= max;
  const b64 = (x: unknown, min: number) => typeof x === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(x) && Buffer.from(x, 'base64').length >= min;
  return powerOfTwo && small(r, 32) && small(p, 16) && b64(salt, 8) && b64(hash, 16);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

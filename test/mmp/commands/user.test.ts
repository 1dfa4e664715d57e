import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Interpreter } from '../../../src/mmp/interpreter.js';
import { userCommands } from '../../../src/mmp/commands/user.js';
import { UserStore, UserStoreError, readPasswordFile } from '../../../src/mmp/users.js';
import { runLine } from '../ssh/scripted-terminal.js';

let dir: string;
let users: UserStore;
let mmp: Interpreter;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mmp-users-'));
  users = await UserStore.open(dir);
  await users.ensureInitialAdmin('first-admin-pw');
  mmp = new Interpreter(userCommands({ users }));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('user commands', () => {
  it('user list shows names and roles, or JSON', async () => {
    expect(await runLine(mmp, 'user list')).toMatchObject({ exitCode: 0, output: 'User   Role\nadmin  admin\n' });
    expect(JSON.parse((await runLine(mmp, 'user list --json')).output)).toEqual({ users: [{ name: 'admin', role: 'admin' }] });
  });

  it('user add asks twice with echo off and stores a working password', async () => {
    const r = await runLine(mmp, 'user add bob admin', { answers: ['bob-password-1', 'bob-password-1'] });
    expect(r).toMatchObject({ exitCode: 0, output: '' });
    expect(r.terminal.asked).toEqual([
      { question: 'Please enter new password:', echo: false },
      { question: 'Please enter new password again:', echo: false },
    ]);
    expect(await users.verify('bob', 'bob-password-1')).toBe(true);
    expect(await users.verify('bob', 'bob-password-2')).toBe(false);
    expect((await runLine(mmp, 'user list')).output).toBe('User   Role\nadmin  admin\nbob    admin\n');
  });

  it('refuses mismatched, short and cancelled passwords, changing nothing', async () => {
    expect(await runLine(mmp, 'user add bob admin', { answers: ['bob-password-1', 'bob-password-2'] })).toMatchObject({ exitCode: 1, output: 'Error: the passwords do not match; nothing was changed\n' });
    expect(await runLine(mmp, 'user add bob admin', { answers: ['short'] })).toMatchObject({ exitCode: 1, output: 'Error: a password needs at least 8 characters; nothing was changed\n' });
    expect(await runLine(mmp, 'user add bob admin', { answers: [null] })).toMatchObject({ exitCode: 1, output: 'Error: cancelled; nothing was changed\n' });
    expect(users.has('bob')).toBe(false);
  });

  it('refuses bad names, roles and duplicates before asking anything', async () => {
    const dup = await runLine(mmp, 'user add admin admin');
    expect(dup).toMatchObject({ exitCode: 1, output: 'Error: user admin already exists\n' });
    expect(dup.terminal.asked).toEqual([]);
    expect(await runLine(mmp, 'user add bob operator')).toMatchObject({ exitCode: 1, output: "Error: unknown role 'operator'; the only role is admin\n" });
    expect(await runLine(mmp, 'user add bob')).toMatchObject({ exitCode: 2, output: 'Error: usage: user add <name> admin\n' });
    expect(await runLine(mmp, 'user add 9bob admin', { answers: ['password-123', 'password-123'] })).toMatchObject({ exitCode: 1, output: expect.stringMatching(/^Error: '9bob' is not a valid user name/) });
  });

  it('user del removes another account, never your own or the last one', async () => {
    await runLine(mmp, 'user add bob admin', { answers: ['bob-password-1', 'bob-password-1'] });
    expect(await runLine(mmp, 'user del admin')).toMatchObject({ exitCode: 1, output: 'Error: you cannot delete the account you are logged in as; log in as another admin\n' });
    expect(await runLine(mmp, 'user del nobody')).toMatchObject({ exitCode: 1, output: 'Error: no user named nobody\n' });
    expect(await runLine(mmp, 'user del bob')).toMatchObject({ exitCode: 0, output: '' });
    expect(users.has('bob')).toBe(false);
    expect(await runLine(mmp, 'user del admin', { user: 'operator-from-cli' })).toMatchObject({ exitCode: 1, output: 'Error: admin is the last account; add another admin first\n' });
  });

  it('passwd checks your current password; passwd <name> sets another account\'s', async () => {
    expect(await runLine(mmp, 'passwd', { answers: ['wrong-one', 'new-password-9', 'new-password-9'] })).toMatchObject({ exitCode: 1, output: 'Error: the current password is wrong; nothing was changed\n' });
    const own = await runLine(mmp, 'passwd', { answers: ['first-admin-pw', 'new-password-9', 'new-password-9'] });
    expect(own.exitCode).toBe(0);
    expect(own.terminal.asked.map((a) => a.echo)).toEqual([false, false, false]);
    expect(await users.verify('admin', 'new-password-9')).toBe(true);

    await runLine(mmp, 'user add bob admin', { answers: ['bob-password-1', 'bob-password-1'] });
    const other = await runLine(mmp, 'passwd bob', { answers: ['bob-password-2', 'bob-password-2'] });
    expect(other.exitCode).toBe(0);
    expect(other.terminal.asked.map((a) => a.question)).toEqual(['Please enter new password:', 'Please enter new password again:']);
    expect(await users.verify('bob', 'bob-password-2')).toBe(true);
    expect(await runLine(mmp, 'passwd carol')).toMatchObject({ exitCode: 1, output: 'Error: no user named carol\n' });
  });
});

describe('user store', () => {
  it('persists accounts across reopen, in a 0600 file holding only scrypt hashes', async () => {
    await users.add('bob', 'admin', 'bob-password-1');
    const path = join(dir, 'users.json');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const text = await readFile(path, 'utf8');
    expect(text).not.toContain('bob-password-1');
    expect(text).not.toContain('first-admin-pw');
    const doc = JSON.parse(text);
    expect(doc.users[1].password).toMatchObject({ algorithm: 'scrypt', N: 16384, r: 8, p: 1 });
    // Salts are per user: the same password never gives the same hash.
    await users.add('carol', 'admin', 'bob-password-1');
    const again = JSON.parse(await readFile(path, 'utf8'));
    expect(again.users[2].password.hash).not.toBe(again.users[1].password.hash);

    const reopened = await UserStore.open(dir);
    expect(reopened.list().map((u) => u.name)).toEqual(['admin', 'bob', 'carol']);
    expect(await reopened.verify('bob', 'bob-password-1')).toBe(true);
    expect(await reopened.verify('admin', 'bob-password-1')).toBe(false);
    expect(await reopened.verify('nobody', 'bob-password-1')).toBe(false);
  });

  it('makes the initial admin once; a restart never resets a changed password', async () => {
    await users.setPassword('admin', 'changed-later-1');
    const reopened = await UserStore.open(dir);
    expect(await reopened.ensureInitialAdmin('first-admin-pw')).toBe(false);
    expect(await reopened.verify('admin', 'changed-later-1')).toBe(true);
  });

  it('refuses a first start without a password, or with a weak one', async () => {
    const fresh = await mkdtemp(join(tmpdir(), 'mmp-users-fresh-'));
    try {
      const store = await UserStore.open(fresh);
      await expect(store.ensureInitialAdmin(undefined)).rejects.toThrow(/--admin-password-file or XMPP_CLUSTER_ADMIN_PASSWORD/);
      await expect(store.ensureInitialAdmin('short')).rejects.toThrow('the initial admin password is refused: a password needs at least 8 characters');
      expect(store.size).toBe(0);
      expect(await store.ensureInitialAdmin('long-enough-1')).toBe(true);
      expect(store.list()).toEqual([{ name: 'admin', role: 'admin' }]);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('a corrupt users file is an error naming the file, and the file is left as it was', async () => {
    const path = join(dir, 'users.json');
    for (const bad of ['{not json', '{"version":1}', '{"version":1,"users":[{"name":"admin","role":"admin","password":{"algorithm":"md5"}}]}']) {
      await writeFile(path, bad);
      await expect(UserStore.open(dir)).rejects.toThrow(UserStoreError);
      await expect(UserStore.open(dir)).rejects.toThrow(`the users file ${path} is corrupt`);
      expect(await readFile(path, 'utf8')).toBe(bad);
    }
    // A later format is not corrupt: it is refused as written by a newer release (src/base/format-version.ts).
    await writeFile(path, '{"version":2,"users":[]}');
    await expect(UserStore.open(dir)).rejects.toThrow(`${path} has format version 2, written by a newer release`);
    expect(await readFile(path, 'utf8')).toBe('{"version":2,"users":[]}');
  });

  it('a second store on the same folder sees the first one\'s changes, and neither loses the other\'s', async () => {
    const other = await UserStore.open(dir);
    await users.add('bob', 'admin', 'bob-password-1');
    expect(await other.verify('bob', 'bob-password-1')).toBe(true);
    await other.add('carol', 'admin', 'carol-password-1');
    expect((await runLine(mmp, 'user list')).output).toBe('User   Role\nadmin  admin\nbob    admin\ncarol  admin\n');
    await writeFile(join(dir, 'users.json'), '{"version":1,"users":[');
    await expect(users.verify('bob', 'bob-password-1')).rejects.toThrow(/is corrupt/);
    expect(await runLine(mmp, 'user list')).toMatchObject({ exitCode: 1, output: expect.stringMatching(/^Error: the users file .* is corrupt/) });
  });

  it('reads a password file without its final line end', async () => {
    const file = join(dir, 'admin-password');
    await writeFile(file, 'from-a-file-1\n');
    expect(await readPasswordFile(file)).toBe('from-a-file-1');
    await writeFile(file, 'with spaces kept  \r\n');
    expect(await readPasswordFile(file)).toBe('with spaces kept  ');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { HOST_KEY_FILE } from '../../../src/mmp/ssh/host-key.js';
import { ADMIN_PASSWORD, SSH, SSHPASS, requireBinaries, run, sshExec, sshOptions, startTestNode, type TestNode } from './harness.js';

let node: TestNode;

beforeAll(async () => {
  requireBinaries(SSH, SSHPASS);
  node = await startTestNode();
});
afterAll(async () => node?.stop());

describe('SSH login', () => {
  it('logs in with the admin password and runs a command', async () => {
    const r = await sshExec(node, 'pki list');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('User supplied certificates and keys:\n');
  });

  it('refuses a wrong password, logs user and address but never the password', async () => {
    const r = await sshExec(node, 'pki list', { password: 'wrong-password-here' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Permission denied/);
    const failed = node.logs.map((l) => JSON.parse(l)).filter((l) => l.event === 'login-failed');
    expect(failed).toEqual([expect.objectContaining({ module: 'mmp.ssh', user: 'admin', address: '127.0.0.1', method: 'password' })]);
    expect(node.logs.join('\n')).not.toContain('wrong-password-here');
    expect(node.logs.join('\n')).not.toContain(ADMIN_PASSWORD);
  });
});

describe('public-key login from authorized_keys', () => {
  it('logs in with a key listed in <dataDir>/authorized_keys, and not with another key', async () => {
    const keys = await mkdtemp(join(tmpdir(), 'mmp-keys-'));
    try {
      for (const name of ['listed', 'unlisted']) {
        const r = await run('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(keys, name)]);
        expect(r.code, r.stderr).toBe(0);
      }
      const pub = await readFile(join(keys, 'listed.pub'), 'utf8');
      await writeFile(join(node.dataDir, 'authorized_keys'), `# operators\nfrom="10.0.0.1" ${pub}${pub}`);
      const withKey = (name: string) =>
        run(SSH, [...sshOptions(node.server.port, ['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'PreferredAuthentications=publickey', '-i', join(keys, name)]), 'admin@127.0.0.1', 'user list']);
      expect(await withKey('listed')).toMatchObject({ code: 0, stdout: 'User   Role\nadmin  admin\n' });
      const other = await withKey('unlisted');
      expect(other.code).toBe(255);
      expect(other.stderr).toMatch(/Permission denied/);
      // The key opens only accounts that exist.
      const nobody = await run(SSH, [...sshOptions(node.server.port, ['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-i', join(keys, 'listed')]), 'nobody@127.0.0.1', 'user list']);
      expect(nobody.code).toBe(255);
      const events = node.logs.map((l) => JSON.parse(l));
      expect(events).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'login', user: 'admin', method: 'publickey' })]));
      // The line with options was skipped, not obeyed partly.
      expect(events).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'authorized-keys-skipped', lines: [2] })]));
    } finally {
      await rm(keys, { recursive: true, force: true });
      await rm(join(node.dataDir, 'authorized_keys'), { force: true });
    }
  });
});

describe('login grace time', () => {
  it('drops a connection that does not log in in time, even one that never says a word', async () => {
    const slow = await startTestNode({ loginGraceMs: 1_500 });
    try {
      const started = Date.now();
      const socket = connect(slow.server.port, '127.0.0.1');
      socket.on('data', () => undefined);
      await new Promise<void>((resolve) => socket.on('close', () => resolve()));
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
      expect(Date.now() - started).toBeLessThan(5_000);
      // A client that logs in in time is not affected.
      expect((await sshExec(slow, 'pki list')).code).toBe(0);
    } finally {
      await slow.stop();
    }
  });
});

describe('host key', () => {
  it('is made once (0600) and kept: a restarted node shows the same fingerprint to a strict known_hosts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mmp-hostkey-'));
    const knownHosts = join(dataDir, 'known_hosts');
    try {
      const first = await startTestNode({ dataDir });
      const keyPath = join(dataDir, HOST_KEY_FILE);
      expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
      const scan = await run('/usr/bin/ssh-keygen', ['-lf', `${keyPath}.pub`]);
      expect(scan.stdout).toContain(first.server.hostKeyFingerprint);
      const strict = ['-o', 'StrictHostKeyChecking=accept-new', '-o', `UserKnownHostsFile=${knownHosts}`];
      expect((await sshExec(first, 'pki list', { extra: strict })).code).toBe(0);
      const port = first.server.port;
      await first.stop();

      const second = await startTestNode({ dataDir, port });
      expect(second.server.hostKeyFingerprint).toBe(first.server.hostKeyFingerprint);
      // StrictHostKeyChecking=yes would refuse a changed key; the same key passes.
      expect((await sshExec(second, 'pki list', { extra: ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`] })).code).toBe(0);
      await second.stop();

      // The check is real: another node's key on the same address is refused.
      const impostor = await startTestNode({ port });
      const refused = await sshExec(impostor, 'pki list', { extra: ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`] });
      await impostor.stop();
      expect(refused.code).toBe(255);
      expect(refused.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);

      await writeFile(keyPath, 'not a key\n');
      await expect(startTestNode({ dataDir })).rejects.toThrow(`the SSH host key ${keyPath} does not parse`);
      expect(await readFile(keyPath, 'utf8')).toBe('not a key\n');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

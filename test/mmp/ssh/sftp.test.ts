import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2 from 'ssh2';
import { ADMIN_PASSWORD, SFTP, SSH, SSHPASS, requireBinaries, sftpBatch, sshExec, startTestNode, type TestNode } from './harness.js';
import { makeOpensslCa } from '../../pki/openssl.js';

let node: TestNode;
let local: string;
let cert: string;

beforeAll(async () => {
  requireBinaries(SSH, SFTP, SSHPASS);
  node = await startTestNode();
  local = await mkdtemp(join(tmpdir(), 'mmp-sftp-local-'));
  cert = join(local, 'abhiall.cer');
  await makeOpensslCa(local, cert, join(local, 'abhiall.key'), 'tptac9.com');
});
afterAll(async () => {
  await node?.stop();
  await rm(local, { recursive: true, force: true });
});

const certFiles = async () => (await readdir(node.certs)).sort();

describe('SFTP into the certificate folder', () => {
  it('uploads a certificate that pki list then shows, stored 0600 byte for byte', async () => {
    const r = await sftpBatch(node, `put ${cert}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(node.certs, 'abhiall.cer'))).toEqual(await readFile(cert));
    expect((await stat(join(node.certs, 'abhiall.cer'))).mode & 0o777).toBe(0o600);
    const list = await sshExec(node, 'pki list');
    expect(list).toMatchObject({ code: 0, stdout: 'User supplied certificates and keys:\nabhiall.cer\n' });
    // And the MMP can read what SFTP stored.
    expect((await sshExec(node, 'pki inspect abhiall.cer')).stdout).toContain('Subject             : CN=tptac9.com');
  });

  it('lists, downloads, renames (the WinSCP .filepart way) and removes', async () => {
    const ls = await sftpBatch(node, 'ls -l\n');
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/-rw-------\s+1 admin\s+admin\s+\d+ \w{3} [ \d]\d \d\d:\d\d abhiall\.cer/);

    const copy = join(local, 'downloaded.cer');
    expect((await sftpBatch(node, `get abhiall.cer ${copy}\n`)).code).toBe(0);
    expect(await readFile(copy)).toEqual(await readFile(cert));

    expect((await sftpBatch(node, `put ${cert} second.cer.filepart\nrename second.cer.filepart second.cer\n`)).code).toBe(0);
    expect(await certFiles()).toEqual(['abhiall.cer', 'second.cer']);
    const onto = await sftpBatch(node, 'rename second.cer abhiall.cer\n');
    expect(onto.code).not.toBe(0);
    expect(await certFiles()).toEqual(['abhiall.cer', 'second.cer']);

    expect((await sftpBatch(node, 'rm second.cer\n')).code).toBe(0);
    expect(await certFiles()).toEqual(['abhiall.cer']);
  });

  it('refuses every way out of the folder: .., absolute paths, sub-folders, hidden names', async () => {
    const outside = `escape-${randomBytes(4).toString('hex')}.txt`;
    const attempts = [
      `put ${cert} ../${outside}`,
      `put ${cert} /tmp/${outside}`,
      `put ${cert} /../../tmp/${outside}`,
      `put ${cert} .hidden`,
      `get ../users.json ${join(local, 'users.json')}`,
      `get /etc/passwd ${join(local, 'passwd')}`,
      `get ../ssh_host_ed25519_key ${join(local, 'hostkey')}`,
      'ls /etc',
      'cd ..',
      'mkdir sub',
    ];
    for (const command of attempts) {
      const r = await sftpBatch(node, command + '\n');
      expect(r.code, `${command} should fail`).not.toBe(0);
      expect(r.stderr, command).not.toMatch(/Permission denied \(/); // the login itself worked
      expect(r.stderr, command).toMatch(/Permission denied|No such file|not found|Failure|not allowed|Couldn't/i);
    }
    expect(existsSync(join(node.dataDir, outside))).toBe(false);
    expect(existsSync(join('/tmp', outside))).toBe(false);
    expect(existsSync(join(local, 'users.json'))).toBe(false);
    expect(existsSync(join(local, 'passwd'))).toBe(false);
    expect(existsSync(join(local, 'hostkey'))).toBe(false);
    expect(await certFiles()).toEqual(['abhiall.cer']);
    const refused = node.logs.map((l) => JSON.parse(l)).filter((e) => e.event === 'sftp-refused');
    expect(refused.length).toBeGreaterThanOrEqual(attempts.length);
    expect(refused[0]).toMatchObject({ module: 'mmp.sftp', user: 'admin' });
  });

  it('does not follow or replace symlinks, and makes none', async () => {
    const target = join(local, 'outside.txt');
    await writeFile(target, 'outside the folder\n');
    await symlink(target, join(node.certs, 'link.cer'));
    try {
      expect((await sftpBatch(node, `get link.cer ${join(local, 'via-link')}\n`)).code).not.toBe(0);
      expect(existsSync(join(local, 'via-link'))).toBe(false);
      expect((await sftpBatch(node, `put ${cert} link.cer\n`)).code).not.toBe(0);
      expect(await readFile(target, 'utf8')).toBe('outside the folder\n');
      expect((await sftpBatch(node, 'rm link.cer\n')).code).not.toBe(0);
      expect((await sftpBatch(node, 'ls\n')).stdout).not.toContain('link.cer');
      expect((await sftpBatch(node, 'ln -s abhiall.cer other.cer\n')).code).not.toBe(0);
      expect(existsSync(join(node.certs, 'other.cer'))).toBe(false);
    } finally {
      await rm(join(node.certs, 'link.cer'));
    }
  });

  it('enforces the 1 MiB limit while writing and stores nothing of a refused file', async () => {
    const exact = join(local, 'exact.bin');
    const big = join(local, 'big.bin');
    await writeFile(exact, randomBytes(1024 * 1024));
    await writeFile(big, randomBytes(1024 * 1024 + 1));
    expect((await sftpBatch(node, `put ${exact}\n`)).code).toBe(0);
    const r = await sftpBatch(node, `put ${big}\n`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/larger than the limit|Failure/);
    expect(await certFiles()).toEqual(['abhiall.cer', 'exact.bin']);
    await rm(join(node.certs, 'exact.bin'));
  });

  it('an upload cut off before CLOSE leaves neither a half file nor a temporary one', async () => {
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.on('ready', () => resolve()).on('error', reject);
      client.connect({ host: '127.0.0.1', port: node.server.port, username: 'admin', password: ADMIN_PASSWORD });
    });
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
    const handle = await new Promise<Buffer>((resolve, reject) => sftp.open('/partial.cer', 'w', (err, h) => (err ? reject(err) : resolve(h))));
    await new Promise<void>((resolve, reject) => sftp.write(handle, Buffer.alloc(4096, 65), 0, 4096, 0, (err) => (err ? reject(err) : resolve())));
    // Mid-upload the temporary file exists, hidden, and the real name does not.
    expect((await readdir(node.certs)).some((f) => f.startsWith('.partial.cer.') && f.endsWith('.upload'))).toBe(true);
    expect(existsSync(join(node.certs, 'partial.cer'))).toBe(false);
    client.end();
    const deadline = Date.now() + 5_000;
    while ((await readdir(node.certs)).some((f) => f.endsWith('.upload')) && Date.now() < deadline) await sleep(25);
    expect(await readdir(node.certs)).toEqual(['abhiall.cer']);
  });
});

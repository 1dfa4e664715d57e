import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readFile, rm, stat, symlink, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Interpreter } from '../../../src/mmp/interpreter.js';
import { pkiCommands } from '../../../src/mmp/commands/pki.js';
import { runLine } from '../ssh/scripted-terminal.js';
import { makeOpensslCa, openssl, signWithOpensslCa } from '../../pki/openssl.js';

// One folder for the whole file: the CA and the signed certificate are made once.
let root: string;
let certs: string;
let mmp: Interpreter;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pki-cmd-'));
  certs = join(root, 'certs');
  await mkdir(certs);
  mmp = new Interpreter(pkiCommands({ certFolder: certs }));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('pki csr, signed by an openssl CA', () => {
  it('writes <basename>.key (0600) and <basename>.csr with the seed\'s words, and openssl accepts the request', async () => {
    const r = await runLine(mmp, 'pki csr abhiall CN:tptac9.com subAltName:cb1.tptac9.com,cb2.tptac9.com,cb3');
    expect(r.exitCode).toBe(0);
    expect(r.output).toBe('Created key file abhiall.key and CSR abhiall.csr\nCSR file abhiall.csr ready for download via SFTP\n');
    expect((await stat(join(certs, 'abhiall.key'))).mode & 0o777).toBe(0o600);

    const { stdout, stderr } = await openssl(['req', '-in', join(certs, 'abhiall.csr'), '-noout', '-verify', '-text']);
    expect(stderr + stdout).toMatch(/verify OK/);
    expect(stdout).toMatch(/Subject: CN\s*=\s*tptac9\.com/);
    expect(stdout).toContain('DNS:cb1.tptac9.com, DNS:cb2.tptac9.com, DNS:cb3');
    expect(stdout).toContain('TLS Web Server Authentication, TLS Web Client Authentication');
    const key = await openssl(['pkey', '-in', join(certs, 'abhiall.key'), '-noout', '-text']);
    expect(key.stdout).toMatch(/Private-Key: \(2048 bit/);
  });

  it('takes every subject attribute, quoted values with spaces, and IP alternative names', async () => {
    const r = await runLine(mmp, 'pki csr full CN:xmpp.example.com OU:Video "O:Example Inc" L:Oslo ST:Oslo C:NO subjectAltName:xmpp.example.com,IP:10.0.0.5');
    expect(r.output).toContain('Created key file full.key');
    const { stdout } = await openssl(['req', '-in', join(certs, 'full.csr'), '-noout', '-text']);
    expect(stdout).toMatch(/Subject: C\s*=\s*NO, ST\s*=\s*Oslo, L\s*=\s*Oslo, O\s*=\s*Example Inc, OU\s*=\s*Video, CN\s*=\s*xmpp\.example\.com/);
    expect(stdout).toContain('DNS:xmpp.example.com, IP Address:10.0.0.5');
  });

  it('refuses to overwrite an existing key and changes nothing', async () => {
    const before = await readFile(join(certs, 'abhiall.key'));
    const r = await runLine(mmp, 'pki csr abhiall CN:other.example.com');
    expect(r).toMatchObject({ exitCode: 1, output: 'Error: abhiall.key already exists; remove it by SFTP or choose another base name\n' });
    expect(await readFile(join(certs, 'abhiall.key'))).toEqual(before);
  });

  it('answers wrong attributes and missing words with one Error line', async () => {
    expect(await runLine(mmp, 'pki csr x')).toMatchObject({ exitCode: 2, output: expect.stringMatching(/^Error: usage: pki csr <basename> CN:<name>/) });
    expect(await runLine(mmp, 'pki csr x CN:a XX:b')).toMatchObject({ exitCode: 1, output: expect.stringMatching(/^Error: unknown attribute 'XX:'/) });
    expect(await runLine(mmp, 'pki csr x O:a')).toMatchObject({ exitCode: 1, output: expect.stringMatching(/^Error: CN:<name> is required/) });
    expect(await runLine(mmp, 'pki csr x CN:a subjectAltName:a,,b')).toMatchObject({ exitCode: 1 });
    expect(await runLine(mmp, 'pki csr x CN:a subjectAltName:bad_name')).toMatchObject({ exitCode: 1, output: "Error: 'bad_name' is not a DNS name or IP address\n" });
    expect(await runLine(mmp, 'pki csr x CN:a C:usa')).toMatchObject({ exitCode: 1 });
    expect(await runLine(mmp, 'pki csr ../x CN:a')).toMatchObject({ exitCode: 1, output: expect.stringMatching(/not a plain base name/) });
    expect((await readdir(certs)).filter((f) => f.startsWith('x.'))).toEqual([]);
  });

  it('matches the key with the certificate the CA issued, and verifies the chain to the CA bundle', async () => {
    await makeOpensslCa(root, join(certs, 'certall.cer'), join(root, 'ca.key'));
    await signWithOpensslCa(root, join(certs, 'abhiall.csr'), join(certs, 'certall.cer'), join(root, 'ca.key'), join(certs, 'abhiall.cer'));

    expect(await runLine(mmp, 'pki match abhiall.key abhiall.cer')).toMatchObject({ exitCode: 0, output: 'abhiall.key matches abhiall.cer\n' });
    expect(await runLine(mmp, 'pki verify abhiall.cer certall.cer')).toMatchObject({
      exitCode: 0,
      output: 'abhiall.cer: OK, chains to certall.cer\nChain:\n  0 CN=tptac9.com\n  1 CN=Lab Root CA (root)\n',
    });
    expect(await runLine(mmp, 'pki verify certall.cer')).toMatchObject({ exitCode: 0, output: expect.stringMatching(/^certall.cer: OK, self-signed\n/) });
  });

  it('says why a certificate does not verify', async () => {
    expect(await runLine(mmp, 'pki verify abhiall.cer')).toMatchObject({
      exitCode: 1,
      output: 'Error: abhiall.cer is issued by CN=Lab Root CA, not self-signed; give the CA bundle: pki verify abhiall.cer <ca-bundle>\n',
    });
    await makeOpensslCa(root, join(certs, 'other-ca.cer'), join(root, 'other-ca.key'), 'Lab Root CA');
    expect(await runLine(mmp, 'pki verify abhiall.cer other-ca.cer')).toMatchObject({
      exitCode: 1,
      output: expect.stringMatching(/^Error: abhiall.cer does not verify against other-ca.cer: the signature on CN=tptac9.com does not verify with the key of CN=Lab Root CA/),
    });
    await runLine(mmp, 'pki selfsigned lab CN:lab.example.com');
    expect(await runLine(mmp, 'pki verify abhiall.cer lab.crt')).toMatchObject({
      exitCode: 1,
      output: expect.stringMatching(/^Error: abhiall.cer does not verify against lab.crt: its issuer CN=Lab Root CA is not in the bundle/),
    });
  });

  it('inspect shows subject, issuer, SANs, validity and the same SHA-256 fingerprint openssl computes', async () => {
    const r = await runLine(mmp, 'pki inspect abhiall.cer');
    expect(r.exitCode).toBe(0);
    const fp = (await openssl(['x509', '-in', join(certs, 'abhiall.cer'), '-noout', '-fingerprint', '-sha256'])).stdout.trim().split('=')[1];
    const lines = r.output.split('\n');
    expect(lines.slice(0, 3)).toEqual(['File : abhiall.cer', 'Type : certificate', '']);
    expect(lines).toContain('Subject             : CN=tptac9.com');
    expect(lines).toContain('Issuer              : CN=Lab Root CA');
    expect(lines).toContain('Subject alt names   : DNS:cb1.tptac9.com, DNS:cb2.tptac9.com, DNS:cb3');
    expect(lines).toContain('Status              : valid');
    expect(lines).toContain(`SHA-256 fingerprint : ${fp}`);
    expect(r.output).toMatch(/Valid from          : \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n/);
    expect(r.output).toMatch(/Valid until         : \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n/);

    const json = JSON.parse((await runLine(mmp, 'pki inspect abhiall.cer --json')).output);
    expect(json).toMatchObject({ file: 'abhiall.cer', type: 'certificates', certificates: [{ subject: 'CN=tptac9.com', sha256: fp, status: 'valid', ca: false }] });
  });

  it('inspect reads DER certificates, bundles, requests and keys', async () => {
    await openssl(['x509', '-in', join(certs, 'abhiall.cer'), '-outform', 'DER', '-out', join(certs, 'abhiall.der')]);
    expect((await runLine(mmp, 'pki inspect abhiall.der')).output).toContain('Subject             : CN=tptac9.com');
    expect(await runLine(mmp, 'pki match abhiall.key abhiall.der')).toMatchObject({ exitCode: 0 });

    const bundle = (await readFile(join(certs, 'abhiall.cer'), 'utf8')) + (await readFile(join(certs, 'certall.cer'), 'utf8'));
    await writeFile(join(certs, 'chain.pem'), bundle);
    const b = await runLine(mmp, 'pki inspect chain.pem');
    expect(b.output).toContain('Type : certificate bundle (2 certificates)');
    expect(b.output).toContain('Certificate         : 2 of 2');

    const csr = await runLine(mmp, 'pki inspect abhiall.csr');
    expect(csr.output.split('\n')).toEqual(expect.arrayContaining(['Type                : certificate signing request', 'Signature           : valid', 'Public key          : RSA 2048 bits']));
    const key = await runLine(mmp, 'pki inspect abhiall.key');
    expect(key.output).toContain('Type               : private key');
    expect(key.output).not.toMatch(/BEGIN|PRIVATE KEY-----/);
  });

  it('match takes PKCS#1 keys, refuses encrypted ones and reports a key of another certificate', async () => {
    await openssl(['pkey', '-in', join(certs, 'abhiall.key'), '-traditional', '-out', join(certs, 'abhiall-rsa.key')]);
    expect((await readFile(join(certs, 'abhiall-rsa.key'), 'utf8')).startsWith('-----BEGIN RSA PRIVATE KEY-----')).toBe(true);
    expect(await runLine(mmp, 'pki match abhiall-rsa.key abhiall.cer')).toMatchObject({ exitCode: 0 });

    await openssl(['pkey', '-in', join(certs, 'abhiall.key'), '-aes256', '-passout', 'pass:secret', '-out', join(certs, 'locked.key')]);
    expect(await runLine(mmp, 'pki match locked.key abhiall.cer')).toMatchObject({ exitCode: 1, output: expect.stringMatching(/^Error: locked.key is an encrypted key/) });

    expect(await runLine(mmp, 'pki match lab.key abhiall.cer')).toMatchObject({
      exitCode: 1,
      output: 'Error: lab.key does not match abhiall.cer: the certificate holds a different public key\n',
    });
    expect(await runLine(mmp, 'pki match abhiall.csr abhiall.cer')).toMatchObject({ exitCode: 1, output: 'Error: abhiall.csr does not parse as a private key\n' });
  });

  it('selfsigned makes a CA-flagged lab certificate that openssl verifies against itself', async () => {
    const r = await runLine(mmp, 'pki selfsigned lab2 CN:cb1.lab subjectAltName:cb1.lab,127.0.0.1');
    expect(r).toMatchObject({ exitCode: 0, output: 'Created key file lab2.key and self-signed certificate lab2.crt\n' });
    const crt = join(certs, 'lab2.crt');
    const v = await openssl(['verify', '-CAfile', crt, crt]);
    expect(v.stdout).toContain(': OK');
    const text = (await openssl(['x509', '-in', crt, '-noout', '-text'])).stdout;
    expect(text).toContain('CA:TRUE');
    expect(text).toContain('DNS:cb1.lab, IP Address:127.0.0.1');
    expect(await runLine(mmp, 'pki match lab2.key lab2.crt')).toMatchObject({ exitCode: 0 });
    expect((await runLine(mmp, 'pki inspect lab2.crt')).output).toContain('CA                  : yes');
  });

  it('pki list prints the seed layout: a header, then one file a line, no hidden files, folders or symlinks', async () => {
    await mkdir(join(certs, 'sub'));
    await writeFile(join(certs, '.hidden'), 'x');
    await symlink('/etc/passwd', join(certs, 'passwd'));
    const r = await runLine(mmp, 'pki list');
    const lines = r.output.trimEnd().split('\n');
    expect(lines[0]).toBe('User supplied certificates and keys:');
    expect(lines).toContain('abhiall.key');
    expect(lines).toContain('abhiall.cer');
    expect(lines).toContain('certall.cer');
    expect(lines).not.toContain('sub');
    expect(lines).not.toContain('.hidden');
    expect(lines).not.toContain('passwd');
    expect(JSON.parse((await runLine(mmp, 'pki list --json')).output).files).toEqual(lines.slice(1));
  });

  it('never reads outside the folder: unsafe names and symlinks are refused', async () => {
    expect(await runLine(mmp, 'pki inspect ../ca.key')).toMatchObject({ exitCode: 1, output: expect.stringMatching(/^Error: \.\.\/ca\.key is not a plain file name/) });
    expect(await runLine(mmp, 'pki inspect /etc/passwd')).toMatchObject({ exitCode: 1 });
    expect(await runLine(mmp, 'pki inspect passwd')).toMatchObject({ exitCode: 1, output: 'Error: passwd is a symbolic link; only plain files are used\n' });
    expect(await runLine(mmp, 'pki inspect missing.cer')).toMatchObject({ exitCode: 1, output: expect.stringMatching(/^Error: missing.cer does not exist in the certificate folder/) });
    expect(await runLine(mmp, 'pki inspect sub')).toMatchObject({ exitCode: 1, output: 'Error: sub is not a plain file\n' });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { OperatorError } from '../../src/base/operator-error.js';
import { checkKeyAndCertificate, loadTlsCredentials, loadTrustBundle } from '../../src/pki/credentials.js';
import { createKeyAndRequest, createSelfSigned } from '../../src/pki/generate.js';
import { parseSubjectWords } from '../../src/pki/subject.js';
import { makeOpensslCa, signWithOpensslCa } from './openssl.js';

let root: string;
let certs: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pki-cred-'));
  certs = join(root, 'certs');
  await mkdir(certs);
  await createKeyAndRequest(certs, 'node', parseSubjectWords(['CN:xmpp.lab', 'subjectAltName:xmpp.lab,127.0.0.1']));
  await makeOpensslCa(root, join(certs, 'ca.cer'), join(root, 'ca.key'));
  await signWithOpensslCa(root, join(certs, 'node.csr'), join(certs, 'ca.cer'), join(root, 'ca.key'), join(certs, 'node.cer'));
  await createSelfSigned(certs, 'other', parseSubjectWords(['CN:other.lab']));
  await writeFile(join(certs, 'garbage.cer'), 'this is not a certificate\n');
});
afterAll(async () => rm(root, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(OperatorError);
    return (err as Error).message;
  }
  throw new Error('expected a OperatorError');
}

describe('xmpp certs checks (checkKeyAndCertificate)', () => {
  it('accepts a key, its certificate and the CA bundle', async () => {
    await expect(checkKeyAndCertificate(certs, 'node.key', 'node.cer', 'ca.cer')).resolves.toBeUndefined();
    await expect(checkKeyAndCertificate(certs, 'other.key', 'other.crt')).resolves.toBeUndefined();
  });

  it('names the file and the failed check', async () => {
    expect(await failure(checkKeyAndCertificate(certs, 'missing.key', 'node.cer'))).toBe(
      'key file missing.key does not exist in the certificate folder; upload it by SFTP first (pki list shows what is there)',
    );
    expect(await failure(checkKeyAndCertificate(certs, 'node.key', 'missing.cer'))).toMatch(/^certificate file missing.cer does not exist/);
    expect(await failure(checkKeyAndCertificate(certs, 'node.key', 'garbage.cer'))).toBe('certificate file garbage.cer does not parse: is not a valid X.509 certificate');
    expect(await failure(checkKeyAndCertificate(certs, 'garbage.cer', 'node.cer'))).toBe('key file garbage.cer does not parse as a private key');
    expect(await failure(checkKeyAndCertificate(certs, 'other.key', 'node.cer'))).toBe(
      'key file other.key does not match certificate file node.cer (they hold different public keys; pki match other.key node.cer)',
    );
    expect(await failure(checkKeyAndCertificate(certs, 'node.key', 'node.cer', 'garbage.cer'))).toBe('CA bundle file garbage.cer does not parse: is not a valid X.509 certificate');
    expect(await failure(checkKeyAndCertificate(certs, 'node.key', 'node.cer', 'node.csr'))).toMatch(/^CA bundle file node.csr holds no certificate/);
    expect(await failure(checkKeyAndCertificate(certs, '../ca.key', 'node.cer'))).toMatch(/^key file \.\.\/ca\.key is not a plain file name/);
  });

  it('returns PEM that node:tls serves, and that a client trusting the bundle accepts', async () => {
    const creds = await loadTlsCredentials(certs, 'node.key', 'node.cer', 'ca.cer');
    expect(creds.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(creds.bundle).toHaveLength(1);
    const server = createServer({ key: creds.key, cert: creds.cert }, (s) => s.end('hello\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const trust = await loadTrustBundle(certs, 'ca.cer');
      const text = await new Promise<string>((resolve, reject) => {
        const socket: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'xmpp.lab', ca: trust }, () => {
          let data = '';
          socket.on('data', (d) => (data += d));
          socket.on('end', () => resolve(data));
        });
        socket.on('error', reject);
      });
      expect(text).toBe('hello\n');
    } finally {
      server.close();
    }
  });
});

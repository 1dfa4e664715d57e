import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { XmppNode } from '../../src/node/xmpp-node.js';
import { X509Certificate } from '../../src/pki/x509.js';
import { NodeCredentials } from '../../src/process/node-credentials.js';
import { issueServerCertificate, makeFederationCa } from '../helpers/federation-pki.js';
import { LogCapture, tempDir } from '../helpers/test-node.js';

/**
 * The certificate new TLS handshakes present follows `xmpp certs` and the
 * files it names: another pair of files, or a renewal uploaded over the
 * same names, serves the next handshake (peer links and federation alike).
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const subjectOf = (pem: string) => new X509Certificate(pem).subject;

describe('NodeCredentials', () => {
  it('follows xmpp certs to other files, a renewal over the same names, and none', async () => {
    const dir = await tempDir('node-credentials-');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const ca = await makeFederationCa(dir);
    const first = await issueServerCertificate(ca, ['first.example.test']);
    const second = await issueServerCertificate(ca, ['second.example.test']);
    const renewed = await issueServerCertificate(ca, ['renewed.example.test']);
    const log = new LogCapture();
    const node = await XmppNode.open({ dataDir: join(dir, 'data'), name: 'cms1', address: '127.0.0.1', log: log.logger, serve: false });
    cleanups.push(() => node.close());
    const put = async (cert: typeof first, name: string) => {
      await copyFile(cert.keyFile, join(node.certFolder, `${name}.key`));
      await copyFile(cert.certFile, join(node.certFolder, `${name}.crt`));
    };
    await put(first, 'a');
    await put(second, 'b');
    await node.setCertificates({ key: 'a.key', cert: 'a.crt', bundle: null });
    const credentials = await NodeCredentials.start(node, log.logger);
    cleanups.push(() => credentials.stop());
    expect(subjectOf(credentials.current()!.cert)).toContain('first.example.test');

    await node.setCertificates({ key: 'b.key', cert: 'b.crt', bundle: null });
    await credentials.refresh();
    expect(subjectOf(credentials.current()!.cert)).toContain('second.example.test');

    await put(renewed, 'b');
    await credentials.refresh();
    expect(subjectOf(credentials.current()!.cert)).toContain('renewed.example.test');

    await node.setCertificates(null);
    await credentials.refresh();
    expect(credentials.current()).toBeNull();
    expect(log.raw.join('')).not.toMatch(/PRIVATE KEY/);
  });
});

import type { KeyObject } from 'node:crypto';
import type { X509Certificate } from './x509.js';
import { OperatorError } from '../base/operator-error.js';
import { keyMatchesCertificate } from './key-match.js';
import { PkiFileError, parseCertificate, parseCertificates, parsePrivateKey, readCertificateFolderFile } from './pki-file.js';

/**
 * The node's TLS material as `xmpp certs` and `xmpp cluster trust` name it:
 * file names in the certificate folder. Each check says which file failed and
 * how, in the words an operator acts on (reference/commands.md, `xmpp certs`).
 */

export interface TlsCredentials {
  /** PKCS#8 PEM, for tls.createSecureContext({ key }). */
  key: string;
  /** The node's certificate, PEM. */
  cert: string;
  /** The CA bundle's certificates in file order (root last), PEM each; empty without a bundle. */
  bundle: string[];
}

type Role = 'key file' | 'certificate file' | 'CA bundle file' | 'trust bundle file';

async function load<T>(role: Role, folder: string, file: string, parse: (name: string, data: Buffer) => T): Promise<T> {
  try {
    return parse(file, await readCertificateFolderFile(folder, file));
  } catch (err) {
    if (err instanceof PkiFileError) throw new OperatorError(`${role} ${err.message}`);
    throw err;
  }
}

/**
 * Throws OperatorError naming the file and the failing check: a file is
 * missing or not plain, does not parse, the key does not match the
 * certificate, or the bundle does not parse.
 */
export async function checkKeyAndCertificate(folder: string, keyFile: string, certFile: string, bundleFile?: string): Promise<void> {
  await loadTlsCredentials(folder, keyFile, certFile, bundleFile);
}

/** The same checks as checkKeyAndCertificate, returning the material in the form node:tls takes. */
export async function loadTlsCredentials(folder: string, keyFile: string, certFile: string, bundleFile?: string): Promise<TlsCredentials> {
  const key: KeyObject = await load('key file', folder, keyFile, parsePrivateKey);
  const cert: X509Certificate = await load('certificate file', folder, certFile, parseCertificate);
  if (!keyMatchesCertificate(key, cert)) {
    throw new OperatorError(`key file ${keyFile} does not match certificate file ${certFile} (they hold different public keys; pki match ${keyFile} ${certFile})`);
  }
  const bundle = bundleFile === undefined ? [] : await load('CA bundle file', folder, bundleFile, parseCertificates);
  return {
    key: key.export({ format: 'pem', type: 'pkcs8' }).toString(),
    cert: cert.toString('pem') + '\n',
    bundle: bundle.map((c) => c.toString('pem') + '\n'),
  };
}

/** `xmpp cluster trust <bundle>`: the certificates peers must chain to, PEM each. */
export async function loadTrustBundle(folder: string, bundleFile: string): Promise<string[]> {
  const certs = await load('trust bundle file', folder, bundleFile, parseCertificates);
  return certs.map((c) => c.toString('pem') + '\n');
}

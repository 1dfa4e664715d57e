import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeOpensslCa, openssl, signWithOpensslCa } from '../pki/openssl.js';

/**
 * A test CA that every federation peer of a test trusts, and server
 * certificates from it, made by the real openssl (not our PKI code), so that
 * SASL EXTERNAL (XEP-0178) and TLS are checked by Prosody's and ejabberd's
 * own verifiers against an independent issuer.
 */

export interface FederationCa {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ServerCertificate {
  /** The leaf, PEM. */
  readonly certFile: string;
  readonly keyFile: string;
  /** Leaf then key in one PEM file: ejabberd's `certfiles` takes that form. */
  readonly pemFile: string;
  readonly names: readonly string[];
}

export async function makeFederationCa(dir: string, cn = 'Federation Test CA'): Promise<FederationCa> {
  const certFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'ca.key');
  await makeOpensslCa(dir, certFile, keyFile, cn);
  return { dir, certFile, keyFile };
}

/**
 * A certificate for a server domain and its subdomains (components such as
 * `cb.other.test` federate under their own name and need it in the SAN:
 * RFC 6125 §6.4, XEP-0178 §3). Both server and client auth: an s2s peer
 * shows the same certificate when it connects out (the EKU is checked).
 */
export async function issueServerCertificate(ca: FederationCa, names: string[], file = names[0]): Promise<ServerCertificate> {
  const base = join(ca.dir, file);
  const keyFile = `${base}.key`;
  const csr = `${base}.csr`;
  const certFile = `${base}.crt`;
  const san = names.map((n) => `DNS:${n}`).join(',');
  await openssl([
    'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csr,
    '-subj', `/CN=${names[0]}`,
    '-addext', `subjectAltName=${san}`,
    '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
    '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
  ]);
  await signWithOpensslCa(ca.dir, csr, ca.certFile, ca.keyFile, certFile);
  const pemFile = `${base}.pem`;
  await writeFile(pemFile, `${await readFile(certFile, 'utf8')}${await readFile(keyFile, 'utf8')}`);
  return { certFile, keyFile, pemFile, names };
}

import { randomBytes, webcrypto } from 'node:crypto';
import { lstat, unlink } from 'node:fs/promises';
import {
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  Pkcs10CertificateRequestGenerator,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
  type Extension,
} from './x509.js';
import { writeFileAtomic } from '../base/atomic-file.js';
import { certificatePath, isSafeFileName } from './certificate-folder.js';
import type { SubjectRequest } from './subject.js';

/**
 * New keys, certificate requests and lab self-signed certificates, written
 * into the certificate folder. Keys are RSA 2048 with SHA-256 signatures:
 * what CMS generates and what every call bridge and CA accepts.
 */

export class PkiGenerateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PkiGenerateError';
  }
}

const RSA_PARAMS: webcrypto.RsaHashedKeyGenParams = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
};

const SELF_SIGNED_DAYS = 365;

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(RSA_PARAMS, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function privateKeyPem(keys: webcrypto.CryptoKeyPair): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

function altNameExtensions(subject: SubjectRequest): Extension[] {
  return subject.altNames.length > 0 ? [new SubjectAlternativeNameExtension(subject.altNames)] : [];
}

// XMPP nodes use one certificate both to serve (call bridges, peers) and as a
// TLS client on cluster links, so both purposes are asked for (CMS
// certificate guidelines: "client and server authentication").
function purposeExtension(): ExtendedKeyUsageExtension {
  return new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth, ExtendedKeyUsage.clientAuth]);
}

/** `<basename>.key` and `<basename>.csr`; nothing is written unless both can be. */
export async function createKeyAndRequest(folder: string, basename: string, subject: SubjectRequest): Promise<{ keyFile: string; requestFile: string }> {
  const [keyFile, requestFile] = await freshNames(folder, basename, ['.key', '.csr']);
  const keys = await generateKeys();
  const request = await Pkcs10CertificateRequestGenerator.create({
    name: subject.name,
    keys,
    signingAlgorithm: RSA_PARAMS,
    extensions: [
      ...altNameExtensions(subject),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment, true),
      purposeExtension(),
    ],
  });
  await writePair(folder, keyFile, await privateKeyPem(keys), requestFile, request.toString('pem') + '\n');
  return { keyFile, requestFile };
}

/**
 * `<basename>.key` and `<basename>.crt`, self-signed, valid for a year. It is
 * marked as a CA (as `openssl req -x509` does) so that a lab can use the
 * certificate itself as the cluster trust bundle.
 */
export async function createSelfSigned(folder: string, basename: string, subject: SubjectRequest, now = new Date()): Promise<{ keyFile: string; certificateFile: string }> {
  const [keyFile, certificateFile] = await freshNames(folder, basename, ['.key', '.crt']);
  const keys = await generateKeys();
  const serial = randomBytes(16);
  serial[0]! &= 0x7f; // RFC 5280 §4.1.2.2: a positive integer
  const certificate = await X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: subject.name,
    // A few minutes back, so that a peer whose clock is slightly behind accepts it at once.
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + SELF_SIGNED_DAYS * 86_400_000),
    keys,
    signingAlgorithm: RSA_PARAMS,
    extensions: [
      new BasicConstraintsExtension(true, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment | KeyUsageFlags.keyCertSign, true),
      purposeExtension(),
      await SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...altNameExtensions(subject),
    ],
  });
  await writePair(folder, keyFile, await privateKeyPem(keys), certificateFile, certificate.toString('pem') + '\n');
  return { keyFile, certificateFile };
}

/** The file names for a basename, refused when unsafe or already present (a key is never overwritten). */
async function freshNames(folder: string, basename: string, suffixes: string[]): Promise<string[]> {
  const names = suffixes.map((s) => basename + s);
  if (!isSafeFileName(basename) || names.some((n) => !isSafeFileName(n))) {
    throw new PkiGenerateError(`'${basename}' is not a plain base name (letters, digits, '.', '_' and '-')`);
  }
  for (const name of names) {
    if (await exists(certificatePath(folder, name))) throw new PkiGenerateError(`${name} already exists; remove it by SFTP or choose another base name`);
  }
  return names;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function writePair(folder: string, keyFile: string, keyPem: string, otherFile: string, otherPem: string): Promise<void> {
  const keyPath = certificatePath(folder, keyFile);
  await writeFileAtomic(keyPath, keyPem, 0o600);
  try {
    await writeFileAtomic(certificatePath(folder, otherFile), otherPem, 0o644);
  } catch (err) {
    await unlink(keyPath).catch(() => undefined);
    throw err;
  }
}

import { createPrivateKey, type KeyObject } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { PemConverter, Pkcs10CertificateRequest, X509Certificate } from './x509.js';
import { MAX_CERTIFICATE_FILE_BYTES, UnsafeFileNameError, certificatePath } from './certificate-folder.js';

/**
 * Reading and parsing the files operators put in the certificate folder:
 * certificates and bundles (PEM, one or many, or a single DER), certificate
 * requests and private keys. Every failure names the file and what is wrong
 * with it, because that is what the operator has to fix.
 */

export class PkiFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file} ${problem}`);
    this.name = 'PkiFileError';
  }
}

/** Reads a plain file of the folder; refuses unsafe names, symlinks, folders and oversized files. */
export async function readCertificateFolderFile(folder: string, name: string): Promise<Buffer> {
  let path: string;
  try {
    path = certificatePath(folder, name);
  } catch (err) {
    if (err instanceof UnsafeFileNameError) throw new PkiFileError(name, 'is not a plain file name (letters, digits, ".", "_" and "-")');
    throw err;
  }
  let handle;
  try {
    // O_NOFOLLOW: a symlink planted in the folder must not lead outside it.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PkiFileError(name, 'does not exist in the certificate folder; upload it by SFTP first (pki list shows what is there)');
    if (code === 'ELOOP') throw new PkiFileError(name, 'is a symbolic link; only plain files are used');
    throw new PkiFileError(name, `cannot be read: ${(err as Error).message}`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new PkiFileError(name, 'is not a plain file');
    if (st.size > MAX_CERTIFICATE_FILE_BYTES) throw new PkiFileError(name, `is larger than ${MAX_CERTIFICATE_FILE_BYTES} bytes`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

interface PemBlock {
  type: string;
  der: ArrayBuffer;
}

function pemBlocks(data: Buffer): PemBlock[] | undefined {
  const text = data.toString('latin1');
  if (!text.includes('-----BEGIN ')) return undefined;
  try {
    return PemConverter.decodeWithHeaders(text).map((b) => ({ type: b.type, der: b.rawData }));
  } catch {
    return [];
  }
}

function toArrayBuffer(data: Buffer): ArrayBuffer {
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

/** One certificate or several (a bundle), PEM or DER. */
export function parseCertificates(name: string, data: Buffer): X509Certificate[] {
  const blocks = pemBlocks(data);
  const ders = blocks === undefined ? [toArrayBuffer(data)] : blocks.filter((b) => b.type === 'CERTIFICATE').map((b) => b.der);
  if (ders.length === 0) throw new PkiFileError(name, 'holds no certificate (expected PEM "BEGIN CERTIFICATE" blocks or DER)');
  return ders.map((der, i) => {
    try {
      return new X509Certificate(der);
    } catch {
      const which = ders.length > 1 ? `certificate ${i + 1} of ${ders.length} ` : '';
      throw new PkiFileError(name, `does not parse: ${which}is not a valid X.509 certificate`);
    }
  });
}

/** Exactly one certificate: a key's partner, not a bundle. */
export function parseCertificate(name: string, data: Buffer): X509Certificate {
  const certs = parseCertificates(name, data);
  if (certs.length !== 1) throw new PkiFileError(name, `holds ${certs.length} certificates; give the node's own certificate alone and the others as the CA bundle`);
  return certs[0]!;
}

export function parseCertificateRequest(name: string, data: Buffer): Pkcs10CertificateRequest {
  const blocks = pemBlocks(data);
  const der = blocks === undefined ? toArrayBuffer(data) : blocks.find((b) => b.type.endsWith('CERTIFICATE REQUEST'))?.der;
  if (!der) throw new PkiFileError(name, 'holds no certificate request');
  try {
    return new Pkcs10CertificateRequest(der);
  } catch {
    throw new PkiFileError(name, 'does not parse as a certificate request');
  }
}

/** A private key in any format OpenSSL writes (PKCS#8, PKCS#1, SEC1; PEM or DER), unencrypted. */
export function parsePrivateKey(name: string, data: Buffer): KeyObject {
  const blocks = pemBlocks(data);
  if (blocks?.some((b) => b.type === 'ENCRYPTED PRIVATE KEY') || /Proc-Type: 4,ENCRYPTED/.test(data.toString('latin1'))) {
    throw new PkiFileError(name, 'is an encrypted key; the node needs it unencrypted (openssl pkey -in KEY -out PLAIN)');
  }
  try {
    if (blocks !== undefined) return createPrivateKey({ key: data, format: 'pem' });
    return createPrivateKey({ key: data, format: 'der', type: 'pkcs8' });
  } catch {
    if (blocks === undefined) {
      for (const type of ['pkcs1', 'sec1'] as const) {
        try {
          return createPrivateKey({ key: data, format: 'der', type });
        } catch {
          // try the next encoding
        }
      }
    }
    throw new PkiFileError(name, 'does not parse as a private key');
  }
}

export type PkiFileContents =
  | { kind: 'certificates'; certificates: X509Certificate[] }
  | { kind: 'certificate-request'; request: Pkcs10CertificateRequest }
  | { kind: 'private-key'; key: KeyObject };

/** What a file holds, for `pki inspect`: tried as certificates, then a request, then a key. */
export function identifyPkiFile(name: string, data: Buffer): PkiFileContents {
  const blocks = pemBlocks(data);
  if (blocks !== undefined) {
    if (blocks.some((b) => b.type === 'CERTIFICATE')) return { kind: 'certificates', certificates: parseCertificates(name, data) };
    if (blocks.some((b) => b.type.endsWith('CERTIFICATE REQUEST'))) return { kind: 'certificate-request', request: parseCertificateRequest(name, data) };
    if (blocks.some((b) => b.type.endsWith('PRIVATE KEY'))) return { kind: 'private-key', key: parsePrivateKey(name, data) };
    throw new PkiFileError(name, `holds no certificate, request or key (PEM blocks: ${blocks.map((b) => b.type).join(', ') || 'none'})`);
  }
  for (const attempt of [
    () => ({ kind: 'certificates' as const, certificates: parseCertificates(name, data) }),
    () => ({ kind: 'certificate-request' as const, request: parseCertificateRequest(name, data) }),
    () => ({ kind: 'private-key' as const, key: parsePrivateKey(name, data) }),
  ]) {
    try {
      return attempt();
    } catch {
      // not this kind
    }
  }
  throw new PkiFileError(name, 'does not parse as a certificate, certificate request or private key (PEM or DER)');
}

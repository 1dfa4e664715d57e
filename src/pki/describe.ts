import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { BasicConstraintsExtension, SubjectAlternativeNameExtension, type Pkcs10CertificateRequest, type X509Certificate } from './x509.js';
import { certificatePublicKey, describeKey } from './key-match.js';
import { formatUtc } from './chain.js';

/**
 * What `pki inspect` shows of a certificate, request or key, as data (for
 * `--json`) and as the labelled lines the MMP prints.
 */

export interface CertificateFacts {
  subject: string;
  issuer: string;
  altNames: string[];
  notBefore: string;
  notAfter: string;
  status: 'valid' | 'expired' | 'not yet valid';
  serial: string;
  key: string;
  ca: boolean;
  sha256: string;
}

export interface RequestFacts {
  subject: string;
  altNames: string[];
  key: string;
  signature: 'valid' | 'invalid';
  sha256: string;
}

export interface KeyFacts {
  key: string;
  publicKeySha256: string;
}

const SAN_PREFIX: Record<string, string> = { dns: 'DNS', ip: 'IP', email: 'email', url: 'URI', dn: 'DirName', guid: 'GUID', upn: 'UPN', id: 'RID' };

function altNamesOf(ext: SubjectAlternativeNameExtension | null | undefined): string[] {
  return ext ? ext.names.items.map((n) => `${SAN_PREFIX[n.type] ?? n.type}:${n.value}`) : [];
}

/** `AB:CD:...`, as browsers and `openssl x509 -fingerprint -sha256` print it. */
export function sha256Fingerprint(der: ArrayBuffer | Buffer): string {
  const hex = createHash('sha256').update(Buffer.from(der as ArrayBuffer)).digest('hex').toUpperCase();
  return hex.match(/../g)!.join(':');
}

export function certificateFacts(cert: X509Certificate, now = new Date()): CertificateFacts {
  const status = now < cert.notBefore ? 'not yet valid' : now > cert.notAfter ? 'expired' : 'valid';
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    altNames: altNamesOf(cert.getExtension(SubjectAlternativeNameExtension)),
    notBefore: formatUtc(cert.notBefore),
    notAfter: formatUtc(cert.notAfter),
    status,
    serial: cert.serialNumber,
    key: describeKey(certificatePublicKey(cert)),
    ca: cert.getExtension(BasicConstraintsExtension)?.ca ?? false,
    sha256: sha256Fingerprint(cert.rawData),
  };
}

export async function requestFacts(request: Pkcs10CertificateRequest): Promise<RequestFacts> {
  const san = request.getExtension('2.5.29.17');
  return {
    subject: request.subject,
    altNames: san ? altNamesOf(new SubjectAlternativeNameExtension(san.rawData)) : [],
    key: describeKey(createPublicKey({ key: Buffer.from(request.publicKey.rawData), format: 'der', type: 'spki' })),
    signature: (await request.verify().catch(() => false)) ? 'valid' : 'invalid',
    sha256: sha256Fingerprint(request.rawData),
  };
}

export function keyFacts(key: KeyObject): KeyFacts {
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return { key: describeKey(key), publicKeySha256: sha256Fingerprint(spki) };
}

type Line = [label: string, value: string];

function labelled(lines: Line[]): string[] {
  const width = Math.max(...lines.map(([l]) => l.length));
  return lines.map(([l, v]) => `${l.padEnd(width)} : ${v}`);
}

export function certificateLines(f: CertificateFacts, position?: { index: number; count: number }): string[] {
  return labelled([
    ...(position ? ([['Certificate', `${position.index + 1} of ${position.count}`]] as Line[]) : []),
    ['Subject', f.subject],
    ['Issuer', f.issuer],
    ['Subject alt names', f.altNames.join(', ') || '<none>'],
    ['Valid from', f.notBefore],
    ['Valid until', f.notAfter],
    ['Status', f.status],
    ['Serial', f.serial],
    ['Public key', f.key],
    ['CA', f.ca ? 'yes' : 'no'],
    ['SHA-256 fingerprint', f.sha256],
  ]);
}

export function requestLines(f: RequestFacts): string[] {
  return labelled([
    ['Type', 'certificate signing request'],
    ['Subject', f.subject],
    ['Subject alt names', f.altNames.join(', ') || '<none>'],
    ['Public key', f.key],
    ['Signature', f.signature],
    ['SHA-256 fingerprint', f.sha256],
  ]);
}

export function keyLines(f: KeyFacts): string[] {
  return labelled([
    ['Type', 'private key'],
    ['Key', f.key],
    ['Public key SHA-256', f.publicKeySha256],
  ]);
}

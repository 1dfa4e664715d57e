import { BasicConstraintsExtension, type X509Certificate } from './x509.js';

/**
 * Does a certificate chain to a trust bundle? This mirrors what OpenSSL (and
 * so Node's TLS) accepts without partial-chain mode: each link is signed by
 * the next, every certificate is within its validity period, issuers are CAs,
 * and the path ends at a self-signed certificate of the bundle.
 */

export type ChainResult =
  | { ok: true; chain: X509Certificate[] }
  | { ok: false; reason: string };

const MAX_DEPTH = 10;

function sameCertificate(a: X509Certificate, b: X509Certificate): boolean {
  return Buffer.from(a.rawData).equals(Buffer.from(b.rawData));
}

function validityProblem(cert: X509Certificate, now: Date): string | undefined {
  if (now < cert.notBefore) return `${cert.subject} is not valid before ${formatUtc(cert.notBefore)}`;
  if (now > cert.notAfter) return `${cert.subject} expired on ${formatUtc(cert.notAfter)}`;
  return undefined;
}

async function signedBy(cert: X509Certificate, issuer: X509Certificate): Promise<boolean> {
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

export async function isSelfSigned(cert: X509Certificate): Promise<boolean> {
  return cert.subject === cert.issuer && (await signedBy(cert, cert));
}

function caProblem(issuer: X509Certificate): string | undefined {
  const bc = issuer.getExtension(BasicConstraintsExtension);
  // A v1 root has no extensions at all; RFC 5280 §6.1.4 (k) asks for cA only of v3 certificates.
  if (bc && !bc.ca) return `${issuer.subject} is not a CA certificate (basicConstraints CA:FALSE), so it cannot issue certificates`;
  return undefined;
}

export async function verifyChain(cert: X509Certificate, bundle: X509Certificate[], now = new Date()): Promise<ChainResult> {
  const chain = [cert];
  let current = cert;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const expired = validityProblem(current, now);
    if (expired) return { ok: false, reason: expired };
    if (await isSelfSigned(current)) {
      if (bundle.some((b) => sameCertificate(b, current))) return { ok: true, chain };
      return { ok: false, reason: `the root ${current.subject} is self-signed but is not in the bundle` };
    }
    const named = bundle.filter((b) => b.subject === current.issuer && !sameCertificate(b, current));
    if (named.length === 0) {
      const where = depth === 0 ? 'its issuer' : 'the next issuer';
      return { ok: false, reason: `${where} ${current.issuer} is not in the bundle (a bundle holds the intermediates and the root CA, root last)` };
    }
    let issuer: X509Certificate | undefined;
    for (const candidate of named) {
      if (await signedBy(current, candidate)) {
        issuer = candidate;
        break;
      }
    }
    if (!issuer) return { ok: false, reason: `the signature on ${current.subject} does not verify with the key of ${current.issuer} in the bundle (a different CA with the same name?)` };
    const notCa = caProblem(issuer);
    if (notCa) return { ok: false, reason: notCa };
    chain.push(issuer);
    current = issuer;
  }
  return { ok: false, reason: `the chain is longer than ${MAX_DEPTH} certificates` };
}

/** `2026-05-01 10:00:00 UTC` */
export function formatUtc(date: Date): string {
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

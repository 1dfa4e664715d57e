import type { ConnectionOptions, PeerCertificate, SecureContextOptions, TLSSocket } from 'node:tls';

/**
 * What a node presents and whom it trusts on the cluster port. `pem`: mutual
 * TLS, each side's chain must lead to the bundle and the server's certificate
 * must name the address dialed. `insecure-lab`: still TLS, but nothing is
 * verified, for labs without a PKI.
 */
export interface PeerSecurity {
  readonly key: string;
  /** PEM, the node's certificate first, then its intermediates. */
  readonly cert: string;
  readonly trust: { readonly kind: 'pem'; readonly ca: string } | { readonly kind: 'insecure-lab' };
}

/** TLS 1.3 only: the cluster is ours on both ends, nothing older needs to connect. */
const VERSIONS = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

export function serverContextOptions(security: PeerSecurity): SecureContextOptions {
  return { key: security.key, cert: security.cert, ...(security.trust.kind === 'pem' ? { ca: security.trust.ca } : {}), ...VERSIONS };
}

/**
 * The dialer's options. Verification is checked by the transport itself on
 * 'secureConnect' (`verified`), before a byte is read or written, rather than
 * by Node's rejectUnauthorized, which destroys the socket with an error that
 * no longer carries the server's certificate: the log names who was refused.
 * Node still runs checkServerIdentity (the IP SAN for an IP, the DNS name
 * otherwise) and reports a mismatch in authorizationError.
 */
export function clientOptions(security: PeerSecurity, host: string, port: number): ConnectionOptions {
  const isIpAddress = /^[\d.]+$/.test(host) || host.includes(':');
  return {
    host,
    port,
    key: security.key,
    cert: security.cert,
    ...(security.trust.kind === 'pem' ? { ca: security.trust.ca } : {}),
    // Node sends no SNI for an IP address; the identity check still uses `host`.
    ...(isIpAddress ? {} : { servername: host }),
    rejectUnauthorized: false,
    ...VERSIONS,
  };
}

/** Why a peer's certificate is not accepted, or undefined when it is (always, in insecure-lab). */
export function verificationFailure(socket: TLSSocket, security: PeerSecurity): string | undefined {
  if (security.trust.kind === 'insecure-lab') return undefined;
  if (socket.authorized) return undefined;
  const error = socket.authorizationError;
  const code = typeof error === 'string' ? error : (error?.message ?? 'no certificate');
  return describeVerifyCode(code);
}

const VERIFY_TEXT: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate (issuer not in the trust bundle)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain, not in the trust bundle',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate, not in the trust bundle',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate does not name the address dialed',
};

function describeVerifyCode(code: string): string {
  const text = VERIFY_TEXT[code];
  return text ? `${code}: ${text}` : code;
}

/** Who a certificate says it is, for log lines: its subject CN and subjectAltName. */
export function certificateSubject(socket: TLSSocket): { subject?: string; subjectAltName?: string } {
  let cert: PeerCertificate | undefined;
  try {
    cert = socket.getPeerCertificate();
  } catch {
    return {};
  }
  if (!cert || Object.keys(cert).length === 0) return { subject: '(no certificate)' };
  const cn = cert.subject?.CN;
  return {
    subject: Array.isArray(cn) ? cn.join(', ') : cn,
    ...(cert.subjectaltname ? { subjectAltName: cert.subjectaltname } : {}),
  };
}

/** Whether two answers of `security()` would make the same TLS context (so the listener's can stay). */
export function sameSecurity(a: PeerSecurity, b: PeerSecurity): boolean {
  if (a.key !== b.key || a.cert !== b.cert || a.trust.kind !== b.trust.kind) return false;
  return a.trust.kind === 'insecure-lab' || a.trust.ca === (b.trust as { ca: string }).ca;
}

import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { verifyChain } from '../../src/pki/chain.js';
import { X509Certificate } from '../../src/pki/x509.js';
import type { PeerSecurity } from './peer-security.js';

/**
 * Whether a link's peer still chains to the trust bundle after the bundle
 * changed (`xmpp cluster trust` replicated while links were up): the TLS
 * handshake checked it against the bundle of its day, so a peer the new
 * bundle no longer trusts would otherwise stay linked until it reconnects.
 * Returns why not, or undefined. The peer's own intermediates help build
 * the chain; a self-signed certificate it sent never becomes a root.
 */
export async function noLongerTrusted(socket: TLSSocket, security: PeerSecurity): Promise<string | undefined> {
  if (security.trust.kind === 'insecure-lab') return undefined;
  const presented = presentedChain(socket.getPeerCertificate(true));
  if (presented.length === 0) return 'the peer presented no certificate';
  const [leaf, ...intermediates] = presented.map((der) => new X509Certificate(der));
  const roots = splitPem(security.trust.ca).map((pem) => new X509Certificate(pem));
  const helpers: X509Certificate[] = [];
  for (const c of intermediates) if (c.subject !== c.issuer) helpers.push(c);
  const result = await verifyChain(leaf!, [...roots, ...helpers]);
  return result.ok ? undefined : `no longer trusted by the cluster's bundle: ${result.reason}`;
}

/** The DER certificates the peer sent, leaf first (Node links the chain through issuerCertificate, ending on a self-reference). */
function presentedChain(cert: DetailedPeerCertificate | Record<string, never>): Buffer[] {
  const out: Buffer[] = [];
  let current = 'raw' in cert ? (cert as DetailedPeerCertificate) : undefined;
  while (current?.raw && out.length < 10) {
    out.push(current.raw);
    const next = current.issuerCertificate;
    if (!next || next === current || next.raw?.equals(current.raw)) break;
    current = next;
  }
  return out;
}

function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

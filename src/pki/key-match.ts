import { createPublicKey, type KeyObject } from 'node:crypto';
import type { X509Certificate } from './x509.js';

/** The certificate's public key as a node:crypto key (for comparison and key details). */
export function certificatePublicKey(certificate: X509Certificate): KeyObject {
  return createPublicKey({ key: Buffer.from(certificate.publicKey.rawData), format: 'der', type: 'spki' });
}

/** A key belongs to a certificate when the certificate carries the key's public half. */
export function keyMatchesCertificate(privateKey: KeyObject, certificate: X509Certificate): boolean {
  return createPublicKey(privateKey).equals(certificatePublicKey(certificate));
}

/** `RSA 2048 bits`, `EC prime256v1`, `ED25519`: what an operator compares with a CA's requirements. */
export function describeKey(key: KeyObject): string {
  const type = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa' || type === 'rsa-pss') return `${type.toUpperCase()} ${details.modulusLength ?? '?'} bits`;
  if (type === 'ec') return `EC ${details.namedCurve ?? '?'}`;
  return type.toUpperCase();
}

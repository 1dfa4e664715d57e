import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The XEP-0114 §3 handshake: the component proves it knows the shared secret
 * by sending the lowercase hex SHA-1 of the stream id followed by the secret.
 */

export function handshakeDigest(streamId: string, secret: string): string {
  return createHash('sha1').update(streamId + secret, 'utf8').digest('hex');
}

/**
 * Compares a received digest with the expected one in constant time. An
 * unknown call bridge is checked against a throwaway secret, so that a wrong
 * name and a wrong secret take the same time and look the same.
 */
export function verifyHandshake(streamId: string, secret: string | undefined, received: string): boolean {
  const expected = Buffer.from(handshakeDigest(streamId, secret ?? randomBytes(16).toString('hex')), 'latin1');
  const got = Buffer.from(received.trim().toLowerCase(), 'latin1');
  if (got.length !== expected.length) return false;
  return timingSafeEqual(got, expected) && secret !== undefined;
}

/** A stream id that cannot be guessed: the handshake digest depends on it. */
export function newStreamId(): string {
  return randomBytes(12).toString('hex');
}

import type { PeerHello } from './transport.js';

/**
 * The version of what members say to each other over a link (frames, Raft
 * messages, control and routing messages). Members of one cluster run
 * releases of the same protocol version; a rolling upgrade within it mixes
 * releases freely. A hello without the field comes from a release that
 * predates it, which speaks version 1. An unknown version is refused at the
 * hello, with a log line, before any frame of it is read as ours.
 */
export const PEER_PROTOCOL_VERSION = 1;

/** The largest hello accepted: it is read before the peer is known, so it is kept small. */
export const MAX_HELLO_BYTES = 4096;

export function encodeHello(hello: PeerHello): Buffer {
  const features = hello.features?.length ? { features: hello.features } : {};
  return Buffer.from(JSON.stringify({ protocol: PEER_PROTOCOL_VERSION, id: hello.id, name: hello.name, endpoint: { host: hello.endpoint.host, port: hello.endpoint.port }, ...features }));
}

/** The peer's hello, or why it is not one (a reason for the log line that closes the link). */
export function parseHello(payload: Buffer): PeerHello | string {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'the hello is not JSON';
  }
  if (typeof value !== 'object' || value === null) return 'the hello is not a JSON object';
  const { protocol, id, name, endpoint, features } = value as Record<string, unknown>;
  if (protocol !== undefined && protocol !== PEER_PROTOCOL_VERSION) {
    return `the peer speaks cluster protocol version ${JSON.stringify(protocol)} and this release speaks ${PEER_PROTOCOL_VERSION}: members must run releases of the same protocol version (README, "Upgrades")`;
  }
  if (typeof id !== 'string' || id.length === 0) return 'the hello has no id';
  if (typeof name !== 'string') return 'the hello has no name';
  if (typeof endpoint !== 'object' || endpoint === null) return 'the hello has no endpoint';
  const { host, port } = endpoint as Record<string, unknown>;
  if (typeof host !== 'string' || host.length === 0) return 'the hello has no endpoint host';
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return 'the hello has no valid endpoint port';
  // Unknown features are ignored: a newer release may list more than we speak.
  if (features !== undefined && !(Array.isArray(features) && features.every((f) => typeof f === 'string'))) return 'the hello has features that are not a list of names';
  return { id, name, endpoint: { host, port }, ...(features === undefined ? {} : { features: features as string[] }) };
}

import type { S2sStreamInfo } from './server-streams.js';

/**
 * The rows behind `xmpp federation connections` and the `Connections` line
 * of `xmpp federation status` (federation.md, "Commands"), before layout.
 * A row is a plain copy of the stream's info, taken now: the streams are
 * live objects (lastActivity moves, a stream may close), and a cluster
 * sends the rows to the node the operator is logged into.
 */

export function connectionRow(stream: S2sStreamInfo): S2sStreamInfo {
  return {
    id: stream.id,
    direction: stream.direction,
    localDomain: stream.localDomain,
    remoteDomain: stream.remoteDomain,
    peerAddress: stream.peerAddress,
    tls: stream.tls,
    auth: stream.auth,
    lastActivity: stream.lastActivity,
  };
}

/** Sorted as the listing shows them: by domain, outgoing before incoming, then by peer address. */
export function sortRows(rows: S2sStreamInfo[]): S2sStreamInfo[] {
  return rows.sort(
    (a, b) =>
      a.remoteDomain.localeCompare(b.remoteDomain) ||
      (a.direction === b.direction ? 0 : a.direction === 'outgoing' ? -1 : 1) ||
      a.peerAddress.localeCompare(b.peerAddress),
  );
}

/** `Connections : 3 (2 incoming, 1 outgoing)`. */
export function connectionCounts(rows: readonly S2sStreamInfo[]): { total: number; incoming: number; outgoing: number } {
  const incoming = rows.filter((r) => r.direction === 'incoming').length;
  return { total: rows.length, incoming, outgoing: rows.length - incoming };
}

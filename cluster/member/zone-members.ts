/**
 * The members the health-aware DNS responder serves (src/dns/zone.ts's
 * ZoneMember), from this node's status of the cluster: every member of the
 * applied membership, `live` as the cluster's failure detector sees it, so
 * that every node leaves out the same members (issue 14: a member that the
 * cluster cannot reach, no contact for more than an election timeout,
 * disappears from the answers, and comes back once it is reachable again).
 *
 * - This node is always live: it answers, so it is up.
 * - The leader judges by its own contact with each member (heartbeats flow
 *   every tick). A follower judges by the leader's cluster-view, which says
 *   how long before it was sent the leader last heard from each member, and
 *   by its own contact with the leader itself; the view must be fresh (the
 *   current leader's, received within two view intervals).
 * - Without a fresh view (no leader, an election under way) a follower can
 *   only go by its own links: a member with a link up is live.
 * - A learner is listed but never live: it is still catching up and does not
 *   serve with the cluster's configuration yet, so call bridges are not sent
 *   there before it is a voter.
 * - A member whose component endpoint is not `<IP literal>:<port>` cannot get
 *   an A/AAAA record, so it is listed but never live.
 */
import { isIP } from 'node:net';
import type { ZoneMember } from '../../src/dns/zone.js';
import { DEFAULT_S2S_PORT } from '../state/commands.js';
import type { MemberStatus } from './member-status.js';
import { memberTimings, type RaftMemberOptions } from './raft-member-options.js';

/** `options`: the member loop's tick, election and view settings, which the failure detector's times follow from. */
export function zoneMembers(status: MemberStatus, options: Pick<RaftMemberOptions, 'tickMs' | 'electionTicks' | 'viewMs'> = {}): ZoneMember[] {
  const t = memberTimings(options);
  const freshView = status.viewAgeMs !== null && status.viewAgeMs <= 2 * t.viewMs;
  return status.members.map((m) => {
    const endpoint = splitEndpoint(m.component);
    let live: boolean;
    if (m.self) live = true;
    else if (freshView) live = m.contactAgoMs !== null && m.contactAgoMs <= t.electionTimeoutMs;
    else live = m.linkUp;
    if (m.role === 'learner' || !endpoint) live = false;
    return {
      id: m.id,
      name: m.name,
      address: endpoint?.address ?? '',
      componentPort: endpoint?.port ?? 0,
      serverPort: DEFAULT_S2S_PORT,
      live,
    };
  });
}

/** `10.0.0.1:5222` or `[fd00::1]:5222` into an IP literal and a port; undefined if it is neither. */
export function splitEndpoint(endpoint: string): { address: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(endpoint);
  if (!m) return undefined;
  const address = (m[1] ?? m[2])!;
  const port = Number(m[3]);
  if (isIP(address) === 0 || port < 1 || port > 65535) return undefined;
  return { address: address.toLowerCase(), port };
}

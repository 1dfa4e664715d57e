/**
 * The members `xmpp dns` knows of on a node, and which one an operator names
 * in `xmpp dns record <peer>`. A cluster member takes them from the cluster
 * (ClusterControl.zoneMembers); a standalone node is the only member of its
 * own zone.
 */
import { isIP } from 'node:net';
import { OperatorError } from '../base/operator-error.js';
import type { ZoneMember } from '../dns/zone.js';
import { XMPP_SERVER_PORT } from './dns-settings.js';

/** A standalone node: live when its address can be an A/AAAA record (an IP literal). */
export function standaloneZoneMember(self: { id: string; name: string; address: string; componentPort: number }): ZoneMember {
  return { ...self, serverPort: XMPP_SERVER_PORT, live: isIP(self.address) !== 0 };
}

/** `10.0.0.1:5222`, `[fd00::1]:5222`: a member's component endpoint, as `xmpp cluster status` lists it. */
export function memberEndpoint(m: ZoneMember): string {
  return isIP(m.address) === 6 ? `[${m.address}]:${m.componentPort}` : `${m.address}:${m.componentPort}`;
}

/**
 * The member `peer` names, as `xmpp cluster remove` takes it: its endpoint
 * as status lists it, or its node name (either case); also its id, or on a
 * standalone node its bare address. Refuses anyone else with one Error line.
 */
export function resolveDnsMember(members: readonly ZoneMember[], peer: string, clustered: boolean): ZoneMember {
  const key = peer.toLowerCase();
  const found =
    members.find((m) => memberEndpoint(m).toLowerCase() === key) ??
    members.find((m) => m.name.toLowerCase() === key) ??
    members.find((m) => m.id === peer) ??
    (clustered ? undefined : members.find((m) => m.address.toLowerCase() === key));
  if (found) return found;
  if (clustered) throw new OperatorError(`no cluster member ${peer}; name it as xmpp cluster status lists it, or by its node name`);
  const self = members[0];
  throw new OperatorError(`${peer} is not this node; a standalone node sets only its own record (xmpp dns record ${self?.name ?? '<node name>'} <target-fqdn>)`);
}

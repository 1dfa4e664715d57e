/**
 * What the health-aware responder serves for one XMPP domain, as plain data:
 * the SRV records call bridges (`_xmpp-component._tcp`) and federating servers
 * (`_xmpp-server._tcp`) look up, and the addresses of their targets. The
 * responder answers from a DnsZone; `buildZone` makes one from the cluster's
 * live members and the operator's `xmpp dns` settings. Pure: no I/O.
 */

/** One SRV record (RFC 2782). `target` is a host name without the trailing dot. */
export interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

/** The A/AAAA records of one SRV target: IPv4 and IPv6 literals. */
export interface HostRecord {
  readonly name: string;
  readonly addresses: readonly string[];
}

export interface DnsZone {
  /** Lowercase, no trailing dot: `example.test`. */
  readonly domain: string;
  /** Seconds, for every record served. */
  readonly ttl: number;
  /** `_xmpp-component._tcp.<domain>`, one per live member. */
  readonly component: readonly SrvRecord[];
  /** `_xmpp-server._tcp.<domain>`, one per live member. */
  readonly server: readonly SrvRecord[];
  /** Every SRV target's addresses (a target named twice is listed once). */
  readonly hosts: readonly HostRecord[];
}

/** `xmpp dns record <peer> <target-fqdn> [<priority> <weight>]`, by member id. */
export interface DnsRecordSetting {
  readonly target: string;
  readonly priority: number;
  readonly weight: number;
}

/** The cluster-wide part of `xmpp dns` (replicated in a cluster). */
export interface DnsSettings {
  readonly enabled: boolean;
  readonly ttl: number;
  /** Keyed by member id (a standalone node: its own id). */
  readonly records: Readonly<Record<string, DnsRecordSetting>>;
}

/** The SRV service names (RFC 2782 `_service._proto`): call bridges (XEP-0114) and federation (RFC 6120 §3.2.1). */
export const COMPONENT_SERVICE = '_xmpp-component._tcp';
export const SERVER_SERVICE = '_xmpp-server._tcp';

export const DEFAULT_DNS_TTL = 5;
export const DEFAULT_DNS_PORT = 53;
export const DEFAULT_DNS_SETTINGS: DnsSettings = { enabled: false, ttl: DEFAULT_DNS_TTL, records: {} };

/** A member as the responder needs it; `live` is the cluster's health view. */
export interface ZoneMember {
  readonly id: string;
  /** Node name (`cb1`); the default target is `<name>.<domain>`. */
  readonly name: string;
  /** The address it serves call bridges on (an IP literal). */
  readonly address: string;
  /** Its first component port (5222). */
  readonly componentPort: number;
  /** Its federation port (5269). */
  readonly serverPort: number;
  readonly live: boolean;
}

/**
 * The zone for `domain` right now: one SRV record of each kind per live
 * member (a member the cluster cannot reach is left out, so call bridges stop
 * being sent to it), ordered by member id so every node answers alike.
 */
export function buildZone(domain: string, settings: DnsSettings, members: readonly ZoneMember[]): DnsZone {
  const zoneDomain = domain.toLowerCase().replace(/\.$/, '');
  const live = members.filter((m) => m.live).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const component: SrvRecord[] = [];
  const server: SrvRecord[] = [];
  const hosts = new Map<string, Set<string>>();
  for (const m of live) {
    const record = settings.records[m.id];
    const target = (record?.target ?? `${m.name}.${zoneDomain}`).toLowerCase().replace(/\.$/, '');
    const priority = record?.priority ?? 0;
    const weight = record?.weight ?? 0;
    component.push({ priority, weight, port: m.componentPort, target });
    server.push({ priority, weight, port: m.serverPort, target });
    const addresses = hosts.get(target) ?? new Set<string>();
    addresses.add(m.address);
    hosts.set(target, addresses);
  }
  return {
    domain: zoneDomain,
    ttl: settings.ttl,
    component,
    server,
    hosts: [...hosts].map(([name, addresses]) => ({ name, addresses: [...addresses] })),
  };
}

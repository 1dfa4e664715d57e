import { buildZone, COMPONENT_SERVICE, DEFAULT_DNS_TTL, SERVER_SERVICE, type DnsRecordSetting, type DnsZone, type ZoneMember } from '../../src/dns/zone.js';

/**
 * One zone, two servers: the records our responder serves (buildZone, the
 * node's own data model) written out as a BIND master file (RFC 1035 §5),
 * so BIND and the responder answer the same questions with the same data,
 * and a static site's zone is the responder's view with the operator's
 * priorities. Also the query list dnsperf replays against both.
 */

export const BENCH_DOMAIN = 'example.test';
/** BIND's own address in the benchmark's range. */
export const BIND_ADDRESS = '127.0.0.21';

export interface BenchMember {
  readonly name: string;
  readonly address: string;
  readonly componentPort: number;
}

/**
 * The zone for `members`, each live, the first of `first` (by name) at
 * priority 0 and the others at 10, so an RFC 2782 client tries it first
 * (what `xmpp dns record <peer> <target> 0|10 0` does on the cluster).
 */
export function benchZone(members: readonly BenchMember[], options: { first?: string; ttl?: number } = {}): DnsZone {
  const records: Record<string, DnsRecordSetting> = {};
  if (options.first) {
    for (const m of members) records[m.name] = { target: `${m.name}.${BENCH_DOMAIN}`, priority: m.name === options.first ? 0 : 10, weight: 0 };
  }
  const zoneMembers: ZoneMember[] = members.map((m) => ({ id: m.name, name: m.name, address: m.address, componentPort: m.componentPort, serverPort: 5269, live: true }));
  return buildZone(BENCH_DOMAIN, { enabled: true, ttl: options.ttl ?? DEFAULT_DNS_TTL, records }, zoneMembers);
}

/** The zone as BIND loads it: SOA and NS (BIND needs both), then the same SRV and address records. */
export function bindZoneText(zone: DnsZone, serial: number): string {
  const srv = (service: string) => (r: DnsZone['component'][number]) => `${service} IN SRV ${r.priority} ${r.weight} ${r.port} ${r.target}.`;
  return [
    `$ORIGIN ${zone.domain}.`,
    `$TTL ${zone.ttl}`,
    `@ IN SOA ns1.${zone.domain}. hostmaster.${zone.domain}. ${serial} 3600 600 86400 ${zone.ttl}`,
    `  IN NS ns1.${zone.domain}.`,
    `ns1 IN A ${BIND_ADDRESS}`,
    ...zone.component.map(srv(COMPONENT_SERVICE)),
    ...zone.server.map(srv(SERVER_SERVICE)),
    ...zone.hosts.flatMap((h) => h.addresses.map((a) => `${h.name}. IN ${a.includes(':') ? 'AAAA' : 'A'} ${a}`)),
    '',
  ].join('\n');
}

/** dnsperf's input (`name type` a line): the call bridges' SRV question, federation's, and each target's A. */
export function queryLines(zone: DnsZone): string[] {
  return [`${COMPONENT_SERVICE}.${zone.domain} SRV`, `${SERVER_SERVICE}.${zone.domain} SRV`, ...zone.hosts.map((h) => `${h.name} A`)];
}

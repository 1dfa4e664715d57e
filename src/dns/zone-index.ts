import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer, SoaAnswer } from 'dns-packet';
import { asciiLowercase } from './dns-query.js';
import { COMPONENT_SERVICE, SERVER_SERVICE, type DnsZone } from './zone.js';

/**
 * A DnsZone as the answer function looks names up in it: the record sets
 * (RFC 2181 §5) by owner name and type, and every name that exists. Built
 * once per zone object and remembered, so a query costs a map lookup.
 */

export const TYPE = { A: 1, NS: 2, SOA: 6, HINFO: 13, AAAA: 28, SRV: 33, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 } as const;


/**
 * SOA timers (RFC 1035 §3.3.13). Refresh, retry and expire are for
 * secondaries, and we have none (zone transfers are refused), so they only
 * need to be sane; MINIMUM is the negative-caching TTL (RFC 2308 §4) and is
 * the zone TTL, so a member that comes back is not hidden behind a cached
 * NXDOMAIN or NODATA for longer than a positive answer would be.
 */
const SOA_REFRESH = 300;
const SOA_RETRY = 60;
const SOA_EXPIRE = 86400;

export interface ZoneIndex {
  readonly domain: string;
  readonly ttl: number;
  /** The apex SOA, owner `<domain>`; also the authority of negative answers (RFC 2308 §3). */
  readonly soa: SoaAnswer;
  /** Record sets by lowercase owner, then by type number. */
  readonly rrsets: ReadonlyMap<string, ReadonlyMap<number, readonly Answer[]>>;
  /** Owners and their ancestors within the zone: empty non-terminals exist too (RFC 8020 §2). */
  readonly names: ReadonlySet<string>;
}

const indexes = new WeakMap<DnsZone, ZoneIndex>();

export function zoneIndex(zone: DnsZone): ZoneIndex {
  let index = indexes.get(zone);
  if (!index) {
    index = buildIndex(zone);
    indexes.set(zone, index);
  }
  return index;
}

/** Whether `name` (lowercase) is the apex or below it. */
export function inZone(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}

function buildIndex(zone: DnsZone): ZoneIndex {
  const domain = asciiLowercase(zone.domain).replace(/\.$/, '');
  const ttl = zone.ttl;
  const rrsets = new Map<string, Map<number, Answer[]>>();
  const add = (owner: string, type: number, record: Answer | null) => {
    const byType = rrsets.get(owner) ?? new Map<number, Answer[]>();
    rrsets.set(owner, byType);
    const set = byType.get(type) ?? [];
    byType.set(type, set);
    if (record) set.push(record);
  };

  const soa: SoaAnswer = {
    name: domain,
    type: 'SOA',
    class: 'IN',
    ttl,
    data: {
      // Not given an address: MNAME matters to secondaries (NOTIFY, RFC 1996)
      // and dynamic update (RFC 2136), neither of which we offer; a fixed name
      // keeps the SOA from changing whenever the first member does.
      mname: `ns.${domain}`,
      rname: `hostmaster.${domain}`,
      serial: serialOf(zone),
      refresh: SOA_REFRESH,
      retry: SOA_RETRY,
      expire: SOA_EXPIRE,
      minimum: ttl,
    },
  };
  add(domain, TYPE.SOA, soa);

  // The two service names always exist, even with no live member: the
  // service is defined, it merely has no target right now, so the answer is
  // NODATA (RFC 2308 §2.2) rather than an NXDOMAIN that would deny every
  // type at and below the name (RFC 8020). Not RFC 2782's target ".", which
  // says the service is decidedly not offered; this is transient.
  const services = [
    [COMPONENT_SERVICE, zone.component],
    [SERVER_SERVICE, zone.server],
  ] as const;
  for (const [service, records] of services) {
    const owner = `${service}.${domain}`;
    add(owner, TYPE.SRV, null);
    for (const r of records) {
      const target = asciiLowercase(r.target).replace(/\.$/, '');
      add(owner, TYPE.SRV, { name: owner, type: 'SRV', class: 'IN', ttl, data: { priority: r.priority, weight: r.weight, port: r.port, target } });
    }
  }

  // Addresses of targets under the domain only: for names outside it we are
  // not authoritative, and a resolver would discard them as out of
  // bailiwick anyway (RFC 2181 §5.4.1).
  for (const host of zone.hosts) {
    const owner = asciiLowercase(host.name).replace(/\.$/, '');
    if (!inZone(owner, domain)) continue;
    for (const address of host.addresses) {
      if (isIPv4(address)) add(owner, TYPE.A, { name: owner, type: 'A', class: 'IN', ttl, data: address });
      else if (isIPv6(address)) add(owner, TYPE.AAAA, { name: owner, type: 'AAAA', class: 'IN', ttl, data: address });
    }
    if (!rrsets.has(owner)) add(owner, TYPE.A, null);
  }

  // Drop empty sets (a service with no member, a host with no usable
  // address): the name stays, the type answers NODATA.
  const names = new Set<string>();
  for (const [owner, byType] of rrsets) {
    for (const [type, set] of byType) if (set.length === 0) byType.delete(type);
    for (let name = owner; inZone(name, domain); name = name.slice(name.indexOf('.') + 1)) {
      names.add(name);
      if (name === domain) break;
    }
  }
  return { domain, ttl, soa, rrsets, names };
}

/**
 * A serial that changes whenever what we serve changes. There are no
 * secondaries to compare serials by RFC 1982 arithmetic, so it need not
 * grow; derived from the content, it is the same on every node that serves
 * the same zone (they all answer alike).
 */
function serialOf(zone: DnsZone): number {
  const content = JSON.stringify([zone.domain, zone.ttl, zone.component, zone.server, zone.hosts]);
  return createHash('sha256').update(content).digest().readUInt32BE(0);
}

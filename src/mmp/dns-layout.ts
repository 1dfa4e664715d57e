import { buildZone, type DnsSettings, type DnsZone, type ZoneMember } from '../dns/zone.js';
import { memberEndpoint } from '../node/dns-members.js';
import { formatDnsEndpoint, type DnsEndpoint } from '../node/dns-settings.js';
import { labelled, orNone, table } from './layout.js';

/**
 * `xmpp dns` (ours; reference: commands.md, "Health-aware DNS"): the
 * settings as a labelled block, one row per member with the SRV record it
 * gets, and the records the responder would serve right now in zone-file
 * form (what `dig` shows), so an operator can compare the two directly.
 */

export interface DnsStatusView {
  readonly settings: DnsSettings;
  readonly domain: string | null;
  /** This node's own `xmpp dns listen`. */
  readonly listen: readonly DnsEndpoint[];
  readonly members: readonly ZoneMember[];
}

export interface DnsMemberRow {
  readonly id: string;
  readonly name: string;
  readonly endpoint: string;
  readonly target: string;
  readonly priority: number;
  readonly weight: number;
  /** No `xmpp dns record` for it: `<name>.<domain>`, 0, 0. */
  readonly default: boolean;
  readonly live: boolean;
}

const LABEL_WIDTH = 'Listen addresses'.length;
export const NO_DOMAIN = 'No records: no domain set (xmpp domain <domain>)';
export const RECORDS_HEADING = 'Records it would serve now:';

export function memberRows(view: DnsStatusView): DnsMemberRow[] {
  const rows = view.members.map((m): DnsMemberRow => {
    const record = view.settings.records[m.id];
    const target = record?.target ?? `${m.name}.${view.domain ?? '<domain>'}`;
    return { id: m.id, name: m.name, endpoint: memberEndpoint(m), target, priority: record?.priority ?? 0, weight: record?.weight ?? 0, default: !record, live: m.live };
  });
  return rows.sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : a.id < b.id ? -1 : 1));
}

export function zoneOf(view: DnsStatusView): DnsZone | null {
  return view.domain ? buildZone(view.domain, view.settings, view.members) : null;
}

export function formatDns(view: DnsStatusView): string {
  const head = labelled(
    [
      ['Enabled', String(view.settings.enabled)],
      ['Domain', orNone(view.domain)],
      ['Listen addresses', view.listen.length ? view.listen.map(formatDnsEndpoint).join(' ') : '<none>'],
      ['TTL', String(view.settings.ttl)],
    ],
    LABEL_WIDTH,
  );
  const rows = [['Peer', 'Node', 'Target', 'Priority', 'Weight', 'Live']];
  for (const r of memberRows(view)) rows.push([r.endpoint, r.name, r.default ? `${r.target} (default)` : r.target, String(r.priority), String(r.weight), r.live ? 'yes' : 'no']);
  const zone = zoneOf(view);
  const served = zone ? [RECORDS_HEADING, ...zoneFileLines(zone)].join('\n') : NO_DOMAIN;
  return `${head}\n\n${table(rows)}\n\n${served}`;
}

/** The zone as master-file lines (RFC 1035 §5.1), names absolute: SRV for call bridges, then federation, then addresses. */
export function zoneFileLines(zone: DnsZone): string[] {
  const srv = (service: string) => (r: DnsZone['component'][number]) => `${service}.${zone.domain}. ${zone.ttl} IN SRV ${r.priority} ${r.weight} ${r.port} ${r.target}.`;
  return [
    ...zone.component.map(srv('_xmpp-component._tcp')),
    ...zone.server.map(srv('_xmpp-server._tcp')),
    ...zone.hosts.flatMap((h) => h.addresses.map((a) => `${h.name}. ${zone.ttl} IN ${a.includes(':') ? 'AAAA' : 'A'} ${a}`)),
  ];
}

/** `--json` (keys documented in README). */
export function dnsJson(view: DnsStatusView): unknown {
  return {
    enabled: view.settings.enabled,
    domain: view.domain,
    listen: view.listen.map(formatDnsEndpoint),
    ttl: view.settings.ttl,
    members: memberRows(view),
    zone: zoneOf(view),
  };
}

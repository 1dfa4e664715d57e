/**
 * What a node brings into a cluster it initializes, and what it keeps when
 * it leaves (or is removed): the domain, call-bridge registry, trust, the
 * cluster-wide `xmpp dns` settings and the federation settings (the dialback
 * secret with them, so a node that leaves still checks keys it issued). Seeding and copying both carry only this
 * node's own DNS record: records are by member id, and the other members'
 * would mean nothing to a one-member cluster or a standalone node.
 */
import type { DnsSettings } from '../../src/dns/zone.js';
import type { NodeConfiguration } from '../../src/node/configuration.js';
import type { FederationConfig } from '../../src/s2s/server-streams.js';
import type { ClusterState } from '../state/cluster-state.js';
import { addCallbridge, batch, setDnsEnabled, setDnsRecord, setDnsTtl, setDomain, type ClusterCommand } from '../state/commands.js';
import { federationDiff, federationSeed } from './federation-commands.js';
import { dnsSettings, trustCommand, trustSetting } from './replicated-configuration.js';

export interface StandaloneCopy {
  readonly domain: string | null;
  readonly callbridges: readonly { readonly name: string; readonly secret: string }[];
  readonly trust: ReturnType<typeof trustSetting>;
  readonly dns: DnsSettings;
  readonly federation: FederationConfig;
}

/** `xmpp cluster initialize`: one batch, so the new cluster holds all of this node's configuration or none. */
export function seedCommand(local: NodeConfiguration, selfId: string): ClusterCommand {
  const seed: ClusterCommand[] = [];
  const domain = local.domain();
  if (domain !== null) seed.push(setDomain(domain));
  for (const cb of local.callbridges()) seed.push(addCallbridge(cb.name, cb.secret));
  seed.push(trustCommand(local.trust()));
  const dns = local.dns();
  seed.push(setDnsEnabled(dns.enabled), setDnsTtl(dns.ttl));
  const own = dns.records[selfId];
  if (own) seed.push(setDnsRecord(selfId, own.target, own.priority, own.weight));
  seed.push(...federationSeed(local.federation()));
  return batch(seed);
}

/** `dns`: the settings as of this node's last state as a member (ReplicatedConfiguration.dnsAsMember); the state's by default. */
export function copyOf(state: ClusterState, selfId: string, dns: DnsSettings = dnsSettings(state.dns())): StandaloneCopy {
  const own = dns.records[selfId];
  return { domain: state.domain(), callbridges: state.callbridges(), trust: trustSetting(state.trust()), dns: { ...dns, records: own ? { [selfId]: own } : {} }, federation: state.federation() };
}

/** Makes `local` hold `copy`: call bridges missing or with another secret are replaced, extra ones removed. */
export async function writeCopy(local: NodeConfiguration, copy: StandaloneCopy): Promise<void> {
  if (copy.domain !== null && local.domain() !== copy.domain) await local.setDomain(copy.domain);
  const wanted = new Map(copy.callbridges.map((c) => [c.name.toLowerCase(), c]));
  for (const cb of local.callbridges()) {
    const w = wanted.get(cb.name.toLowerCase());
    if (!w || w.secret !== cb.secret || w.name !== cb.name) await local.removeCallbridge(cb.name);
  }
  for (const cb of copy.callbridges) if (!local.callbridge(cb.name)) await local.addCallbridge(cb.name, cb.secret);
  if (JSON.stringify(local.trust()) !== JSON.stringify(copy.trust)) await local.setTrust(copy.trust);
  const dns = local.dns();
  if (dns.enabled !== copy.dns.enabled) await local.setDnsEnabled(copy.dns.enabled);
  if (dns.ttl !== copy.dns.ttl) await local.setDnsTtl(copy.dns.ttl);
  for (const id of Object.keys(dns.records)) if (!copy.dns.records[id]) await local.setDnsRecord(id, null);
  for (const [id, record] of Object.entries(copy.dns.records)) await local.setDnsRecord(id, record);
  for (const change of federationDiff(local.federation(), copy.federation)) await local.changeFederation(change);
}

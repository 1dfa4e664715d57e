/**
 * A node's local configuration held in memory, for the cluster service
 * tests: the NodeConfiguration contract with the local registry's checks and
 * words (the file-backed LocalConfiguration lands with the node wiring; this
 * stands in for the data directory, which these tests do not exercise).
 */
import { OperatorError } from '../../../src/base/operator-error.js';
import { checkNewCallbridge, type Callbridge } from '../../../src/node/callbridge-registry.js';
import type { ConfigurationChange, NodeConfiguration, TrustSetting } from '../../../src/node/configuration.js';
import { DEFAULT_DNS_SETTINGS, type DnsRecordSetting, type DnsSettings } from '../../../src/dns/zone.js';
import { checkDnsTtl, normalizeDnsRecord } from '../../../src/node/dns-settings.js';
import { applyFederationChange, DEFAULT_FEDERATION, type FederationChange } from '../../../src/node/federation-settings.js';
import { newDialbackSecret } from '../../../src/s2s/dialback-key.js';
import type { FederationConfig } from '../../../src/s2s/server-streams.js';

export class MemoryConfiguration implements NodeConfiguration {
  readonly kind = 'local' as const;
  private d: string | null;
  private readonly cbs = new Map<string, Callbridge>();
  private t: TrustSetting;
  private d_: DnsSettings;
  private f: FederationConfig;
  private readonly listeners = new Set<(c: ConfigurationChange) => void>();

  constructor(init: { domain?: string | null; callbridges?: Callbridge[]; trust?: TrustSetting; dns?: DnsSettings; federation?: FederationConfig } = {}) {
    this.d = init.domain ?? null;
    this.f = init.federation ?? DEFAULT_FEDERATION;
    this.d_ = init.dns ?? DEFAULT_DNS_SETTINGS;
    for (const c of init.callbridges ?? []) this.cbs.set(c.name.toLowerCase(), c);
    this.t = init.trust ?? { kind: 'none' };
  }

  domain(): string | null {
    return this.d;
  }
  callbridge(name: string): Callbridge | undefined {
    return this.cbs.get(name.toLowerCase());
  }
  callbridges(): Callbridge[] {
    return [...this.cbs.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }
  async readCallbridges(): Promise<{ callbridges: Callbridge[]; stale: boolean }> {
    return { callbridges: this.callbridges(), stale: false };
  }
  trust(): TrustSetting {
    return this.t;
  }
  async setDomain(domain: string): Promise<void> {
    this.d = domain;
    this.emit({ type: 'domain', domain });
  }
  async addCallbridge(name: string, secret: string): Promise<void> {
    checkNewCallbridge({ list: () => this.callbridges(), get: (n) => this.callbridge(n), add: async () => undefined, remove: async () => undefined, clear: async () => undefined }, name, secret);
    this.cbs.set(name.toLowerCase(), { name, secret });
    this.emit({ type: 'callbridge-added', name });
  }
  async removeCallbridge(name: string): Promise<Callbridge> {
    const c = this.callbridge(name);
    if (!c) throw new OperatorError(`no callbridge named ${name}`);
    this.cbs.delete(name.toLowerCase());
    this.emit({ type: 'callbridge-removed', name: c.name });
    return c;
  }
  async setTrust(trust: TrustSetting): Promise<void> {
    this.t = trust;
    this.emit({ type: 'trust', trust });
  }
  dns(): DnsSettings {
    return this.d_;
  }
  async setDnsEnabled(enabled: boolean): Promise<void> {
    this.setDns({ ...this.d_, enabled });
  }
  async setDnsTtl(seconds: number): Promise<void> {
    checkDnsTtl(seconds);
    this.setDns({ ...this.d_, ttl: seconds });
  }
  async setDnsRecord(memberId: string, setting: DnsRecordSetting | null): Promise<void> {
    const { [memberId]: _old, ...rest } = this.d_.records;
    this.setDns({ ...this.d_, records: setting ? { ...rest, [memberId]: normalizeDnsRecord(setting) } : rest });
  }
  private setDns(dns: DnsSettings): void {
    this.d_ = dns;
    this.emit({ type: 'dns' });
  }
  federation(): FederationConfig {
    return this.f;
  }
  async changeFederation(change: FederationChange): Promise<void> {
    this.f = applyFederationChange(this.f, change, newDialbackSecret).next;
    this.emit({ type: 'federation' });
  }
  onChange(listener: (change: ConfigurationChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  private emit(c: ConfigurationChange): void {
    for (const l of this.listeners) l(c);
  }
}

import { OperatorError } from '../base/operator-error.js';
import { domainNameProblem } from '../xmpp/jid.js';
import type { Callbridge, FileCallbridgeRegistry } from './callbridge-registry.js';
import type { ConfigurationChange, NodeConfiguration, TrustSetting } from './configuration.js';
import type { DnsRecordSetting, DnsSettings } from '../dns/zone.js';
import { checkDnsTtl, normalizeDnsRecord } from './dns-settings.js';
import type { FederationConfig } from '../s2s/server-streams.js';
import { newDialbackSecret } from '../s2s/dialback-key.js';
import { applyFederationChange, type FederationChange } from './federation-settings.js';
import type { NodeSettings } from './settings.js';

/**
 * A standalone node's configuration: the domain, trust, dns and federation settings in settings.json,
 * the call bridges in callbridges.json. Its callers (XmppNode) run one change
 * at a time, so each builds on what the previous one left.
 */
export class LocalConfiguration implements NodeConfiguration {
  readonly kind = 'local';
  private readonly listeners = new Set<(change: ConfigurationChange) => void>();

  constructor(
    private readonly registry: FileCallbridgeRegistry,
    private readonly settings: () => NodeSettings,
    private readonly saveSettings: (next: NodeSettings) => Promise<void>,
  ) {}

  domain(): string | null {
    return this.settings().domain;
  }

  callbridge(name: string): Callbridge | undefined {
    return this.registry.get(name);
  }

  callbridges(): Callbridge[] {
    return this.registry.list();
  }

  async readCallbridges(): Promise<{ callbridges: Callbridge[]; stale: boolean }> {
    return { callbridges: this.registry.list(), stale: false };
  }

  trust(): TrustSetting {
    return this.settings().trust;
  }

  async setDomain(domain: string): Promise<void> {
    const problem = domainNameProblem(domain);
    if (problem) throw new OperatorError(`invalid domain '${domain}': ${problem}`);
    const next = domain.toLowerCase();
    if (next === this.settings().domain) return;
    await this.saveSettings({ ...this.settings(), domain: next });
    this.emit({ type: 'domain', domain: next });
  }

  async addCallbridge(name: string, secret: string): Promise<void> {
    await this.registry.add(name, secret);
    this.emit({ type: 'callbridge-added', name });
  }

  async removeCallbridge(name: string): Promise<Callbridge> {
    const existing = this.registry.get(name);
    if (!existing) throw new OperatorError(`no callbridge named ${name}`);
    await this.registry.remove(name);
    this.emit({ type: 'callbridge-removed', name: existing.name });
    return existing;
  }

  async setTrust(trust: TrustSetting): Promise<void> {
    await this.saveSettings({ ...this.settings(), trust });
    this.emit({ type: 'trust', trust });
  }

  dns(): DnsSettings {
    return this.settings().dns;
  }

  async setDnsEnabled(enabled: boolean): Promise<void> {
    await this.saveDns({ ...this.dns(), enabled });
  }

  async setDnsTtl(seconds: number): Promise<void> {
    checkDnsTtl(seconds);
    await this.saveDns({ ...this.dns(), ttl: seconds });
  }

  async setDnsRecord(memberId: string, setting: DnsRecordSetting | null): Promise<void> {
    const { [memberId]: _old, ...rest } = this.dns().records;
    await this.saveDns({ ...this.dns(), records: setting ? { ...rest, [memberId]: normalizeDnsRecord(setting) } : rest });
  }

  private async saveDns(dns: DnsSettings): Promise<void> {
    if (JSON.stringify(dns) === JSON.stringify(this.dns())) return;
    await this.saveSettings({ ...this.settings(), dns });
    this.emit({ type: 'dns' });
  }

  federation(): FederationConfig {
    return this.settings().federation;
  }

  async changeFederation(change: FederationChange): Promise<void> {
    const { next } = applyFederationChange(this.federation(), change, newDialbackSecret);
    if (JSON.stringify(next) === JSON.stringify(this.federation())) return;
    await this.saveSettings({ ...this.settings(), federation: next });
    this.emit({ type: 'federation' });
  }

  /** `xmpp reset` and `xmpp cluster leave`: replaces the whole configuration at once. */
  async replaceAll(domain: string | null, callbridges: readonly Callbridge[], trust: TrustSetting): Promise<void> {
    await this.registry.clear();
    for (const c of callbridges) await this.registry.add(c.name, c.secret);
    await this.saveSettings({ ...this.settings(), domain, trust });
  }

  onChange(listener: (change: ConfigurationChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: ConfigurationChange): void {
    for (const l of this.listeners) l(change);
  }
}

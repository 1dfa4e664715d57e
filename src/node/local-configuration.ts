import { OperatorError } from '../base/operator-error.js';
import { domainNameProblem } from '../xmpp/jid.js';
import type { Callbridge, FileCallbridgeRegistry } from './callbridge-registry.js';
import type { ConfigurationChange, NodeConfiguration, TrustSetting } from './configuration.js';
import type { NodeSettings } from './settings.js';

/**
 * A standalone node's configuration: the domain and trust in settings.json,
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

/**
 * The node's configuration while it is a cluster member: read from the
 * replicated state this node has applied, changed through the leader and the
 * Raft log (a follower's proposal is forwarded by the core). Changes are
 * checked first with the same rules and words as the local registry, so an
 * operator sees the same `Error:` lines on a standalone node and in a
 * cluster. `onChange` fires from applied entries, whoever proposed them: a
 * call bridge deleted on another node ends its session here too.
 */
import { OperatorError } from '../../src/base/operator-error.js';
import { callbridgeNameProblem, secretProblem, type Callbridge } from '../../src/node/callbridge-registry.js';
import type { ConfigurationChange, NodeConfiguration, TrustSetting } from '../../src/node/configuration.js';
import type { DnsRecordSetting, DnsSettings } from '../../src/dns/zone.js';
import { checkDnsTtl, normalizeDnsRecord } from '../../src/node/dns-settings.js';
import { applyFederationChange, type FederationChange } from '../../src/node/federation-settings.js';
import { newDialbackSecret } from '../../src/s2s/dialback-key.js';
import type { FederationConfig } from '../../src/s2s/server-streams.js';
import { federationCommands } from './federation-commands.js';
import type { DnsView } from '../state/cluster-state.js';
import type { ClusterCommand, Trust } from '../state/commands.js';
import { addCallbridge, clearDnsRecord, clearTrust, deleteCallbridge, setDnsEnabled, setDnsRecord, setDnsTtl, setDomain, setInsecureLabTrust, setTrustBundle } from '../state/commands.js';
import { InvalidCommandError } from '../state/errors.js';
import type { RaftMember } from './raft-member.js';

export interface ReplicatedConfigurationOptions {
  /** How long a change may take to be committed and applied here. Default 10 s. */
  readonly proposeTimeoutMs?: number;
  /** How long the ReadIndex barrier of `readCallbridges` may take before it answers stale. Default 2 s. */
  readonly readTimeoutMs?: number;
}

interface Seen {
  domain: string | null;
  callbridges: Map<string, string>;
  trust: string;
  dns: string;
  federation: string;
}

export class ReplicatedConfiguration implements NodeConfiguration {
  readonly kind = 'replicated' as const;
  private readonly listeners = new Set<(change: ConfigurationChange) => void>();
  private readonly proposeTimeoutMs: number;
  private readonly readTimeoutMs: number;
  private seen: Seen;
  private asMember: DnsSettings;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly member: RaftMember,
    options: ReplicatedConfigurationOptions = {},
  ) {
    this.proposeTimeoutMs = options.proposeTimeoutMs ?? 10_000;
    this.readTimeoutMs = options.readTimeoutMs ?? 2_000;
    this.seen = this.snapshot();
    this.asMember = this.dns();
    this.unsubscribe = member.on('state', () => this.compare());
  }

  domain(): string | null {
    return this.member.state.domain();
  }

  callbridge(name: string): Callbridge | undefined {
    const key = name.toLowerCase();
    return this.callbridges().find((c) => c.name.toLowerCase() === key);
  }

  callbridges(): Callbridge[] {
    return this.member.state.callbridges();
  }

  async readCallbridges(): Promise<{ callbridges: Callbridge[]; stale: boolean }> {
    try {
      await this.member.readIndex(this.readTimeoutMs);
      return { callbridges: this.callbridges(), stale: false };
    } catch {
      // No quorum: what this node knows, labelled so (commands.md: reads say they may be stale).
      return { callbridges: this.callbridges(), stale: true };
    }
  }

  trust(): TrustSetting {
    return trustSetting(this.member.state.trust());
  }

  async setDomain(domain: string): Promise<void> {
    await this.propose(() => setDomain(domain));
  }

  async addCallbridge(name: string, secret: string): Promise<void> {
    const nameProblem = callbridgeNameProblem(name);
    if (nameProblem) throw new OperatorError(nameProblem);
    const problem = secretProblem(secret);
    if (problem) throw new OperatorError(problem);
    if (this.callbridge(name)) throw new OperatorError(`callbridge ${name} already exists; del it first to change its secret`);
    await this.propose(() => addCallbridge(name, secret));
  }

  async removeCallbridge(name: string): Promise<Callbridge> {
    const existing = this.callbridge(name);
    if (!existing) throw new OperatorError(`no callbridge named ${name}`);
    await this.propose(() => deleteCallbridge(existing.name));
    return existing;
  }

  async setTrust(trust: TrustSetting): Promise<void> {
    await this.propose(() => trustCommand(trust));
  }

  dns(): DnsSettings {
    return dnsSettings(this.member.state.dns());
  }

  async setDnsEnabled(enabled: boolean): Promise<void> {
    await this.propose(() => setDnsEnabled(enabled));
  }

  async setDnsTtl(seconds: number): Promise<void> {
    checkDnsTtl(seconds);
    await this.propose(() => setDnsTtl(seconds));
  }

  /** A member the state does not know is refused there too (`no cluster member <id>`), on every node alike. */
  async setDnsRecord(memberId: string, setting: DnsRecordSetting | null): Promise<void> {
    if (!this.member.state.members().some((m) => m.id === memberId)) throw new OperatorError(`no cluster member ${memberId}`);
    const record = setting && normalizeDnsRecord(setting);
    await this.propose(() => (record ? setDnsRecord(memberId, record.target, record.priority, record.weight) : clearDnsRecord(memberId)));
  }

  federation(): FederationConfig {
    return this.member.state.federation();
  }

  /**
   * Checked here first against what this node has applied, with the words a
   * standalone node uses; a change that races one made on another member is
   * refused by the state at apply, in the same words.
   */
  async changeFederation(change: FederationChange): Promise<void> {
    const current = this.federation();
    const outcome = applyFederationChange(current, change, newDialbackSecret);
    await this.propose(() => federationCommands(current, outcome));
  }

  /**
   * The dns settings as of the last applied state that still held this node:
   * what `leave` keeps, since its own record is dropped with its membership.
   */
  dnsAsMember(): DnsSettings {
    return this.asMember;
  }

  onChange(listener: (change: ConfigurationChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops following the member (the node left the cluster). */
  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  private async propose(make: () => ClusterCommand): Promise<void> {
    let command: ClusterCommand;
    try {
      command = make();
    } catch (err) {
      if (err instanceof InvalidCommandError) throw new OperatorError(err.message);
      throw err;
    }
    // Refusals of the state (a name taken meanwhile on another node) arrive as OperatorErrors.
    await this.member.propose(command, this.proposeTimeoutMs);
  }

  private snapshot(): Seen {
    const s = this.member.state;
    return { domain: s.domain(), callbridges: new Map(s.callbridges().map((c) => [c.name, c.secret])), trust: JSON.stringify(s.trust()), dns: JSON.stringify(s.dns()), federation: JSON.stringify(s.federation()) };
  }

  /** Tells listeners what the applied entries changed. */
  private compare(): void {
    const before = this.seen;
    const now = this.snapshot();
    this.seen = now;
    if (this.member.inConfiguration()) this.asMember = this.dns();
    const changes: ConfigurationChange[] = [];
    if (now.domain !== before.domain) changes.push({ type: 'domain', domain: now.domain });
    for (const [name, secret] of before.callbridges) {
      // A secret changed (del and add in between) also ends the session that used the old one.
      if (now.callbridges.get(name) !== secret) changes.push({ type: 'callbridge-removed', name });
    }
    for (const [name, secret] of now.callbridges) if (before.callbridges.get(name) !== secret) changes.push({ type: 'callbridge-added', name });
    if (now.trust !== before.trust) changes.push({ type: 'trust', trust: this.trust() });
    if (now.dns !== before.dns) changes.push({ type: 'dns' });
    if (now.federation !== before.federation) changes.push({ type: 'federation' });
    for (const change of changes) for (const l of [...this.listeners]) l(change);
  }
}

export function trustSetting(t: Trust): TrustSetting {
  if (t.kind === 'pem') return { kind: 'pem', file: t.file ?? '', pem: t.pem };
  return t.kind === 'insecure-lab' ? { kind: 'insecure-lab' } : { kind: 'none' };
}

export function trustCommand(trust: TrustSetting): ClusterCommand {
  if (trust.kind === 'pem') return setTrustBundle(trust.pem, trust.file === '' ? undefined : trust.file);
  return trust.kind === 'insecure-lab' ? setInsecureLabTrust() : clearTrust();
}

/** The state's dns settings as src/dns/zone.ts has them (records by member id). */
export function dnsSettings(d: DnsView): DnsSettings {
  return { enabled: d.enabled, ttl: d.ttl, records: Object.fromEntries(d.records.map((r) => [r.id, { target: r.target, priority: r.priority, weight: r.weight }])) };
}

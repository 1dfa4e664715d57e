import type { DnsRecordSetting, DnsSettings } from '../dns/zone.js';
import type { FederationConfig } from '../s2s/server-streams.js';
import type { Callbridge } from './callbridge-registry.js';
import type { FederationChange } from './federation-settings.js';

/**
 * The configuration a node serves with: its domain, the call bridges it lets
 * in, the trust bundle cluster members chain to, and what its DNS responder
 * answers (`xmpp dns`; where it listens is the node's own, in NodeSettings). A standalone node keeps
 * it in its data directory (LocalConfiguration); a cluster member reads it
 * from the replicated state and changes it through the leader and the Raft
 * log (cluster/member's ReplicatedConfiguration). XmppNode and the MMP
 * commands see only this interface, so they do not care which.
 *
 * Every change resolves once it is durable (on disk, or committed by a
 * quorum and applied here) and throws one OperatorError, changing nothing,
 * when it is refused.
 */
export interface NodeConfiguration {
  readonly kind: 'local' | 'replicated';
  domain(): string | null;
  /** By name, case-insensitively; what the component handshake checks against. */
  callbridge(name: string): Callbridge | undefined;
  /** Sorted by name, as this node knows it now (in a cluster: possibly stale). */
  callbridges(): Callbridge[];
  /**
   * Sorted by name, linearizable in a cluster (ReadIndex through the leader).
   * Without a quorum it answers from what this node knows, with `stale` set.
   */
  readCallbridges(): Promise<{ callbridges: Callbridge[]; stale: boolean }>;
  trust(): TrustSetting;
  setDomain(domain: string): Promise<void>;
  addCallbridge(name: string, secret: string): Promise<void>;
  removeCallbridge(name: string): Promise<Callbridge>;
  setTrust(trust: TrustSetting): Promise<void>;
  /** `xmpp dns`: enable, TTL and per-member records; cluster-wide in a cluster, so every node answers alike. */
  dns(): DnsSettings;
  setDnsEnabled(enabled: boolean): Promise<void>;
  /** Whole seconds, 1 to 86400. */
  setDnsTtl(seconds: number): Promise<void>;
  /** The SRV record of member `memberId` (a standalone node: its own id); null: back to the default (`<name>.<domain>`, 0, 0). */
  setDnsRecord(memberId: string, setting: DnsRecordSetting | null): Promise<void>;
  /** `xmpp federation ...` (federation.md): cluster-wide in a cluster, the same on every node. Read afresh for every decision. */
  federation(): FederationConfig;
  /** One change, checked by applyFederationChange (federation-settings.ts) on either implementation. */
  changeFederation(change: FederationChange): Promise<void>;
  /**
   * Called after a change took effect here, whoever made it (in a cluster:
   * an operator on any node): the node ends sessions a change invalidates.
   * Returns a function that removes the listener.
   */
  onChange(listener: (change: ConfigurationChange) => void): () => void;
}

/**
 * `xmpp cluster trust`: a PEM bundle (its file name in the certificate
 * folder, and its text, which is what a cluster replicates), none, or the
 * lab mode that checks nothing.
 */
export type TrustSetting =
  | { readonly kind: 'none' }
  | { readonly kind: 'pem'; readonly file: string; readonly pem: string }
  | { readonly kind: 'insecure-lab' };

export type ConfigurationChange =
  | { readonly type: 'domain'; readonly domain: string | null }
  | { readonly type: 'callbridge-added'; readonly name: string }
  | { readonly type: 'callbridge-removed'; readonly name: string }
  | { readonly type: 'trust'; readonly trust: TrustSetting }
  /** Something in `dns()` changed: the responder answers from the new settings. */
  | { readonly type: 'dns' }
  /** Something in `federation()` changed: read it again (streams the change affects are closed). */
  | { readonly type: 'federation' };

/**
 * The replicated cluster state machine: domain, call-bridge registry, trust
 * bundle, federation settings and members, applied from committed Raft
 * entries. Apply is deterministic (no clock, no randomness, no I/O): every
 * node that applies the same entries reaches the same bytes of snapshot.
 * State-dependent refusals (a name that exists, a domain on the other list)
 * are decided here, at apply, so every node refuses alike.
 */
import type { Entry } from '../raft/messages.js';
import { decodeConfChange, type ConfChange } from '../raft/membership.js';
import type { ClusterCommand, Direction, PolicyList, PrivacyMode, SecurityMode, Trust } from './commands.js';
import { noRoute, notOnList, onOtherList, routeExists } from '../../src/xmpp/federation-rules.js';
import { InvalidCommandError } from './errors.js';
import { decodeMemberInfo } from './member-info.js';
import { decodeProposal } from './proposal.js';
import { cloneState, deserializeState, emptyState, serializeState, type Member, type StateData } from './state-data.js';

export type ApplyOutcome =
  | { readonly status: 'applied' }
  /** Valid but refused by the state (deterministically, on every node). */
  | { readonly status: 'rejected'; readonly reason: string }
  /** A retry of a command this client already had applied (or refused): nothing changed. */
  | { readonly status: 'duplicate'; readonly rejected?: string }
  /** Not a proposal at all (corrupt or foreign entry): skipped alike on every node. */
  | { readonly status: 'ignored'; readonly reason: string };

export interface ApplyResult {
  readonly client: string | undefined;
  readonly seq: number | undefined;
  readonly outcome: ApplyOutcome;
}

/** Federation settings as readers see them: lists sorted, nothing shared with the live state. */
export interface FederationView {
  readonly enabled: boolean;
  readonly dialbackSecret: string | null;
  readonly securityMode: SecurityMode;
  readonly clientCertsRequired: boolean;
  readonly saslExternal: { readonly incoming: boolean; readonly outgoing: boolean };
  readonly privacyMode: PrivacyMode;
  readonly allow: readonly { readonly domain: string; readonly direction: Direction }[];
  readonly deny: readonly { readonly domain: string; readonly direction: Direction }[];
  readonly routes: readonly { readonly domain: string; readonly targets: readonly string[] }[];
}

export interface DnsView {
  readonly enabled: boolean;
  readonly ttl: number;
  readonly records: readonly { readonly id: string; readonly target: string; readonly priority: number; readonly weight: number }[];
}

/** Sessions remembered for dedup; past this the least recently active is forgotten. */
export const MAX_CLIENT_SESSIONS = 1024;

const decoder = new TextDecoder();

export class ClusterState {
  private s: StateData = emptyState();

  /** Applies one committed proposal (the data of a normal entry). */
  apply(entryData: Uint8Array | string): ApplyResult {
    let proposal;
    try {
      proposal = decodeProposal(entryData);
    } catch (err) {
      if (err instanceof InvalidCommandError) return { client: undefined, seq: undefined, outcome: { status: 'ignored', reason: err.message } };
      throw err;
    }
    const { client, seq, command } = proposal;
    const known = this.s.clients.get(client);
    if (known && seq <= known.seq) {
      // The same command committed twice (a client retried after a timeout): apply once.
      const outcome: ApplyOutcome = seq === known.seq && known.rejected !== undefined ? { status: 'duplicate', rejected: known.rejected } : { status: 'duplicate' };
      return { client, seq, outcome };
    }
    const next = cloneState(this.s);
    const refusal = applyCommand(next, command);
    // A refused command leaves the state as it was, except that the session remembers it.
    const base = refusal === undefined ? next : this.s;
    base.applyCounter = this.s.applyCounter + 1;
    base.clients.set(client, { seq, rejected: refusal, at: base.applyCounter });
    if (base.clients.size > MAX_CLIENT_SESSIONS) evictOldestClient(base);
    this.s = base;
    return { client, seq, outcome: refusal === undefined ? { status: 'applied' } : { status: 'rejected', reason: refusal } };
  }

  /** Membership follows the Raft configuration: a committed conf change, with the member's info (member-info.ts) in its context. */
  applyConfChange(change: ConfChange): void {
    const members = this.s.members;
    const prior = members.get(change.node);
    const info = () => (change.context === undefined && prior ? { name: prior.name, cluster: prior.cluster, component: prior.component } : decodeMemberInfo(change.context));
    switch (change.type) {
      case 'add-learner':
        members.set(change.node, { ...info(), role: 'learner' });
        break;
      case 'add-voter':
        members.set(change.node, { ...info(), role: 'voter' });
        break;
      case 'promote':
        if (prior) members.set(change.node, { ...prior, role: 'voter' });
        break;
      case 'remove':
        members.delete(change.node);
        // Its SRV record goes with it: a member added again later starts from the default target.
        this.s.dns.records.delete(change.node);
        break;
    }
  }

  /** Applies a committed Raft entry of either kind; the no-op of a new leader changes nothing. */
  applyEntry(entry: Entry): ApplyResult | undefined {
    if (entry.type === 'conf-change') {
      this.applyConfChange(decodeConfChange(entry.data));
      return undefined;
    }
    if (entry.data.length === 0) return undefined;
    return this.apply(entry.data);
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(serializeState(this.s));
  }

  /** Replaces the whole state with a snapshot's; throws StateSnapshotError and keeps the old state if it is unreadable. */
  restore(data: Uint8Array): void {
    this.s = data.length === 0 ? emptyState() : deserializeState(decoder.decode(data));
  }

  static fromSnapshot(data: Uint8Array): ClusterState {
    const state = new ClusterState();
    state.restore(data);
    return state;
  }

  // ---- reads -------------------------------------------------------------

  domain(): string | null {
    return this.s.domain;
  }

  /** Sorted by name, as `xmpp callbridge list` prints them. */
  callbridges(): { name: string; secret: string }[] {
    return [...this.s.callbridges].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, secret]) => ({ name, secret }));
  }

  callbridgeSecret(name: string): string | undefined {
    return this.s.callbridges.get(name);
  }

  trust(): Trust {
    return this.s.trust;
  }

  federation(): FederationView {
    const f = this.s.federation;
    const list = (m: Map<string, Direction>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([domain, direction]) => ({ domain, direction }));
    return {
      enabled: f.enabled,
      dialbackSecret: f.dialbackSecret,
      securityMode: f.securityMode,
      clientCertsRequired: f.clientCertsRequired,
      saslExternal: { ...f.saslExternal },
      privacyMode: f.privacyMode,
      allow: list(f.allow),
      deny: list(f.deny),
      routes: [...f.routes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([domain, targets]) => ({ domain, targets: [...targets] })),
    };
  }

  /** `xmpp dns`: records sorted by member id, nothing shared with the live state. */
  dns(): DnsView {
    const d = this.s.dns;
    return { enabled: d.enabled, ttl: d.ttl, records: [...d.records].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, r]) => ({ id, ...r })) };
  }

  members(): ({ id: string } & Member)[] {
    return [...this.s.members].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, m]) => ({ id, ...m }));
  }
}

function evictOldestClient(s: StateData): void {
  let oldest: string | undefined;
  let at = Infinity;
  for (const [client, r] of s.clients) {
    if (r.at < at) {
      at = r.at;
      oldest = client;
    }
  }
  if (oldest !== undefined) s.clients.delete(oldest);
}

/** Applies `cmd` to `s` in place; returns the refusal, leaving `s` to be discarded, if the state forbids it. */
function applyCommand(s: StateData, cmd: ClusterCommand): string | undefined {
  const f = s.federation;
  switch (cmd.type) {
    case 'set-domain':
      s.domain = cmd.domain;
      return undefined;
    case 'callbridge-add':
      if (s.callbridges.has(cmd.name)) return `callbridge ${cmd.name} already exists; del it first to change its secret`;
      s.callbridges.set(cmd.name, cmd.secret);
      return undefined;
    case 'callbridge-del':
      if (!s.callbridges.delete(cmd.name)) return `no callbridge named ${cmd.name}`;
      return undefined;
    case 'set-trust':
      s.trust = cmd.trust;
      return undefined;
    case 'federation-enabled':
      f.enabled = cmd.enabled;
      return undefined;
    case 'federation-dialback-secret':
      f.dialbackSecret = cmd.secret;
      return undefined;
    case 'federation-security':
      f.securityMode = cmd.mode;
      return undefined;
    case 'federation-client-certs':
      f.clientCertsRequired = cmd.required;
      return undefined;
    case 'federation-sasl-external':
      f.saslExternal[cmd.direction] = cmd.enabled;
      return undefined;
    case 'federation-privacy':
      f.privacyMode = cmd.mode;
      return undefined;
    case 'federation-list-add': {
      const other: PolicyList = cmd.list === 'allow' ? 'deny' : 'allow';
      // The allow and deny lists are exclusive (federation.md).
      if (f[other].has(cmd.domain)) return onOtherList(cmd.domain, other);
      f[cmd.list].set(cmd.domain, cmd.direction);
      return undefined;
    }
    case 'federation-list-del':
      if (!f[cmd.list].delete(cmd.domain)) return notOnList(cmd.domain, cmd.list);
      return undefined;
    case 'federation-route-add': {
      const targets = f.routes.get(cmd.domain) ?? [];
      if (targets.includes(cmd.target)) return routeExists(cmd.domain, cmd.target);
      f.routes.set(cmd.domain, [...targets, cmd.target].sort());
      return undefined;
    }
    case 'federation-route-del': {
      const targets = f.routes.get(cmd.domain);
      if (!targets) return noRoute(cmd.domain);
      if (cmd.target === undefined) {
        f.routes.delete(cmd.domain);
        return undefined;
      }
      if (!targets.includes(cmd.target)) return noRoute(cmd.domain, cmd.target);
      const rest = targets.filter((t) => t !== cmd.target);
      if (rest.length === 0) f.routes.delete(cmd.domain);
      else f.routes.set(cmd.domain, rest);
      return undefined;
    }
    case 'member-address': {
      const m = s.members.get(cmd.id);
      if (!m) return `no member ${cmd.id}`;
      s.members.set(cmd.id, { ...m, component: cmd.address });
      return undefined;
    }
    case 'dns-enabled':
      s.dns.enabled = cmd.enabled;
      return undefined;
    case 'dns-ttl':
      s.dns.ttl = cmd.ttl;
      return undefined;
    case 'dns-record':
      // Only a member has a record: one for a removed member would never be served.
      if (!s.members.has(cmd.id)) return `no cluster member ${cmd.id}`;
      s.dns.records.set(cmd.id, { target: cmd.target, priority: cmd.priority, weight: cmd.weight });
      return undefined;
    case 'dns-record-clear':
      // Back to the default target; clearing what is not set changes nothing and is no error.
      s.dns.records.delete(cmd.id);
      return undefined;
    case 'batch':
      for (const sub of cmd.commands) {
        const refusal = applyCommand(s, sub);
        if (refusal !== undefined) return refusal;
      }
      return undefined;
  }
}

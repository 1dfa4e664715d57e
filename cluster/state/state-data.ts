/**
 * The plain data of the replicated cluster state, and its deterministic
 * (sorted) serialization. Versioned so a later release can migrate a
 * snapshot written by this one.
 */
import { MAX_DNS_TTL, type Direction, type PrivacyMode, type SecurityMode, type Trust } from './commands.js';
import { NewerStateError, StateSnapshotError } from './errors.js';
import { decodeMemberInfo } from './member-info.js';

export type MemberRole = 'voter' | 'learner';

/** A member as its conf change described it (cluster/state/member-info.ts), and its role. */
export interface Member {
  readonly name: string;
  /** `host:port` of its cluster link. */
  readonly cluster: string;
  /** `host:port` it serves call bridges on, as `cluster status` lists it. */
  readonly component: string;
  readonly role: MemberRole;
}

export interface FederationSettings {
  enabled: boolean;
  dialbackSecret: string | null;
  securityMode: SecurityMode;
  clientCertsRequired: boolean;
  saslExternal: { incoming: boolean; outgoing: boolean };
  privacyMode: PrivacyMode;
  allow: Map<string, Direction>;
  deny: Map<string, Direction>;
  routes: Map<string, string[]>;
}

/** One member's `xmpp dns record`: the SRV target host and its RFC 2782 priority and weight. */
export interface DnsRecordEntry {
  readonly target: string;
  readonly priority: number;
  readonly weight: number;
}

/**
 * The cluster-wide `xmpp dns` settings. The values of src/dns/zone.ts's
 * DEFAULT_DNS_SETTINGS, held here as the state's own type (cluster/state sits
 * on the floor of src/dns and does not import it). Records are keyed by member
 * id; a removed member's record is dropped with it (ClusterState.applyConfChange).
 */
export interface DnsState {
  enabled: boolean;
  ttl: number;
  records: Map<string, DnsRecordEntry>;
}

export const DEFAULT_DNS_TTL = 5;

export interface ClientRecord {
  readonly seq: number;
  /** undefined when applied; the refusal otherwise, replayed to a retry. */
  readonly rejected: string | undefined;
  /** Apply counter of its last command: the oldest client is forgotten first. */
  readonly at: number;
}

export interface StateData {
  domain: string | null;
  callbridges: Map<string, string>;
  trust: Trust;
  federation: FederationSettings;
  members: Map<string, Member>;
  dns: DnsState;
  clients: Map<string, ClientRecord>;
  applyCounter: number;
}

/**
 * 2: members carry name, cluster and component endpoints; a pem trust carries its file name.
 * 3: `dns` (the xmpp dns settings); a version 1 or 2 snapshot has the defaults.
 */
export const STATE_VERSION = 3;

function defaultDns(): DnsState {
  return { enabled: false, ttl: DEFAULT_DNS_TTL, records: new Map() };
}

export function emptyState(): StateData {
  return {
    domain: null,
    callbridges: new Map(),
    trust: { kind: 'none' },
    federation: {
      enabled: false,
      dialbackSecret: null,
      securityMode: 'required',
      clientCertsRequired: false,
      saslExternal: { incoming: true, outgoing: true },
      // Lockdown by default: nothing federates until the operator allows it (federation.md).
      privacyMode: 'allow',
      allow: new Map(),
      deny: new Map(),
      routes: new Map(),
    },
    members: new Map(),
    dns: defaultDns(),
    clients: new Map(),
    applyCounter: 0,
  };
}

export function cloneState(s: StateData): StateData {
  return {
    ...s,
    callbridges: new Map(s.callbridges),
    federation: {
      ...s.federation,
      saslExternal: { ...s.federation.saslExternal },
      allow: new Map(s.federation.allow),
      deny: new Map(s.federation.deny),
      routes: new Map([...s.federation.routes].map(([d, t]) => [d, [...t]])),
    },
    members: new Map(s.members),
    dns: { ...s.dns, records: new Map(s.dns.records) },
    clients: new Map(s.clients),
  };
}

const sorted = <V>(m: Map<string, V>): [string, V][] => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

export function serializeState(s: StateData): string {
  return JSON.stringify({
    version: STATE_VERSION,
    domain: s.domain,
    callbridges: sorted(s.callbridges),
    trust: s.trust,
    federation: {
      enabled: s.federation.enabled,
      dialbackSecret: s.federation.dialbackSecret,
      securityMode: s.federation.securityMode,
      clientCertsRequired: s.federation.clientCertsRequired,
      saslExternal: s.federation.saslExternal,
      privacyMode: s.federation.privacyMode,
      allow: sorted(s.federation.allow),
      deny: sorted(s.federation.deny),
      routes: sorted(s.federation.routes),
    },
    members: sorted(s.members).map(([id, m]) => [id, { name: m.name, cluster: m.cluster, component: m.component, role: m.role }]),
    dns: { enabled: s.dns.enabled, ttl: s.dns.ttl, records: sorted(s.dns.records).map(([id, r]) => [id, { target: r.target, priority: r.priority, weight: r.weight }]) },
    clients: sorted(s.clients).map(([c, r]) => [c, { seq: r.seq, rejected: r.rejected ?? null, at: r.at }]),
    applyCounter: s.applyCounter,
  });
}

/** Parses a serialized state, migrating older versions; throws StateSnapshotError on anything invalid. */
export function deserializeState(text: string): StateData {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new StateSnapshotError('cluster state snapshot is not JSON');
  }
  if (typeof raw !== 'object' || raw === null) throw new StateSnapshotError('cluster state snapshot is not an object');
  if (typeof raw.version === 'number' && Number.isInteger(raw.version) && raw.version > STATE_VERSION) throw new NewerStateError(raw.version, STATE_VERSION);
  if (raw.version !== 1 && raw.version !== 2 && raw.version !== STATE_VERSION) {
    throw new StateSnapshotError(`cluster state snapshot version ${JSON.stringify(raw.version)} is not supported by this release`);
  }
  try {
    // Migrations, oldest first: version 1 held a member's conf-change context as its address;
    // versions 1 and 2 had no dns settings.
    return readState(raw, raw.version as number);
  } catch (err) {
    if (err instanceof StateSnapshotError) throw err;
    throw new StateSnapshotError(`cluster state snapshot is malformed: ${(err as Error).message}`);
  }
}

function fail(what: string): never {
  throw new StateSnapshotError(`cluster state snapshot field ${what} is invalid`);
}

function pairs<V>(value: unknown, what: string, check: (v: unknown) => V): Map<string, V> {
  if (!Array.isArray(value)) fail(what);
  const m = new Map<string, V>();
  for (const p of value as unknown[]) {
    if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string') fail(what);
    m.set(p[0] as string, check(p[1]));
  }
  return m;
}

const isStr = (what: string) => (v: unknown) => (typeof v === 'string' ? v : fail(what));
const oneOf =
  <T extends string>(what: string, values: readonly T[]) =>
  (v: unknown): T =>
    values.includes(v as T) ? (v as T) : fail(what);
const bool = (v: unknown, what: string) => (typeof v === 'boolean' ? v : fail(what));

function readDns(value: unknown): DnsState {
  const d = value as Record<string, unknown>;
  if (typeof d !== 'object' || d === null) fail('dns');
  const uint16 = (v: unknown, what: string) => (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535 ? (v as number) : fail(what));
  if (!Number.isInteger(d.ttl) || (d.ttl as number) < 1 || (d.ttl as number) > MAX_DNS_TTL) fail('dns.ttl');
  return {
    enabled: bool(d.enabled, 'dns.enabled'),
    ttl: d.ttl as number,
    records: pairs(d.records, 'dns.records', (v) => {
      const r = v as Record<string, unknown>;
      if (typeof r?.target !== 'string') fail('dns.records.target');
      return { target: r.target, priority: uint16(r.priority, 'dns.records.priority'), weight: uint16(r.weight, 'dns.records.weight') };
    }),
  };
}

function readState(raw: Record<string, unknown>, version: number): StateData {
  const v1 = version === 1;
  const f = raw.federation as Record<string, unknown>;
  if (typeof f !== 'object' || f === null) fail('federation');
  const sasl = f.saslExternal as Record<string, unknown>;
  if (typeof sasl !== 'object' || sasl === null) fail('federation.saslExternal');
  const t = raw.trust as Record<string, unknown>;
  let trust: Trust;
  if (t?.kind === 'none' || t?.kind === 'insecure-lab') trust = { kind: t.kind };
  else if (t?.kind === 'pem' && typeof t.pem === 'string' && (t.file === undefined || typeof t.file === 'string')) {
    trust = t.file === undefined ? { kind: 'pem', pem: t.pem } : { kind: 'pem', pem: t.pem, file: t.file as string };
  } else fail('trust');
  const direction = oneOf('direction', ['both', 'incoming', 'outgoing'] as const);
  if (raw.domain !== null && typeof raw.domain !== 'string') fail('domain');
  if (f.dialbackSecret !== null && typeof f.dialbackSecret !== 'string') fail('federation.dialbackSecret');
  if (!Number.isSafeInteger(raw.applyCounter)) fail('applyCounter');
  return {
    domain: raw.domain as string | null,
    callbridges: pairs(raw.callbridges, 'callbridges', isStr('callbridges')),
    trust,
    federation: {
      enabled: bool(f.enabled, 'federation.enabled'),
      dialbackSecret: f.dialbackSecret as string | null,
      securityMode: oneOf('federation.securityMode', ['none', 'optional', 'required'] as const)(f.securityMode),
      clientCertsRequired: bool(f.clientCertsRequired, 'federation.clientCertsRequired'),
      saslExternal: { incoming: bool(sasl.incoming, 'saslExternal.incoming'), outgoing: bool(sasl.outgoing, 'saslExternal.outgoing') },
      privacyMode: oneOf('federation.privacyMode', ['off', 'allow', 'deny'] as const)(f.privacyMode),
      allow: pairs(f.allow, 'federation.allow', direction),
      deny: pairs(f.deny, 'federation.deny', direction),
      routes: pairs(f.routes, 'federation.routes', (v) =>
        Array.isArray(v) && v.every((x) => typeof x === 'string') ? [...(v as string[])] : fail('federation.routes'),
      ),
    },
    members: pairs(raw.members, 'members', (v) => {
      const m = v as Record<string, unknown>;
      const role = oneOf('members.role', ['voter', 'learner'] as const)(m?.role);
      if (v1) {
        if (typeof m?.address !== 'string') fail('members.address');
        return { ...decodeMemberInfo(m.address), role };
      }
      for (const k of ['name', 'cluster', 'component']) if (typeof m?.[k] !== 'string') fail(`members.${k}`);
      return { name: m.name as string, cluster: m.cluster as string, component: m.component as string, role };
    }),
    dns: version < 3 ? defaultDns() : readDns(raw.dns),
    clients: pairs(raw.clients, 'clients', (v) => {
      const c = v as Record<string, unknown>;
      if (!Number.isSafeInteger(c?.seq) || !Number.isSafeInteger(c?.at)) fail('clients');
      if (c.rejected !== null && typeof c.rejected !== 'string') fail('clients.rejected');
      return { seq: c.seq as number, rejected: (c.rejected as string | null) ?? undefined, at: c.at as number };
    }),
    applyCounter: raw.applyCounter as number,
  };
}

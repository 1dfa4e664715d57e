/**
 * Commands of the replicated cluster state, as data. Construct them with the
 * functions below (they validate and normalize); `commandProblem` re-checks a
 * command decoded from the log.
 */
import { InvalidCommandError } from './errors.js';
import { DEFAULT_S2S_PORT, dialbackSecretProblem } from '../../src/xmpp/federation-rules.js';
import { dnsLabelProblem, domainPatternProblem, domainProblem, parseHostPort, pemBundleProblem, secretProblem } from './validation.js';

export type SecurityMode = 'none' | 'optional' | 'required';
export type PrivacyMode = 'off' | 'allow' | 'deny';
export type Direction = 'both' | 'incoming' | 'outgoing';
export type PolicyList = 'allow' | 'deny';
/** A pem trust names the file it came from, so every member can show `Trust bundle : abhiall.cer`. */
export type Trust =
  | { readonly kind: 'none' }
  | { readonly kind: 'pem'; readonly pem: string; readonly file?: string }
  | { readonly kind: 'insecure-lab' };

export type ClusterCommand =
  | { readonly type: 'set-domain'; readonly domain: string }
  | { readonly type: 'callbridge-add'; readonly name: string; readonly secret: string }
  | { readonly type: 'callbridge-del'; readonly name: string }
  | { readonly type: 'set-trust'; readonly trust: Trust }
  | { readonly type: 'federation-enabled'; readonly enabled: boolean }
  | { readonly type: 'federation-dialback-secret'; readonly secret: string }
  | { readonly type: 'federation-security'; readonly mode: SecurityMode }
  | { readonly type: 'federation-client-certs'; readonly required: boolean }
  | { readonly type: 'federation-sasl-external'; readonly direction: 'incoming' | 'outgoing'; readonly enabled: boolean }
  | { readonly type: 'federation-privacy'; readonly mode: PrivacyMode }
  | { readonly type: 'federation-list-add'; readonly list: PolicyList; readonly domain: string; readonly direction: Direction }
  | { readonly type: 'federation-list-del'; readonly list: PolicyList; readonly domain: string }
  | { readonly type: 'federation-route-add'; readonly domain: string; readonly target: string }
  | { readonly type: 'federation-route-del'; readonly domain: string; readonly target?: string }
  | { readonly type: 'member-address'; readonly id: string; readonly address: string }
  /** `xmpp dns enable|disable`, `xmpp dns ttl`, `xmpp dns record`: cluster-wide, so every node answers alike. */
  | { readonly type: 'dns-enabled'; readonly enabled: boolean }
  | { readonly type: 'dns-ttl'; readonly ttl: number }
  | { readonly type: 'dns-record'; readonly id: string; readonly target: string; readonly priority: number; readonly weight: number }
  | { readonly type: 'dns-record-clear'; readonly id: string }
  /** Several commands applied as one: all or none (e.g. seeding a new cluster from a standalone node). */
  | { readonly type: 'batch'; readonly commands: readonly ClusterCommand[] };

export type CommandType = ClusterCommand['type'];

const SECURITY: readonly SecurityMode[] = ['none', 'optional', 'required'];
const PRIVACY: readonly PrivacyMode[] = ['off', 'allow', 'deny'];
const DIRECTIONS: readonly Direction[] = ['both', 'incoming', 'outgoing'];
const LISTS: readonly PolicyList[] = ['allow', 'deny'];
export { DEFAULT_S2S_PORT };
/** One day: longer would keep a dead member in resolvers' caches for longer than any failover is worth. */
export const MAX_DNS_TTL = 86400;

/** RFC 2782: priority and weight are 16-bit unsigned integers. */
const uint16Problem = (v: unknown, what: string) => (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535 ? undefined : `${what} must be an integer from 0 to 65535`);

/** Why `cmd` is not a well-formed command (shape, types, syntax), or undefined. State-dependent rules are checked at apply. */
export function commandProblem(cmd: unknown, depth = 0): string | undefined {
  if (typeof cmd !== 'object' || cmd === null) return 'command is not an object';
  const c = cmd as Record<string, unknown>;
  const str = (k: string) => (typeof c[k] === 'string' ? (c[k] as string) : undefined);
  const need = (k: string): string | undefined => (str(k) === undefined ? `field '${k}' must be a string` : undefined);
  switch (c.type) {
    case 'set-domain':
      return need('domain') ?? domainProblem(str('domain')!);
    case 'callbridge-add':
      return need('name') ?? need('secret') ?? dnsLabelProblem(str('name')!) ?? secretProblem(str('secret')!, 'callbridge secret');
    case 'callbridge-del':
      return need('name') ?? dnsLabelProblem(str('name')!);
    case 'set-trust': {
      const t = c.trust as Record<string, unknown> | null | undefined;
      if (typeof t !== 'object' || t === null) return "field 'trust' must be an object";
      if (t.kind === 'none' || t.kind === 'insecure-lab') return undefined;
      if (t.kind === 'pem') {
        if (t.file !== undefined && (typeof t.file !== 'string' || !/^[^/\\\0]{1,255}$/.test(t.file))) return "field 'trust.file' must be a file name";
        return typeof t.pem === 'string' ? pemBundleProblem(t.pem) : "field 'trust.pem' must be a string";
      }
      return "field 'trust.kind' must be none, pem or insecure-lab";
    }
    case 'federation-enabled':
      return typeof c.enabled === 'boolean' ? undefined : "field 'enabled' must be a boolean";
    case 'federation-dialback-secret':
      return need('secret') ?? dialbackSecretProblem(str('secret')!);
    case 'federation-security':
      return SECURITY.includes(c.mode as SecurityMode) ? undefined : 'security mode must be none, optional or required';
    case 'federation-client-certs':
      return typeof c.required === 'boolean' ? undefined : "field 'required' must be a boolean";
    case 'federation-sasl-external':
      if (c.direction !== 'incoming' && c.direction !== 'outgoing') return 'direction must be incoming or outgoing';
      return typeof c.enabled === 'boolean' ? undefined : "field 'enabled' must be a boolean";
    case 'federation-privacy':
      return PRIVACY.includes(c.mode as PrivacyMode) ? undefined : 'privacy mode must be off, allow or deny';
    case 'federation-list-add':
      if (!LISTS.includes(c.list as PolicyList)) return 'list must be allow or deny';
      if (!DIRECTIONS.includes(c.direction as Direction)) return 'direction must be both, incoming or outgoing';
      return need('domain') ?? domainPatternProblem(str('domain')!);
    case 'federation-list-del':
      if (!LISTS.includes(c.list as PolicyList)) return 'list must be allow or deny';
      return need('domain') ?? domainPatternProblem(str('domain')!);
    case 'federation-route-add': {
      const p = need('domain') ?? need('target') ?? domainProblem(str('domain')!);
      if (p) return p;
      const t = parseHostPort(str('target')!, DEFAULT_S2S_PORT);
      if ('problem' in t) return t.problem;
      return t.value === str('target') ? undefined : 'route target must be normalized host:port';
    }
    case 'federation-route-del': {
      const p = need('domain') ?? domainProblem(str('domain')!);
      if (p || c.target === undefined) return p;
      if (typeof c.target !== 'string') return "field 'target' must be a string";
      const t = parseHostPort(c.target, DEFAULT_S2S_PORT);
      return 'problem' in t ? t.problem : t.value === c.target ? undefined : 'route target must be normalized host:port';
    }
    case 'member-address':
      // Sets the member's component endpoint (the address `cluster status` lists).
      return need('id') ?? need('address') ?? (str('id')!.length === 0 ? 'member id is empty' : undefined);
    case 'dns-enabled':
      return typeof c.enabled === 'boolean' ? undefined : "field 'enabled' must be a boolean";
    case 'dns-ttl':
      return Number.isInteger(c.ttl) && (c.ttl as number) >= 1 && (c.ttl as number) <= MAX_DNS_TTL ? undefined : `TTL must be an integer from 1 to ${MAX_DNS_TTL} seconds`;
    case 'dns-record':
      return (
        need('id') ??
        need('target') ??
        (str('id')!.length === 0 ? 'member id is empty' : undefined) ??
        domainProblem(str('target')!) ??
        (str('target') === str('target')!.toLowerCase() ? undefined : 'record target must be lower-case') ??
        uint16Problem(c.priority, 'priority') ??
        uint16Problem(c.weight, 'weight')
      );
    case 'dns-record-clear':
      return need('id') ?? (str('id')!.length === 0 ? 'member id is empty' : undefined);
    case 'batch': {
      if (depth > 0) return 'batches do not nest';
      if (!Array.isArray(c.commands) || c.commands.length === 0) return 'batch needs at least one command';
      for (const [i, sub] of (c.commands as unknown[]).entries()) {
        const p = commandProblem(sub, depth + 1);
        if (p) return `batch command ${i + 1}: ${p}`;
      }
      return undefined;
    }
    default:
      return `unknown command type ${JSON.stringify(c.type)}`;
  }
}

function checked<C extends ClusterCommand>(cmd: C): C {
  const problem = commandProblem(cmd);
  if (problem !== undefined) throw new InvalidCommandError(problem);
  return cmd;
}

// ---- constructors: validate and normalize, throw InvalidCommandError ------

export const setDomain = (domain: string) => checked({ type: 'set-domain', domain: domain.toLowerCase() });
export const addCallbridge = (name: string, secret: string) => checked({ type: 'callbridge-add', name, secret });
export const deleteCallbridge = (name: string) => checked({ type: 'callbridge-del', name });
export const setTrustBundle = (pem: string, file?: string) =>
  checked({ type: 'set-trust', trust: file === undefined ? { kind: 'pem', pem } : { kind: 'pem', pem, file } });
export const clearTrust = () => checked({ type: 'set-trust', trust: { kind: 'none' } });
export const setInsecureLabTrust = () => checked({ type: 'set-trust', trust: { kind: 'insecure-lab' } });
export const setFederationEnabled = (enabled: boolean) => checked({ type: 'federation-enabled', enabled });
export const setDialbackSecret = (secret: string) => checked({ type: 'federation-dialback-secret', secret });
export const setSecurityMode = (mode: SecurityMode) => checked({ type: 'federation-security', mode });
export const setClientCertsRequired = (required: boolean) => checked({ type: 'federation-client-certs', required });
export const setSaslExternal = (direction: 'incoming' | 'outgoing', enabled: boolean) =>
  checked({ type: 'federation-sasl-external', direction, enabled });
export const setPrivacyMode = (mode: PrivacyMode) => checked({ type: 'federation-privacy', mode });
export const addToPolicyList = (list: PolicyList, domain: string, direction: Direction = 'both') =>
  checked({ type: 'federation-list-add', list, domain: domain.toLowerCase(), direction });
export const deleteFromPolicyList = (list: PolicyList, domain: string) =>
  checked({ type: 'federation-list-del', list, domain: domain.toLowerCase() });

export function addStaticRoute(domain: string, target: string): ClusterCommand {
  const t = parseHostPort(target, DEFAULT_S2S_PORT);
  if ('problem' in t) throw new InvalidCommandError(t.problem);
  return checked({ type: 'federation-route-add', domain: domain.toLowerCase(), target: t.value });
}

export function deleteStaticRoute(domain: string, target?: string): ClusterCommand {
  if (target === undefined) return checked({ type: 'federation-route-del', domain: domain.toLowerCase() });
  const t = parseHostPort(target, DEFAULT_S2S_PORT);
  if ('problem' in t) throw new InvalidCommandError(t.problem);
  return checked({ type: 'federation-route-del', domain: domain.toLowerCase(), target: t.value });
}

export const setMemberAddress = (id: string, address: string) => checked({ type: 'member-address', id, address });
export const setDnsEnabled = (enabled: boolean) => checked({ type: 'dns-enabled', enabled });
export const setDnsTtl = (ttl: number) => checked({ type: 'dns-ttl', ttl });
/** The target as a host name: lower-case, without the trailing dot of its FQDN form. */
export const setDnsRecord = (id: string, target: string, priority = 0, weight = 0) =>
  checked({ type: 'dns-record', id, target: target.toLowerCase().replace(/\.$/, ''), priority, weight });
export const clearDnsRecord = (id: string) => checked({ type: 'dns-record-clear', id });
export const batch = (commands: readonly ClusterCommand[]) => checked({ type: 'batch', commands });

/**
 * The federation settings of federation.md as a node changes them: the
 * defaults, the changes `xmpp federation ...` asks for, and one pure function
 * that checks a change against the current settings and returns the next
 * ones. LocalConfiguration saves what it returns; the replicated
 * configuration (cluster/member) runs it first for the same refusals, then
 * proposes the change to the cluster. Every refusal is one OperatorError in
 * the words of src/xmpp/federation-rules.ts, which the replicated state uses too.
 */
import { OperatorError } from '../base/operator-error.js';
import type { PolicyDirection, PolicyEntry, PrivacyMode, StaticRoute, StreamDirection } from '../s2s/federation-policy.js';
import type { FederationConfig, SecurityMode } from '../s2s/server-streams.js';
import {
  DEFAULT_S2S_PORT,
  dialbackSecretProblem,
  domainPatternProblem,
  federationDomainProblem,
  noRoute,
  normalizeFederationDomain,
  notOnList,
  onOtherList,
  parseHostPort,
  routeExists,
  type PolicyListName,
} from '../xmpp/federation-rules.js';

/** federation.md's defaults: off, no secret, TLS required, client certificates off, SASL EXTERNAL on both ways, lockdown (allow mode, empty lists), no routes. */
export const DEFAULT_FEDERATION: FederationConfig = Object.freeze({
  enabled: false,
  dialbackSecret: null,
  securityMode: 'required',
  clientCertsRequired: false,
  saslExternal: Object.freeze({ incoming: true, outgoing: true }),
  privacyMode: 'allow',
  allow: Object.freeze([]),
  deny: Object.freeze([]),
  routes: Object.freeze([]),
}) as FederationConfig;

export const SECURITY_MODES: readonly SecurityMode[] = ['none', 'optional', 'required'];
export const PRIVACY_MODES: readonly PrivacyMode[] = ['off', 'allow', 'deny'];
export const POLICY_DIRECTIONS: readonly PolicyDirection[] = ['both', 'incoming', 'outgoing'];

/** One `xmpp federation ...` change; the cluster's federation-* commands carry the same. */
export type FederationChange =
  /** Enabling the first time, with no secret yet, generates one (federation.md). */
  | { readonly type: 'enabled'; readonly enabled: boolean }
  | { readonly type: 'dialback-secret'; readonly secret: string }
  | { readonly type: 'security'; readonly mode: SecurityMode }
  | { readonly type: 'client-certs'; readonly required: boolean }
  | { readonly type: 'sasl-external'; readonly direction: StreamDirection; readonly enabled: boolean }
  | { readonly type: 'privacy'; readonly mode: PrivacyMode }
  | { readonly type: 'list-add'; readonly list: PolicyListName; readonly domain: string; readonly direction: PolicyDirection }
  | { readonly type: 'list-del'; readonly list: PolicyListName; readonly domain: string }
  /** `target` is `host[:port]`; the port defaults to 5269. */
  | { readonly type: 'route-add'; readonly domain: string; readonly target: string }
  /** Without a target: every route of the domain. */
  | { readonly type: 'route-del'; readonly domain: string; readonly target?: string };

export interface FederationOutcome {
  readonly next: FederationConfig;
  /** The change as it is kept: domains lower-case without a trailing dot, targets as `host:port`. */
  readonly change: FederationChange;
}

const byDomain = <T extends { readonly domain: string }>(list: readonly T[]): T[] => [...list].sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));

function refuse(problem: string | undefined): void {
  if (problem !== undefined) throw new OperatorError(problem);
}

function target(text: string): string {
  const t = parseHostPort(text, DEFAULT_S2S_PORT);
  if ('problem' in t) throw new OperatorError(t.problem);
  return t.value;
}

/**
 * Checks `change` against `current` and returns the settings after it;
 * throws OperatorError, having changed nothing, when it is refused.
 * `newSecret` is asked only when enabling generates the dialback secret.
 */
export function applyFederationChange(current: FederationConfig, change: FederationChange, newSecret: () => string): FederationOutcome {
  switch (change.type) {
    case 'enabled': {
      const secret = change.enabled && current.dialbackSecret === null ? newSecret() : current.dialbackSecret;
      return { next: { ...current, enabled: change.enabled, dialbackSecret: secret }, change };
    }
    case 'dialback-secret':
      refuse(dialbackSecretProblem(change.secret));
      return { next: { ...current, dialbackSecret: change.secret }, change };
    case 'security':
      refuse(SECURITY_MODES.includes(change.mode) ? undefined : `'${change.mode}' is not a security mode; give none, optional or required`);
      return { next: { ...current, securityMode: change.mode }, change };
    case 'client-certs':
      return { next: { ...current, clientCertsRequired: change.required }, change };
    case 'sasl-external':
      return { next: { ...current, saslExternal: { ...current.saslExternal, [change.direction]: change.enabled } }, change };
    case 'privacy':
      refuse(PRIVACY_MODES.includes(change.mode) ? undefined : `'${change.mode}' is not a privacy mode; give off, allow or deny`);
      return { next: { ...current, privacyMode: change.mode }, change };
    case 'list-add': {
      const domain = normalizeFederationDomain(change.domain);
      refuse(domainPatternProblem(domain));
      refuse(POLICY_DIRECTIONS.includes(change.direction) ? undefined : directionProblem(change.direction));
      const other: PolicyListName = change.list === 'allow' ? 'deny' : 'allow';
      if (current[other].some((e) => e.domain === domain)) refuse(onOtherList(domain, other));
      const entries: PolicyEntry[] = [...current[change.list].filter((e) => e.domain !== domain), { domain, direction: change.direction }];
      return { next: { ...current, [change.list]: byDomain(entries) }, change: { ...change, domain } };
    }
    case 'list-del': {
      const domain = normalizeFederationDomain(change.domain);
      refuse(domainPatternProblem(domain));
      if (!current[change.list].some((e) => e.domain === domain)) refuse(notOnList(domain, change.list));
      return { next: { ...current, [change.list]: current[change.list].filter((e) => e.domain !== domain) }, change: { ...change, domain } };
    }
    case 'route-add': {
      const domain = normalizeFederationDomain(change.domain);
      refuse(federationDomainProblem(domain));
      const to = target(change.target);
      const old = current.routes.find((r) => r.domain === domain)?.targets ?? [];
      if (old.includes(to)) refuse(routeExists(domain, to));
      const routes: StaticRoute[] = [...current.routes.filter((r) => r.domain !== domain), { domain, targets: [...old, to].sort() }];
      return { next: { ...current, routes: byDomain(routes) }, change: { type: 'route-add', domain, target: to } };
    }
    case 'route-del': {
      const domain = normalizeFederationDomain(change.domain);
      refuse(federationDomainProblem(domain));
      const to = change.target === undefined ? undefined : target(change.target);
      const old = current.routes.find((r) => r.domain === domain)?.targets;
      if (!old) refuse(noRoute(domain));
      if (to !== undefined && !old!.includes(to)) refuse(noRoute(domain, to));
      const rest = to === undefined ? [] : old!.filter((t) => t !== to);
      const routes = current.routes.filter((r) => r.domain !== domain);
      if (rest.length > 0) routes.push({ domain, targets: rest });
      return { next: { ...current, routes: byDomain(routes) }, change: to === undefined ? { type: 'route-del', domain } : { type: 'route-del', domain, target: to } };
    }
  }
}

export function directionProblem(word: string): string {
  return `'${word}' is not a direction; give both, incoming or outgoing`;
}

/**
 * settings.json's `federation`, checked as strictly as a change: absent in
 * files written before federation, which then load the defaults. Throws an
 * Error naming the field; the caller reports the file as corrupt.
 */
export function parseFederationSettings(value: unknown): FederationConfig {
  if (value === undefined) return DEFAULT_FEDERATION;
  const f = object(value, 'federation');
  const bool = (v: unknown, what: string): boolean => {
    if (typeof v !== 'boolean') throw new Error(`federation.${what} must be true or false`);
    return v;
  };
  const oneOf = <T extends string>(v: unknown, values: readonly T[], what: string): T => {
    if (!values.includes(v as T)) throw new Error(`federation.${what} must be one of ${values.join(', ')}`);
    return v as T;
  };
  if (f.dialbackSecret !== null && (typeof f.dialbackSecret !== 'string' || dialbackSecretProblem(f.dialbackSecret))) {
    throw new Error('federation.dialbackSecret must be null or a secret without whitespace');
  }
  const sasl = object(f.saslExternal, 'federation.saslExternal');
  const list = (v: unknown, what: string): PolicyEntry[] =>
    array(v, `federation.${what}`).map((raw, i) => {
      const e = object(raw, `federation.${what}[${i}]`);
      if (typeof e.domain !== 'string' || e.domain !== normalizeFederationDomain(e.domain) || domainPatternProblem(e.domain)) throw new Error(`federation.${what}[${i}].domain is not a lower-case domain or *.domain pattern`);
      return { domain: e.domain, direction: oneOf(e.direction, POLICY_DIRECTIONS, `${what}[${i}].direction`) };
    });
  const allow = list(f.allow, 'allow');
  const deny = list(f.deny, 'deny');
  const both = allow.find((a) => deny.some((d) => d.domain === a.domain));
  if (both) throw new Error(`federation: ${both.domain} is on both the allow and the deny list`);
  const routes = array(f.routes, 'federation.routes').map((raw, i): StaticRoute => {
    const r = object(raw, `federation.routes[${i}]`);
    if (typeof r.domain !== 'string' || r.domain !== normalizeFederationDomain(r.domain) || federationDomainProblem(r.domain)) throw new Error(`federation.routes[${i}].domain is not a lower-case domain`);
    const targets = array(r.targets, `federation.routes[${i}].targets`).map((t) => {
      const parsed = typeof t === 'string' ? parseHostPort(t, DEFAULT_S2S_PORT) : { problem: 'not a string' };
      if ('problem' in parsed || parsed.value !== t) throw new Error(`federation.routes[${i}].targets must be written as host:port`);
      return t as string;
    });
    if (targets.length === 0) throw new Error(`federation.routes[${i}] has no target`);
    return { domain: r.domain, targets };
  });
  return {
    enabled: bool(f.enabled, 'enabled'),
    dialbackSecret: f.dialbackSecret as string | null,
    securityMode: oneOf(f.securityMode, SECURITY_MODES, 'securityMode'),
    clientCertsRequired: bool(f.clientCertsRequired, 'clientCertsRequired'),
    saslExternal: { incoming: bool(sasl.incoming, 'saslExternal.incoming'), outgoing: bool(sasl.outgoing, 'saslExternal.outgoing') },
    privacyMode: oneOf(f.privacyMode, PRIVACY_MODES, 'privacyMode'),
    allow,
    deny,
    routes,
  };
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function array(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`${what} must be a list`);
  return v;
}

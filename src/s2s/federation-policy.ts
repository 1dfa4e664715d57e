import { StanzaError, StreamError } from '../xmpp/errors.js';

/**
 * Which remote domains may federate with us, in which direction: the privacy
 * mode, the allow and deny lists and the static routes of
 * federation.md ("Settings and their defaults", "Rules from the seeds").
 * Pure: a decision is a function of the settings and the domain. Build a new
 * FederationPolicy whenever the replicated settings change, then ask it about
 * every open stream: those it now refuses are the ones the change affects.
 */

export type PrivacyMode = 'off' | 'allow' | 'deny';
/** A list entry's direction: `both` covers incoming and outgoing streams. */
export type PolicyDirection = 'both' | 'incoming' | 'outgoing';
/**
 * A stream's direction. `incoming`: the peer connected to us and sends for its
 * domain. `outgoing`: we connect and send for ours. The connection a
 * receiving server opens to check a peer's dialback key (XEP-0220 §2.1.2,
 * `db:verify`) serves an incoming stream, so it is asked as `incoming`.
 */
export type StreamDirection = 'incoming' | 'outgoing';

/** `example.com` (exactly that domain) or `*.example.com` (the domain and its subdomains). */
export interface PolicyEntry {
  readonly domain: string;
  readonly direction: PolicyDirection;
}

export interface StaticRoute {
  readonly domain: string;
  /** `host:port`, normalized (cluster/state validates them). */
  readonly targets: readonly string[];
}

/**
 * The federation settings a decision needs. The fields mirror cluster/state's
 * `FederationView` (privacyMode, allow, deny, routes), so a view is passed as
 * it is: `new FederationPolicy(state.federation())`.
 */
export interface FederationPolicySettings {
  readonly privacyMode: PrivacyMode;
  readonly allow: readonly PolicyEntry[];
  readonly deny: readonly PolicyEntry[];
  readonly routes: readonly StaticRoute[];
}

/** Why a domain is allowed, for the event log. */
export type AllowedBy =
  /** Privacy mode off: every domain federates. */
  | 'privacy-off'
  /** Allow mode, an allow-list entry covers the domain and the direction. */
  | 'allow-list'
  /** Allow mode, the domain has a static route (federation.md: allowed automatically). */
  | 'static-route'
  /** Deny mode, no deny-list entry covers the domain and the direction. */
  | 'not-denied';

export type RefusedBecause =
  /** Allow mode, no allow-list entry (nor a static route) covers the domain in this direction. */
  | 'not-on-allow-list'
  /** Deny mode, a deny-list entry covers the domain and the direction. */
  | 'on-deny-list'
  /** Not a domain name at all (empty, a pattern, a bracketed address): never federates. */
  | 'invalid-domain';

export type PolicyDecision =
  | { readonly allowed: true; readonly by: AllowedBy; readonly entry?: PolicyEntry }
  | {
      readonly allowed: false;
      readonly reason: RefusedBecause;
      /** The deny entry that refused; or an allow entry that names the domain for the other direction only. */
      readonly entry?: PolicyEntry;
      /** One line for the `policy-refused` event. */
      readonly text: string;
    };

/** RFC 1035 labels, ASCII only (IDNA is not needed: the settings are ASCII). */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Domains compare case-insensitively (RFC 7622 §3.2) and a trailing dot
 * names the same domain (`example.com.` is the DNS root-anchored form), so
 * both sides are lowercased and lose one trailing dot before comparing.
 * Returns undefined for anything that is not a domain name.
 */
export function normalizeDomain(domain: string): string | undefined {
  const d = domain.toLowerCase().replace(/\.$/, '');
  if (d.length === 0 || d.length > 253) return undefined;
  return d.split('.').every((label) => LABEL.test(label)) ? d : undefined;
}

/** The entries of one list, split into exact domains and `*.` suffixes, each with its directions. */
class CompiledList {
  private readonly exact = new Map<string, PolicyEntry[]>();
  private readonly wildcard = new Map<string, PolicyEntry[]>();

  constructor(entries: readonly PolicyEntry[]) {
    for (const entry of entries) {
      const isWildcard = entry.domain.startsWith('*.');
      const base = normalizeDomain(isWildcard ? entry.domain.slice(2) : entry.domain);
      // A malformed entry names no domain: it can match none (cluster/state refuses them anyway).
      if (base === undefined) continue;
      const map = isWildcard ? this.wildcard : this.exact;
      map.set(base, [...(map.get(base) ?? []), entry]);
    }
  }

  /**
   * Every entry that names `domain`: an exact entry for it, and `*.x` for x
   * the domain itself or any parent. Parents are walked label by label, so
   * `*.example.com` never matches `badexample.com`.
   */
  matching(domain: string): PolicyEntry[] {
    const found = [...(this.exact.get(domain) ?? [])];
    for (let suffix: string | undefined = domain; suffix !== undefined; suffix = parentOf(suffix)) {
      found.push(...(this.wildcard.get(suffix) ?? []));
    }
    return found;
  }
}

function parentOf(domain: string): string | undefined {
  const dot = domain.indexOf('.');
  return dot === -1 ? undefined : domain.slice(dot + 1);
}

function covers(entry: PolicyEntry, direction: StreamDirection): boolean {
  return entry.direction === 'both' || entry.direction === direction;
}

/**
 * The decisions of one version of the settings. Entries add up: a domain is
 * covered in a direction when ANY entry that names it covers that direction.
 * A narrower entry never takes away what a wider one grants (deny
 * `*.example.com both` plus deny `chat.example.com incoming` still denies
 * outgoing streams to chat.example.com). Only the list of the current mode is
 * read, so a pattern on the allow list and a narrower one on the deny list
 * (which cluster/state permits: only identical entries are exclusive) never
 * meet in one decision.
 */
export class FederationPolicy {
  readonly mode: PrivacyMode;
  private readonly allowList: CompiledList;
  private readonly denyList: CompiledList;
  private readonly routed: ReadonlySet<string>;

  constructor(settings: FederationPolicySettings) {
    this.mode = settings.privacyMode;
    this.allowList = new CompiledList(settings.allow);
    this.denyList = new CompiledList(settings.deny);
    this.routed = new Set(
      settings.routes
        .filter((r) => r.targets.length > 0)
        .map((r) => normalizeDomain(r.domain))
        .filter((d): d is string => d !== undefined),
    );
  }

  /** May a stream in `direction` carry traffic between us and `domain`? */
  allows(domain: string, direction: StreamDirection): PolicyDecision {
    const d = normalizeDomain(domain);
    if (d === undefined) {
      return { allowed: false, reason: 'invalid-domain', text: `${JSON.stringify(domain)} is not a domain name` };
    }
    switch (this.mode) {
      case 'off':
        return { allowed: true, by: 'privacy-off' };
      case 'allow':
        return this.allowMode(d, direction);
      case 'deny':
        return this.denyMode(d, direction);
    }
  }

  private allowMode(domain: string, direction: StreamDirection): PolicyDecision {
    const entries = this.allowList.matching(domain);
    const granting = entries.find((e) => covers(e, direction));
    if (granting) return { allowed: true, by: 'allow-list', entry: granting };
    // federation.md: "In allow mode, every domain that has a static route is
    // allowed automatically" — both ways: the operator set the peer up.
    if (this.routed.has(domain)) return { allowed: true, by: 'static-route' };
    const other = entries[0];
    if (other !== undefined) {
      return {
        allowed: false,
        reason: 'not-on-allow-list',
        entry: other,
        text: `${domain} is on the allow list (${other.domain}) for ${other.direction} streams only, not ${direction}`,
      };
    }
    return { allowed: false, reason: 'not-on-allow-list', text: `${domain} is not on the allow list` };
  }

  private denyMode(domain: string, direction: StreamDirection): PolicyDecision {
    const denying = this.denyList.matching(domain).find((e) => covers(e, direction));
    if (denying === undefined) return { allowed: true, by: 'not-denied' };
    return {
      allowed: false,
      reason: 'on-deny-list',
      entry: denying,
      text: `${domain} is on the deny list (${denying.domain}, ${denying.direction}) for ${direction} streams`,
    };
  }
}

/** One decision without keeping the compiled policy (tests, one-off checks). */
export function federationAllows(settings: FederationPolicySettings, domain: string, direction: StreamDirection): PolicyDecision {
  return new FederationPolicy(settings).allows(domain, direction);
}

/**
 * Streams a new version of the settings refuses: after a live change, close
 * exactly these and leave every other stream up (federation.md, "Where we go
 * further").
 */
export function refusedStreams<S extends { readonly domain: string; readonly direction: StreamDirection }>(
  policy: FederationPolicy,
  streams: Iterable<S>,
): S[] {
  return [...streams].filter((s) => !policy.allows(s.domain, s.direction).allowed);
}

/**
 * What a refusal looks like on the wire (federation.md, "Errors on the
 * wire"): an incoming stream ends with the stream error `<policy-violation/>`
 * (RFC 6120 §4.9.3.13); a stanza for an outgoing stream bounces to its sender
 * with `<not-allowed/>`, type `cancel` (RFC 6120 §8.3.3.10). The wire text
 * names only the domain: which list entry refused it is for our log
 * (`decision.text`), not for the peer.
 */
export function policyIncomingError(domain: string): StreamError {
  return new StreamError('policy-violation', `federation with ${domain} is not allowed`);
}

export function policyOutgoingError(domain: string): StanzaError {
  return new StanzaError('not-allowed', `federation with ${domain} is not allowed`, 'cancel');
}

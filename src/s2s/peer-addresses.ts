import type { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { lookupSrv, SrvLookupError } from '../dns/srv-lookup.js';
import { orderByWeight, type RandomFloat } from '../dns/srv-order.js';
import { SERVER_SERVICE } from '../dns/zone.js';
import { normalizeDomain, type StaticRoute } from './federation-policy.js';

/**
 * Where an outgoing stream to a remote domain connects, in the order to try
 * (federation.md, "Rules from the seeds"; RFC 6120 §3.2):
 *
 * 1. Static routes, when the domain has any: every target, and nothing else.
 *    A domain with routes never falls back to DNS, even when none of its
 *    routes answers (the seeds' rule: the operator said where the peer is).
 *    The routes have equal priority, so they are tried in a random order
 *    (Fisher-Yates with the injected `random`, as weight-0 SRV records of
 *    one priority are, RFC 2782): every node of ours spreads its streams
 *    over the peer's servers instead of all choosing the first one.
 *    cluster/state keeps the targets sorted, so "the given order" would send
 *    everything to the alphabetically first host.
 * 2. Else `_xmpp-server._tcp.<domain>` SRV, in RFC 2782 order
 *    (src/dns/srv-order.ts), each target's IPv4 then IPv6 addresses
 *    (RFC 6120 §3.2.1 steps 4–7).
 * 3. Else the domain's own A/AAAA on 5269 (RFC 6120 §3.2.2), but only when
 *    the SRV query got no SRV answer:
 *    - no such name / no SRV records (NXDOMAIN, NODATA): fall back;
 *    - the query failed (timeout, SERVFAIL, refused): fall back. RFC 6120
 *      §3.2.1 step 9: "If the initiating entity does not receive a response
 *      to its SRV query, it SHOULD attempt the fallback process". A failed
 *      query tells nothing about the domain's SRV records, and the A/AAAA
 *      names the same domain, so the peer we reach is the same one the
 *      certificate or dialback check is made against;
 *    - a single SRV record with target "." (RFC 2782: the service is
 *      "decidedly not available"): no fallback, no address (RFC 6120 §3.2.1
 *      step 3 aborts SRV processing; we take RFC 2782 at its word);
 *    - SRV records whose targets have no address: no fallback (RFC 6120
 *      §3.2.1 step 8: a response was received, the fallback SHOULD NOT be
 *      attempted, so inbound and outbound streams do not disagree on the peer).
 *
 * Resolution only: connecting is the stream code's. An empty `addresses`
 * means no address can answer, and the queued stanzas bounce with
 * `<remote-server-not-found/>` (connect-failure.ts).
 */

/** RFC 6120 §14.7: the IANA `xmpp-server` port. */
export const DEFAULT_S2S_PORT = 5269;

export { SERVER_SERVICE };

export type AddressSource = 'route' | 'srv' | 'a';

export interface PeerAddress {
  /** The name it was found under: a route's host or IP, an SRV target, or the domain itself. */
  readonly host: string;
  /** An IPv4 or IPv6 address to connect to. */
  readonly address: string;
  readonly port: number;
  readonly via: AddressSource;
}

/** One DNS question asked on the way, for the event log. */
export interface LookupStep {
  readonly query: string;
  readonly type: 'SRV' | 'A/AAAA';
  /** `answer`: records came back; `none`: the name or type does not exist; `failed`: the resolver gave no answer. */
  readonly result: 'answer' | 'none' | 'failed' | 'service-not-available';
  /** The resolver's code (ENOTFOUND, ENODATA, ETIMEOUT, ESERVFAIL, EREFUSED ...), when it failed. */
  readonly code?: string;
}

/** Why there is no address, when there is none. */
export type NoAddressReason =
  /** The domain has static routes, but none of their hosts resolved. */
  | 'routes-unresolved'
  /** SRV target "." (RFC 2782). */
  | 'service-not-available'
  /** SRV records whose targets have no A/AAAA record. */
  | 'srv-targets-unresolved'
  /** No SRV records and no A/AAAA for the domain. */
  | 'domain-unresolved'
  /** The SRV query failed, and the fallback found nothing either. */
  | 'resolver-failure';

export interface PeerAddresses {
  /** The domain asked for, normalized (lowercase, no trailing dot). */
  readonly domain: string;
  /** Which rule gave the addresses (or, when there are none, was the last one tried). */
  readonly source: 'routes' | 'srv' | 'fallback';
  /** In the order to try; each (address, port) once. */
  readonly addresses: readonly PeerAddress[];
  readonly steps: readonly LookupStep[];
  /** Set exactly when `addresses` is empty. */
  readonly failure?: { readonly reason: NoAddressReason; readonly message: string };
}

export interface PeerLookupOptions {
  /** Node's resolver (src/dns/srv-lookup.ts `createResolver`): bounded time, the site's servers. */
  readonly resolver: Resolver;
  /** The static routes of the federation settings (all domains; matched case-insensitively). */
  readonly routes?: readonly StaticRoute[];
  /** Orders routes and equal-priority SRV records; Math.random by default. */
  readonly random?: RandomFloat;
}

/** The addresses an outgoing stream to `domain` tries, in order. DNS failures are results (`failure`, `steps`), never rejections. */
export async function peerAddresses(domain: string, options: PeerLookupOptions): Promise<PeerAddresses> {
  const d = normalizeDomain(domain) ?? domain.toLowerCase().replace(/\.$/, '');
  const random = options.random ?? Math.random;
  const steps: LookupStep[] = [];

  const targets = routeTargets(d, options.routes ?? []);
  if (targets.length > 0) return fromRoutes(d, targets, options.resolver, random, steps);

  // A domain that is an IP literal (RFC 7622 §3.2) has no SRV records: connect to it.
  const literal = ipLiteral(d);
  if (literal !== undefined) {
    return { domain: d, source: 'fallback', addresses: [{ host: d, address: literal, port: DEFAULT_S2S_PORT, via: 'a' }], steps };
  }

  let srvFailed: SrvLookupError | undefined;
  try {
    const srv = await lookupSrv(d, { resolver: options.resolver, random, service: SERVER_SERVICE });
    steps.push({ query: srv.name, type: 'SRV', result: 'answer' });
    const addresses = srv.targets.flatMap((t) => t.addresses.map((address) => ({ host: t.target, address, port: t.port, via: 'srv' as const })));
    return { domain: d, source: 'srv', addresses: unique(addresses), steps };
  } catch (err) {
    if (!(err instanceof SrvLookupError)) throw err;
    srvFailed = err;
  }

  const query = srvFailed.query;
  switch (srvFailed.condition) {
    case 'service-not-available':
      steps.push({ query, type: 'SRV', result: 'service-not-available' });
      return noAddress(d, 'srv', steps, 'service-not-available', `${query}: the service is not available at ${d} (SRV target ".", RFC 2782)`);
    case 'no-address-records':
      steps.push({ query, type: 'SRV', result: 'answer' });
      return noAddress(d, 'srv', steps, 'srv-targets-unresolved', `${query}: no SRV target has an A or AAAA record`);
    case 'no-srv-records':
      steps.push({ query, type: 'SRV', result: 'none', ...code(srvFailed.code) });
      break;
    case 'resolver-failure':
      steps.push({ query, type: 'SRV', result: 'failed', ...code(srvFailed.code) });
      break;
  }

  // RFC 6120 §3.2.2: the domain's own A/AAAA, on the xmpp-server port.
  const host = await hostAddresses(options.resolver, d);
  steps.push(host.step);
  const addresses = host.addresses.map((address) => ({ host: d, address, port: DEFAULT_S2S_PORT, via: 'a' as const }));
  if (addresses.length > 0) return { domain: d, source: 'fallback', addresses, steps };
  return srvFailed.condition === 'resolver-failure'
    ? noAddress(d, 'fallback', steps, 'resolver-failure', `DNS lookup of ${query} failed (${srvFailed.code ?? 'no answer'}) and ${d} has no A or AAAA record`)
    : noAddress(d, 'fallback', steps, 'domain-unresolved', `${d} has no ${SERVER_SERVICE} SRV records and no A or AAAA record`);
}

interface RouteTarget {
  readonly host: string;
  readonly port: number;
}

/** The targets of `domain`'s routes, parsed from cluster/state's normalized `host:port`. */
function routeTargets(domain: string, routes: readonly StaticRoute[]): RouteTarget[] {
  const targets = routes.filter((r) => normalizeDomain(r.domain) === domain).flatMap((r) => r.targets);
  return targets.map(parseTarget).filter((t): t is RouteTarget => t !== undefined);
}

/** `host`, `host:port`, `1.2.3.4:port`, `[v6]:port`; a malformed target names no host (cluster/state refuses them). */
export function parseTarget(text: string): RouteTarget | undefined {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return withPort(bracketed[1]!.toLowerCase(), bracketed[2]);
  const m = /^([^:[\]\s]+)(?::(\d+))?$/.exec(text);
  if (!m) return undefined;
  return withPort(m[1]!.toLowerCase().replace(/\.$/, ''), m[2]);
}

function withPort(host: string, port: string | undefined): RouteTarget | undefined {
  const n = port === undefined ? DEFAULT_S2S_PORT : Number(port);
  return n >= 1 && n <= 65535 && host.length > 0 ? { host, port: n } : undefined;
}

async function fromRoutes(domain: string, targets: RouteTarget[], resolver: Resolver, random: RandomFloat, steps: LookupStep[]): Promise<PeerAddresses> {
  // Equal priority, weight 0 each: RFC 2782's ordering within one priority is a shuffle.
  const order = orderByWeight(
    targets.map((t) => ({ priority: 0, weight: 0, port: t.port, target: t.host })),
    random,
  );
  const names = [...new Set(order.filter((t) => ipLiteral(t.target) === undefined).map((t) => t.target))];
  const resolved = new Map(await Promise.all(names.map(async (n) => [n, await hostAddresses(resolver, n)] as const)));
  for (const n of names) steps.push(resolved.get(n)!.step);
  const addresses = order.flatMap((t) => {
    const literal = ipLiteral(t.target);
    const list = literal !== undefined ? [literal] : resolved.get(t.target)!.addresses;
    return list.map((address) => ({ host: t.target, address, port: t.port, via: 'route' as const }));
  });
  if (addresses.length > 0) return { domain, source: 'routes', addresses: unique(addresses), steps };
  return noAddress(domain, 'routes', steps, 'routes-unresolved', `no static route host of ${domain} has an A or AAAA record (${names.join(', ')})`);
}

interface HostLookup {
  readonly addresses: string[];
  readonly step: LookupStep;
}

const ABSENT = new Set(['ENOTFOUND', 'ENODATA']);

/** A and AAAA of one name, asked at once: IPv4 first, then IPv6, each in the server's order. */
async function hostAddresses(resolver: Resolver, name: string): Promise<HostLookup> {
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  const addresses = [v4, v6].flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
  if (addresses.length > 0) return { addresses, step: { query: name, type: 'A/AAAA', result: 'answer' } };
  const codes = [v4, v6].map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : undefined));
  const failure = codes.find((c) => c !== undefined && !ABSENT.has(c));
  if (failure !== undefined) return { addresses, step: { query: name, type: 'A/AAAA', result: 'failed', code: failure } };
  return { addresses, step: { query: name, type: 'A/AAAA', result: 'none', ...code(codes.find((c) => c !== undefined)) } };
}

/** An IP address literal, without IPv6 brackets; undefined for a host name. */
function ipLiteral(host: string): string | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isIP(bare) === 0 ? undefined : bare;
}

/** Each (address, port) once, first place kept: two SRV targets or routes naming one server are one attempt. */
function unique(addresses: PeerAddress[]): PeerAddress[] {
  const seen = new Set<string>();
  return addresses.filter((a) => {
    const key = `${a.address}|${a.port}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function code(c: string | undefined): { code?: string } {
  return c === undefined ? {} : { code: c };
}

function noAddress(domain: string, source: PeerAddresses['source'], steps: LookupStep[], reason: NoAddressReason, message: string): PeerAddresses {
  return { domain, source, addresses: [], steps, failure: { reason, message } };
}

import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { orderSrvRecords, serviceNotAvailable, type RandomFloat } from './srv-order.js';
import { COMPONENT_SERVICE, type SrvRecord } from './zone.js';

/**
 * How a call bridge finds the cluster (CMS: "Server address" left empty):
 * resolve `_xmpp-component._tcp.<domain>` SRV, then each target's A and AAAA
 * records, with Node's own resolver (c-ares). The targets come back in
 * RFC 2782 order, each with its addresses, and with a time after which the
 * answer should be looked up again.
 */

export { COMPONENT_SERVICE };

/**
 * Node's resolveSrv reports no TTL, so the re-resolve deadline comes from the
 * smallest A/AAAA TTL of the targets, kept within these bounds: at least 1 s
 * (a TTL of 0 would mean a lookup before every connection attempt) and at
 * most 300 s (a site's 86400 s SRV TTL would otherwise hide a new node for a
 * day from a call bridge that never loses its session).
 */
export const MIN_RERESOLVE_SECONDS = 1;
export const MAX_RERESOLVE_SECONDS = 300;

/** One SRV target, resolved: its addresses, IPv4 first, in the order the server gave them. */
export interface SrvTarget extends SrvRecord {
  readonly addresses: readonly string[];
}

export interface SrvResolution {
  /** `_xmpp-component._tcp.example.test`. */
  readonly name: string;
  /** RFC 2782 order; only targets with at least one address. */
  readonly targets: readonly SrvTarget[];
  /** Targets named in SRV records that have no A or AAAA record. */
  readonly unresolved: readonly string[];
  /** Seconds until `expiresAt`, after the bounds above. */
  readonly ttlSeconds: number;
  /** Milliseconds since the epoch (the `now` given): look the name up again after it. */
  readonly expiresAt: number;
}

/**
 * Why a lookup gave no target to connect to. Every kind is a "dns error" to
 * the call bridge: CMS logs `XMPP component connection disconnected due to
 * failure reason: "dns error"` after the specific line.
 */
export type SrvLookupCondition =
  /** The SRV name does not exist or has no SRV records. */
  | 'no-srv-records'
  /** RFC 2782: a single SRV record whose target is "." */
  | 'service-not-available'
  /** SRV records, but none of their targets has an A or AAAA record (the seeds' line). */
  | 'no-address-records'
  /** The resolver failed: timeout, refused, SERVFAIL, unreachable. */
  | 'resolver-failure';

export class SrvLookupError extends Error {
  /** The CMS failure reason for every DNS failure. */
  readonly failureReason = 'dns error';
  constructor(
    readonly condition: SrvLookupCondition,
    /** The SRV name looked up. */
    readonly query: string,
    /** The resolver's code (ENOTFOUND, ENODATA, ESERVFAIL, ETIMEOUT, ECONNREFUSED ...), when it gave one. */
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'SrvLookupError';
  }
}

/** The line CMS logs after every DNS failure (reference: ports-and-names.md, "Log wording"). */
export const DNS_ERROR_LINE = 'XMPP component connection disconnected due to failure reason: "dns error"';

/** `No DNS A or AAAA records for _xmpp-component._tcp.<domain>`: the seeds' words. */
export function noAddressRecordsMessage(query: string): string {
  return `No DNS A or AAAA records for ${query}`;
}

export interface ResolverOptions {
  /** `--dns` values: `<addr>[:<port>]`; the system's resolvers when absent. */
  servers?: readonly string[];
  /** Per query try (c-ares `timeout`), default 2000 ms. */
  timeoutMs?: number;
  /** Tries per server (c-ares `tries`), default 2. */
  tries?: number;
}

/** A Node resolver with bounded time: a dead DNS server costs at most about timeoutMs × tries × servers. */
export function createResolver(options: ResolverOptions = {}): Resolver {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
  if (options.servers && options.servers.length > 0) resolver.setServers(options.servers.map(parseDnsServer));
  return resolver;
}

/**
 * `--dns <addr>[:<port>]`: an IPv4 address with an optional port, an IPv6
 * address, or `[IPv6]:port`. Returns the form `setServers` takes; throws an
 * Error that says what was expected.
 */
export function parseDnsServer(text: string): string {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed && isIP(bracketed[1]!) === 6) return checkPort(text, bracketed[2]) ? text : invalid(text);
  if (isIP(text) === 6 || isIP(text) === 4) return text;
  const v4 = /^([^:]+):(\d+)$/.exec(text);
  if (v4 && isIP(v4[1]!) === 4 && checkPort(text, v4[2])) return text;
  return invalid(text);
}

function checkPort(_text: string, port: string | undefined): boolean {
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
}

function invalid(text: string): never {
  throw new Error(`--dns ${text}: expected an IP address with an optional port (127.0.0.1:5300, [::1]:53)`);
}

export interface LookupOptions {
  resolver: Resolver;
  /** Orders targets of equal priority (RFC 2782 weights); Math.random by default. */
  random?: RandomFloat;
  /** The clock, for `expiresAt`. */
  now?: () => number;
  /** Default `_xmpp-component._tcp`. */
  service?: string;
}

/** Codes c-ares gives for "this name has no such records" rather than "the lookup failed". */
const ABSENT = new Set(['ENOTFOUND', 'ENODATA']);

/** Resolves `<service>.<domain>` SRV and its targets' addresses; rejects with SrvLookupError. */
export async function lookupSrv(domain: string, options: LookupOptions): Promise<SrvResolution> {
  const query = `${options.service ?? COMPONENT_SERVICE}.${domain.toLowerCase().replace(/\.$/, '')}`;
  let answer: Array<{ priority: number; weight: number; port: number; name: string }>;
  try {
    answer = await options.resolver.resolveSrv(query);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code && ABSENT.has(code)) {
      throw new SrvLookupError('no-srv-records', query, code, `No DNS SRV records for ${query} (${code})`);
    }
    throw new SrvLookupError('resolver-failure', query, code, `DNS lookup of ${query} failed: ${code ?? (err as Error).message}`);
  }
  const records: SrvRecord[] = answer.map((r) => ({ priority: r.priority, weight: r.weight, port: r.port, target: r.name.replace(/\.$/, '') }));
  if (records.length === 0) throw new SrvLookupError('no-srv-records', query, 'ENODATA', `No DNS SRV records for ${query} (ENODATA)`);
  if (serviceNotAvailable(records)) {
    throw new SrvLookupError('service-not-available', query, undefined, `${query}: service not available (SRV target ".", RFC 2782)`);
  }
  const ordered = orderSrvRecords(records, options.random);

  // Each target name once, however many records (ports, priorities) name it.
  const names = [...new Set(ordered.map((r) => r.target.toLowerCase()))];
  const hosts = new Map(await Promise.all(names.map(async (n) => [n, await addressesOf(options.resolver, n)] as const)));

  const targets: SrvTarget[] = [];
  const unresolved = new Set<string>();
  let ttl = Infinity;
  let failureCode: string | undefined;
  for (const r of ordered) {
    const host = hosts.get(r.target.toLowerCase())!;
    failureCode ??= host.failureCode;
    if (host.addresses.length === 0) {
      unresolved.add(r.target);
      continue;
    }
    ttl = Math.min(ttl, host.ttl);
    targets.push({ ...r, addresses: host.addresses });
  }
  if (targets.length === 0) throw new SrvLookupError('no-address-records', query, failureCode, noAddressRecordsMessage(query));
  const ttlSeconds = Math.min(MAX_RERESOLVE_SECONDS, Math.max(MIN_RERESOLVE_SECONDS, ttl));
  const now = (options.now ?? Date.now)();
  return { name: query, targets, unresolved: [...unresolved], ttlSeconds, expiresAt: now + ttlSeconds * 1000 };
}

interface HostAnswer {
  addresses: string[];
  /** Smallest TTL among them, seconds. */
  ttl: number;
  /** A resolver failure other than "no such record", for the error's code. */
  failureCode: string | undefined;
}

/** A and AAAA of one target, asked at once; a missing type is just no addresses of that family. */
async function addressesOf(resolver: Resolver, name: string): Promise<HostAnswer> {
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name, { ttl: true }), resolver.resolve6(name, { ttl: true })]);
  const answers = [v4, v6].flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
  const failure = [v4, v6]
    .map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : undefined))
    .find((code) => code !== undefined && !ABSENT.has(code));
  return {
    addresses: answers.map((a) => a.address),
    ttl: answers.reduce((min, a) => Math.min(min, a.ttl), Infinity),
    failureCode: failure,
  };
}

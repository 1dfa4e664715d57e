/**
 * The `xmpp dns` values a node accepts, checked the same way whether the
 * node keeps them itself (settings.json) or proposes them to its cluster, so
 * an operator sees the same `Error:` words either way: the TTL, a member's
 * SRV record (RFC 2782: target host, 16-bit priority and weight), and the
 * addresses this node's responder listens on.
 */
import { isIP } from 'node:net';
import { OperatorError } from '../base/operator-error.js';
import { DEFAULT_DNS_PORT, type DnsRecordSetting } from '../dns/zone.js';
import { domainNameProblem } from '../xmpp/jid.js';

/** One day: a longer TTL would keep a dead member in resolvers' caches past any failover worth having. */
export const MAX_DNS_TTL = 86400;
/** The federation port `_xmpp-server._tcp` records name (ports-and-names.md). */
export const XMPP_SERVER_PORT = 5269;

/** Where this node's responder listens: an IP literal and a port. */
export interface DnsEndpoint {
  readonly host: string;
  readonly port: number;
}

export function dnsTtlProblem(ttl: number): string | null {
  return Number.isInteger(ttl) && ttl >= 1 && ttl <= MAX_DNS_TTL ? null : `the TTL must be whole seconds from 1 to ${MAX_DNS_TTL}, not ${ttl}`;
}

export function checkDnsTtl(ttl: number): void {
  const problem = dnsTtlProblem(ttl);
  if (problem) throw new OperatorError(problem);
}

const uint16Problem = (value: number, what: string): string | null =>
  Number.isInteger(value) && value >= 0 && value <= 65535 ? null : `the ${what} must be a whole number from 0 to 65535, not ${value}`;

/** Why `setting` cannot be a member's SRV record (its target as a host name, without the trailing dot), or null. */
export function dnsRecordProblem(setting: DnsRecordSetting): string | null {
  const target = setting.target;
  const problem = domainNameProblem(target);
  if (problem) return `'${target}' is not a host name for an SRV target: ${problem.replace(/^the domain/, 'the name')}`;
  return uint16Problem(setting.priority, 'priority') ?? uint16Problem(setting.weight, 'weight');
}

/** The record as it is kept: the target lower-case, without the trailing dot of its FQDN form. */
export function normalizeDnsRecord(setting: DnsRecordSetting): DnsRecordSetting {
  const next = { target: setting.target.toLowerCase().replace(/\.$/, ''), priority: setting.priority, weight: setting.weight };
  const problem = dnsRecordProblem(next);
  if (problem) throw new OperatorError(problem);
  return next;
}

/** `127.0.0.1`, `127.0.0.1:5300`, `::1`, `[::1]:5300`; the port defaults to 53. */
export function parseDnsEndpoint(text: string): DnsEndpoint {
  const bad = () => new OperatorError(`'${text}' is not an IP address with an optional port (127.0.0.1, 127.0.0.1:5300, ::1 or [::1]:5300)`);
  let host = text;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
    if (isIP(host) !== 6) throw bad();
  } else if (isIP(text) !== 6) {
    const parts = text.split(':');
    if (parts.length > 2 || isIP(parts[0]!) !== 4) throw bad();
    host = parts[0]!;
    portText = parts[1];
  }
  let port = DEFAULT_DNS_PORT;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) throw new OperatorError(`'${portText}' is not a port number (1 to 65535)`);
  }
  return { host: host.toLowerCase(), port };
}

/** `127.0.0.1:53`, `[::1]:5300`: how settings.json keeps it and `xmpp dns` shows it. */
export function formatDnsEndpoint(e: DnsEndpoint): string {
  return isIP(e.host) === 6 ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** `xmpp dns listen <address>[:<port>] [...]`, or `none`: the endpoints as kept, each once. */
export function normalizeDnsListen(words: readonly string[]): string[] {
  if (words.length === 1 && words[0] === 'none') return [];
  const out: string[] = [];
  for (const word of words) {
    const e = formatDnsEndpoint(parseDnsEndpoint(word));
    if (out.includes(e)) throw new OperatorError(`${e} is given twice`);
    out.push(e);
  }
  return out;
}

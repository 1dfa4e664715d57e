import { domainNameProblem } from './jid.js';

/**
 * What the federation settings of federation.md may hold, and the words a
 * refusal uses, in the one place both holders of those settings can import:
 * a standalone node's configuration (src/node) and the replicated cluster
 * state (cluster/state, which sits below src/node and may import only this
 * floor). So an operator reads the same `Error:` line on a standalone node and
 * on any cluster member, and a command decoded from the Raft log is held to
 * the same rules as one typed at the MMP.
 */

/** RFC 6120 §3.2: the port of `_xmpp-server._tcp`, and of a static route that names none. */
export const DEFAULT_S2S_PORT = 5269;

/** Domains compare case-insensitively (RFC 7622 §3.2); a trailing dot names the same DNS domain. */
export function normalizeFederationDomain(domain: string): string {
  return domain.toLowerCase().replace(/\.$/, '');
}

/** A remote domain as a static route names it: a DNS name (after normalizeFederationDomain). */
export function federationDomainProblem(domain: string): string | undefined {
  const problem = domainNameProblem(domain);
  return problem ? `'${domain}' is not a domain name: ${problem}` : undefined;
}

/** An allow or deny list entry: an exact domain, or `*.example.com` (the domain and its subdomains). */
export function domainPatternProblem(pattern: string): string | undefined {
  const base = pattern.startsWith('*.') ? pattern.slice(2) : pattern;
  const problem = base.includes('*') ? "'*' may only start a pattern, as in *.example.com" : domainNameProblem(base);
  return problem ? `'${pattern}' is not a domain or *.domain pattern: ${problem}` : undefined;
}

/** Shared by our own nodes only, but it must survive shells and settings files (XEP-0185, "Security Considerations"). */
export function dialbackSecretProblem(secret: string): string | undefined {
  if (secret.length === 0) return 'dialback secret is empty';
  if (secret.length > 1024) return 'dialback secret is longer than 1024 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(secret)) return 'dialback secret contains whitespace or control characters';
  return undefined;
}

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * `host[:port]` for a static route or member address: a DNS name, IPv4
 * address or bracketed IPv6 address; the port defaults to `defaultPort`.
 * Returns the normalized `host:port` (lower-case, port always written) or a problem.
 */
export function parseHostPort(text: string, defaultPort: number): { value: string } | { problem: string } {
  let host = text;
  let port = defaultPort;
  const bracket = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(text);
  if (bracket) {
    host = `[${bracket[1]!.toLowerCase()}]`;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0) {
      host = text.slice(0, colon);
      if (!/^\d+$/.test(text.slice(colon + 1))) return { problem: `'${text}' has an invalid port` };
      port = Number(text.slice(colon + 1));
    }
    if (!IPV4.test(host) && domainNameProblem(host) !== null) return { problem: `'${host}' is not a host name or IP address` };
    host = host.toLowerCase();
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { problem: `port ${port} is outside 1–65535` };
  return { value: `${host}:${port}` };
}

// ---- refusals that depend on what the settings hold already ---------------

export type PolicyListName = 'allow' | 'deny';

/** federation.md: "The allow and deny lists are exclusive: a domain cannot be on both." */
export const onOtherList = (domain: string, other: PolicyListName): string => `${domain} is on the ${other} list; delete it there first`;
export const notOnList = (domain: string, list: PolicyListName): string => `${domain} is not on the ${list} list`;
export const routeExists = (domain: string, target: string): string => `route ${domain} ${target} already exists`;
export const noRoute = (domain: string, target?: string): string => (target === undefined ? `no static route for ${domain}` : `no static route ${domain} ${target}`);

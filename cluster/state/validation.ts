/**
 * Syntax checks for values that enter the replicated state. Each returns a
 * problem description (for the operator's `Error:` line) or undefined.
 * Checked before a command is proposed and again when it is decoded from the
 * log, so a corrupt or hostile entry can never reach the state.
 */

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function dnsLabelProblem(label: string): string | undefined {
  return LABEL.test(label) ? undefined : `'${label}' is not a DNS label (letters, digits, hyphens; 1–63; not starting or ending with a hyphen)`;
}

export function domainProblem(domain: string): string | undefined {
  if (domain.length === 0 || domain.length > 253) return `domain must have 1–253 characters`;
  for (const label of domain.split('.')) {
    if (!LABEL.test(label)) return `'${domain}' is not a valid DNS name`;
  }
  return undefined;
}

/** Exact domain or `*.example.com` (the domain and its subdomains). */
export function domainPatternProblem(pattern: string): string | undefined {
  return domainProblem(pattern.startsWith('*.') ? pattern.slice(2) : pattern);
}

/** Secrets: non-empty, no whitespace or control characters (they must survive shells and config files). */
export function secretProblem(secret: string, what = 'secret'): string | undefined {
  if (secret.length === 0) return `${what} is empty`;
  if (secret.length > 1024) return `${what} is longer than 1024 characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(secret)) return `${what} contains whitespace or control characters`;
  return undefined;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

export function pemBundleProblem(pem: string): string | undefined {
  if (pem.length > 1024 * 1024) return 'trust bundle is larger than 1 MiB';
  if (!PEM_BLOCK.test(pem)) return 'trust bundle holds no PEM certificate';
  return undefined;
}

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * `host[:port]` for a static route or member address: a DNS name, IPv4
 * address or bracketed IPv6 address; the port defaults to `defaultPort`.
 * Returns the normalized `host:port` or a problem.
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
    if (!IPV4.test(host) && domainProblem(host) !== undefined) return { problem: `'${host}' is not a host name or IP address` };
    host = host.toLowerCase();
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { problem: `port ${port} is outside 1–65535` };
  return { value: `${host}:${port}` };
}

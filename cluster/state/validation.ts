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

/**
 * `host[:port]` (static routes, member addresses) and the allow/deny list
 * patterns: the same rules and words as a standalone node's settings, from
 * the one floor both may import.
 */
export { domainPatternProblem, parseHostPort } from '../../src/xmpp/federation-rules.js';

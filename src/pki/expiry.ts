import type { X509Certificate } from './x509.js';

/**
 * Certificate expiry warnings (issue 16: "`pki` warns 30 days ahead"): a
 * certificate the node presents, or one of the bundles it checks peers
 * against, that expires within the warning window or has expired. A renewal
 * takes a CSR, a CA's signature and an upload on every host, so a month's
 * notice is what an operator needs; an expired one already breaks every new
 * peer link and federation handshake that relies on it.
 */

export const EXPIRY_WARNING_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Which file the certificate comes from decides what to do about it:
 * `certificate` and `ca-bundle` are `xmpp certs`' second and third file,
 * `trust-bundle` is `xmpp cluster trust`'s (replicated: every member holds the same).
 */
export type CertificateRole = 'certificate' | 'ca-bundle' | 'trust-bundle';

export interface ExpiryWarning {
  readonly role: CertificateRole;
  /** The file name as `xmpp certs` or `xmpp cluster trust` was given it. */
  readonly file: string;
  readonly subject: string;
  readonly notAfter: Date;
  readonly expired: boolean;
  /** Whole days until (or, expired, since) notAfter, rounded down. */
  readonly days: number;
  /** In a bundle of several certificates: which one, counting from 1. */
  readonly position?: { readonly index: number; readonly count: number };
}

/** The certificates of one file that expire within `withinDays` of `now`, or have expired. */
export function expiryWarnings(role: CertificateRole, file: string, certificates: readonly X509Certificate[], now: Date, withinDays = EXPIRY_WARNING_DAYS): ExpiryWarning[] {
  const out: ExpiryWarning[] = [];
  certificates.forEach((cert, index) => {
    const left = cert.notAfter.getTime() - now.getTime();
    if (left > withinDays * DAY_MS) return;
    out.push({
      role,
      file,
      subject: cert.subject,
      notAfter: cert.notAfter,
      expired: left <= 0,
      days: Math.floor(Math.abs(left) / DAY_MS),
      ...(certificates.length > 1 ? { position: { index: index + 1, count: certificates.length } } : {}),
    });
  });
  return out;
}

/** The UTC date, as the warning names it: `2026-12-20`. */
function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function span(w: ExpiryWarning): string {
  const n = w.days === 0 ? 'less than a day' : w.days === 1 ? '1 day' : `${w.days} days`;
  return w.expired ? `${n} ago` : `in ${n}`;
}

const WHAT_TO_DO: Record<CertificateRole, string> = {
  certificate: 'renew it (pki csr, then xmpp certs)',
  'ca-bundle': 'upload the renewed CA certificates and name them in xmpp certs',
  'trust-bundle': 'put the renewed CA certificates in a bundle and give it to xmpp cluster trust',
};

/**
 * One line, without the `Warning: ` the MMP puts before it:
 * `certificate file abhiall.cer expires on 2026-12-20 (in 18 days); renew it (pki csr, then xmpp certs)`.
 */
export function expiryWarningText(w: ExpiryWarning): string {
  const which =
    w.role === 'certificate'
      ? `certificate file ${w.file}`
      : `${w.role === 'ca-bundle' ? 'CA bundle file' : 'trust bundle'} ${w.file}: certificate ${w.position ? `${w.position.index} of ${w.position.count} ` : ''}(${w.subject})`;
  return `${which} ${w.expired ? 'expired' : 'expires'} on ${day(w.notAfter)} (${span(w)}); ${WHAT_TO_DO[w.role]}`;
}

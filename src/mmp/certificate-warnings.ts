import type { XmppNode } from '../node/xmpp-node.js';
import { expiryWarnings, expiryWarningText, type ExpiryWarning } from '../pki/expiry.js';
import { parseCertificates, readCertificateFolderFile } from '../pki/pki-file.js';
import type { X509Certificate } from '../pki/x509.js';

/**
 * The expiry warnings `xmpp cluster status`, `xmpp status` and `xmpp` end
 * with (src/pki/expiry.ts): the node's own certificate and CA bundle as
 * `xmpp certs` names them, read from the certificate folder now (a renewed
 * file uploaded over the old name counts at once, as the node's TLS does),
 * and the trust bundle as the cluster replicated it (the content every
 * member checks peers against, not whatever file of that name is here).
 */

export const WARNING_PREFIX = 'Warning: ';

export async function certificateExpiryWarnings(node: XmppNode, now: Date): Promise<ExpiryWarning[]> {
  const s = node.settings();
  const out: ExpiryWarning[] = [];
  if (s.certs) {
    out.push(...expiryWarnings('certificate', s.certs.cert, await folderCertificates(node, s.certs.cert), now));
    if (s.certs.bundle) out.push(...expiryWarnings('ca-bundle', s.certs.bundle, await folderCertificates(node, s.certs.bundle), now));
  }
  if (s.trust.kind === 'pem') out.push(...expiryWarnings('trust-bundle', s.trust.file, parsed(s.trust.file, Buffer.from(s.trust.pem)), now));
  return out;
}

/** The `Warning: ...` lines, one per certificate, in the order above. */
export async function certificateWarningLines(node: XmppNode, now: Date): Promise<string[]> {
  return (await certificateExpiryWarnings(node, now)).map((w) => WARNING_PREFIX + expiryWarningText(w));
}

/**
 * A file that is missing or does not parse gives no expiry warning: `xmpp
 * certs` refused it when it was set, and the node logs `certificates_unusable`
 * when it changed since; this check is about time, not about broken files.
 */
async function folderCertificates(node: XmppNode, file: string): Promise<X509Certificate[]> {
  try {
    return parsed(file, await readCertificateFolderFile(node.certFolder, file));
  } catch {
    return [];
  }
}

function parsed(file: string, data: Buffer): X509Certificate[] {
  try {
    return parseCertificates(file, data);
  } catch {
    return [];
  }
}

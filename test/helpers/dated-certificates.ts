import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openssl } from '../pki/openssl.js';

/**
 * Certificates with chosen validity dates, made by openssl itself. Debian's
 * openssl 3.0 has no `x509 -not_before` (3.4 and later) and `req -days`
 * refuses a negative count, so a certificate that has already expired comes
 * from `openssl ca`, which takes `-startdate` and `-enddate`; every dated
 * certificate is made that way, so the tests know each date to the second.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

/** `YYYYMMDDHHMMSSZ`, the form `openssl ca -startdate/-enddate` takes. */
function asn1Time(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** A date `days` from `from` (negative: before), whole seconds. */
export function daysFrom(from: Date, days: number): Date {
  return new Date(Math.floor((from.getTime() + days * DAY_MS) / 1000) * 1000);
}

const CA_CONFIG = `[ca]
default_ca = lab
[lab]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
[any]
commonName = supplied
`;

export interface DatedCertificate {
  /** Subject CN. */
  cn: string;
  notBefore: Date;
  notAfter: Date;
  /** subjectAltName, e.g. `IP:127.0.18.1`. */
  san?: string;
  /** A CA certificate (basicConstraints CA:TRUE). */
  ca?: boolean;
  /** Signed by this CA (its certificate and key files); self-signed without. */
  issuer?: { cert: string; key: string };
}

/** Writes `<out>.key` and `<out>.cer` (PEM); returns the certificate's path. */
export async function makeDatedCertificate(out: string, spec: DatedCertificate): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'dated-ca-'));
  try {
    await writeFile(join(work, 'ca.cnf'), CA_CONFIG);
    await writeFile(join(work, 'index.txt'), '');
    await writeFile(join(work, 'serial'), `${Date.now().toString(16).padStart(16, '0')}\n`);
    const ext = [
      ...(spec.san ? ['-addext', `subjectAltName=${spec.san}`] : []),
      ...(spec.ca ? ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'] : []),
    ];
    await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${out}.key`, '-out', join(work, 'req.csr'), '-subj', `/CN=${spec.cn}`, ...ext]);
    const signer = spec.issuer ? ['-cert', spec.issuer.cert, '-keyfile', spec.issuer.key] : ['-selfsign', '-keyfile', `${out}.key`];
    await openssl(
      ['ca', '-batch', '-notext', '-config', 'ca.cnf', ...signer, '-in', 'req.csr', '-startdate', asn1Time(spec.notBefore), '-enddate', asn1Time(spec.notAfter), '-out', `${out}.cer`],
      { cwd: work },
    );
    return `${out}.cer`;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerSecurity } from '../../../cluster/transport/peer-security.js';
import { openssl, signWithOpensslCa } from '../../pki/openssl.js';

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface LabCertificate {
  key: string;
  cert: string;
}

/** A lab CA made by the real openssl, issuing node certificates with IP SANs. */
export class LabCa {
  private issued = 0;
  private constructor(
    private readonly dir: string,
    private readonly name: string,
    readonly certPem: string,
  ) {}

  static async create(dir: string, name: string): Promise<LabCa> {
    await openssl(['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=${name}`, '-days', '30'], { cwd: dir });
    return new LabCa(dir, name, await readFile(join(dir, `${name}.pem`), 'utf8'));
  }

  /** A node certificate: CN `cn`, subjectAltName IP entries for `ips`. */
  async issue(cn: string, ips: string[]): Promise<LabCertificate> {
    const base = `${this.name}-leaf-${this.issued++}`;
    const san = ips.map((ip) => `IP:${ip}`).join(',');
    await openssl(['req', '-new', ...EC, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`, '-addext', `subjectAltName=${san}`], { cwd: this.dir });
    await signWithOpensslCa(this.dir, `${base}.csr`, `${this.name}.pem`, `${this.name}.key`, `${base}.pem`);
    return { key: await readFile(join(this.dir, `${base}.key`), 'utf8'), cert: await readFile(join(this.dir, `${base}.pem`), 'utf8') };
  }
}

/** The lab used by the TLS tests: the trusted CA, an unrelated one, and certificates from each. */
export interface LabPki {
  trusted: LabCa;
  stranger: LabCa;
  /** Trusted, naming every 127.0.0.x the tests use. */
  node: LabCertificate;
  /** From the unrelated CA, claiming the same names. */
  rogue: LabCertificate;
  /** From the trusted CA, but naming another address. */
  misnamed: LabCertificate;
  security(cert: LabCertificate, trust?: 'trusted' | 'stranger' | 'insecure-lab'): PeerSecurity;
  remove(): Promise<void>;
}

export const LOOPBACKS = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];

export async function makeLabPki(): Promise<LabPki> {
  const dir = await mkdtemp(join(tmpdir(), 'cluster-tls-'));
  await writeFile(join(dir, 'README'), 'test PKI of test/cluster/transport\n');
  const [trusted, stranger] = await Promise.all([LabCa.create(dir, 'lab-ca'), LabCa.create(dir, 'stranger-ca')]);
  const [node, rogue, misnamed] = await Promise.all([
    trusted.issue('node-a', LOOPBACKS),
    stranger.issue('rogue-node', LOOPBACKS),
    trusted.issue('misnamed-node', ['10.9.9.9']),
  ]);
  return {
    trusted,
    stranger,
    node,
    rogue,
    misnamed,
    security(cert, trust = 'trusted') {
      if (trust === 'insecure-lab') return { ...cert, trust: { kind: 'insecure-lab' } };
      return { ...cert, trust: { kind: 'pem', ca: trust === 'trusted' ? trusted.certPem : stranger.certPem } };
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

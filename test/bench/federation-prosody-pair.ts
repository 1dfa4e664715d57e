import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFederationDns, type FederationDns, type FederationDnsEntry } from '../helpers/federation-dns.js';
import { issueServerCertificate, makeFederationCa, type FederationCa } from '../helpers/federation-pki.js';
import { startProsody, type ProsodyServer } from '../helpers/prosody-server.js';
import { BenchComponent } from './bench-component.js';
import { windowed, type WorkloadResult } from './workload.js';

/**
 * The federation benchmark's baseline: two real Prosody servers federating
 * over one s2s stream (TLS, dialback, as the federation-peers tests set them
 * up), a raw benchmark component on each, and the windowed workload from a
 * component of one to a component of the other. Ours is measured the same
 * way with our node in place of the first Prosody.
 */

export const FEDERATION_BENCH_SECRET = 'bench-component-secret-0123';

export interface FederationLab {
  readonly dir: string;
  readonly ca: FederationCa;
  readonly dns: FederationDns;
  stop(): Promise<void>;
}

/** A test CA and a BIND that names every federating domain (and its `cb.` component) at its address. */
export async function startFederationLab(dnsAddress: string, domains: Array<{ domain: string; address: string; port?: number }>): Promise<FederationLab> {
  const dir = await mkdtemp(join(tmpdir(), 'federation-bench-'));
  const ca = await makeFederationCa(dir);
  const entries: FederationDnsEntry[] = domains.flatMap((d) => [
    { domain: d.domain, address: d.address, ...(d.port ? { port: d.port } : {}) },
    { domain: `cb.${d.domain}`, address: d.address, ...(d.port ? { port: d.port } : {}) },
  ]);
  const dns = await startFederationDns({ address: dnsAddress, entries });
  return {
    dir,
    ca,
    dns,
    stop: async () => {
      await dns.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A Prosody with one component `cb`, TLS with a certificate from the lab's CA (dialback authenticates: the peers do not trust it for SASL). */
export async function startBenchProsody(lab: FederationLab, domain: string, address: string): Promise<ProsodyServer> {
  const cert = await issueServerCertificate(lab.ca, [domain, `cb.${domain}`]);
  return startProsody({
    domain,
    address,
    components: [{ name: 'cb', secret: FEDERATION_BENCH_SECRET }],
    s2s: { tls: { caFile: lab.ca.certFile, certFile: cert.certFile, keyFile: cert.keyFile } },
    dns: lab.dns,
    logLevel: 'info',
  });
}

export async function benchComponentOn(server: ProsodyServer): Promise<BenchComponent> {
  return BenchComponent.connect(server.componentPort, { address: `cb.${server.domain}`, secret: FEDERATION_BENCH_SECRET }, server.address);
}

/** A short warm-up (it also sets up the s2s stream both ways), then the measured run. */
export async function federatedWindowed(a: BenchComponent, b: BenchComponent, from: string, to: string, total: number, window: number): Promise<WorkloadResult> {
  await windowed({ a, b, from, to }, Math.min(500, total), Math.min(50, window));
  return windowed({ a, b, from, to }, total, window);
}

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
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
  /**
   * The CA every Prosody of the lab trusts: it signs nothing, so no server
   * verifies another's certificate (which `ca` signs). TLS encrypts and
   * dialback authenticates every stream, ours and the baseline's alike,
   * rather than SASL EXTERNAL on some of them.
   */
  readonly trusted: FederationCa;
  readonly dns: FederationDns;
  stop(): Promise<void>;
}

/** A test CA and a BIND that names every federating domain (and its `cb.` component) at its address. */
export async function startFederationLab(dnsAddress: string, domains: Array<{ domain: string; address: string; port?: number }>): Promise<FederationLab> {
  const dir = await mkdtemp(join(tmpdir(), 'federation-bench-'));
  const ca = await makeFederationCa(dir);
  await mkdir(join(dir, 'trusted'));
  const trusted = await makeFederationCa(join(dir, 'trusted'), 'Nobody Federation CA');
  const entries: FederationDnsEntry[] = domains.flatMap((d) => [
    { domain: d.domain, address: d.address, ...(d.port ? { port: d.port } : {}) },
    { domain: `cb.${d.domain}`, address: d.address, ...(d.port ? { port: d.port } : {}) },
  ]);
  const dns = await startFederationDns({ address: dnsAddress, entries });
  return {
    dir,
    ca,
    trusted,
    dns,
    stop: async () => {
      await dns.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A Prosody with one component `cb`, TLS with a certificate from the lab's CA, which it does not trust (dialback authenticates: see FederationLab.trusted). */
export async function startBenchProsody(lab: FederationLab, domain: string, address: string): Promise<ProsodyServer> {
  const cert = await issueServerCertificate(lab.ca, [domain, `cb.${domain}`]);
  return startProsody({
    domain,
    address,
    components: [{ name: 'cb', secret: FEDERATION_BENCH_SECRET }],
    s2s: { tls: { caFile: lab.trusted.certFile, certFile: cert.certFile, keyFile: cert.keyFile } },
    dns: lab.dns,
    logLevel: 'info',
  });
}

/**
 * The component answers XEP-0199 pings (answerPings): a server pinging the
 * stream it opened to `cb.<domain>` addresses the component, and Prosody
 * hands the ping to it; RFC 6120 §8.2.3 says it must answer.
 */
export async function benchComponentOn(server: ProsodyServer): Promise<BenchComponent> {
  const c = await BenchComponent.connect(server.componentPort, { address: `cb.${server.domain}`, secret: FEDERATION_BENCH_SECRET }, server.address);
  answerPings(c);
  return c;
}

const attr = (tag: string, name: string) => new RegExp(`\\s${name}=(['"])([^'"]*)\\1`).exec(tag)?.[2];

/**
 * Answers every ping (`<iq type='get'>` with an XEP-0199 child) by an empty
 * result (§4.2), from what arrives on the component's socket; the rest stays
 * the BenchComponent's (it counts messages only). A ping is written whole
 * by Prosody as `<iq ...><ping .../></iq>`; a self-closed `<iq/>` (a result)
 * is skipped. Cheap: one scan for `<iq` per chunk, nothing per message.
 */
export function answerPings(c: BenchComponent): void {
  let pending = '';
  c.socket.on('data', (d: string) => {
    let text = pending + d;
    pending = '';
    for (;;) {
      const i = text.indexOf('<iq');
      if (i === -1) {
        pending = text.slice(-2); // `<i` split across chunks
        return;
      }
      const headEnd = text.indexOf('>', i);
      if (headEnd === -1) return void (pending = text.slice(i, i + 4096));
      const head = text.slice(i, headEnd + 1);
      if (head.endsWith('/>')) {
        text = text.slice(headEnd + 1);
        continue;
      }
      const close = text.indexOf('</iq>', headEnd);
      if (close === -1) return void (pending = text.slice(i, i + 4096));
      const body = text.slice(headEnd + 1, close);
      text = text.slice(close + 5);
      if (attr(head, 'type') !== 'get' || !body.includes('urn:xmpp:ping')) continue;
      c.write(`<iq type='result' id='${attr(head, 'id') ?? ''}' from='${attr(head, 'to') ?? ''}' to='${attr(head, 'from') ?? ''}'/>`);
    }
  });
}

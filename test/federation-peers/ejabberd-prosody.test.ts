import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { startEjabberd, type EjabberdS2s, type EjabberdServer } from '../helpers/ejabberd-server.js';
import { startFederationDns, type FederationDns } from '../helpers/federation-dns.js';
import { exchangeBothWays, withPeerLogs } from '../helpers/federation-exchange.js';
import { issueServerCertificate, makeFederationCa, type FederationCa } from '../helpers/federation-pki.js';
import { ejabberdStreamFacts, prosodyStreamFacts } from '../helpers/peer-stream-log.js';
import { startProsody, type ProsodyS2s, type ProsodyServer } from '../helpers/prosody-server.js';

/**
 * A real ejabberd 23.01 (third.test) and a real Prosody 0.12 (other.test)
 * federate, each resolving the other through a real BIND: ejabberd through
 * Erlang's inet_res (inetrc nameserver), Prosody through libunbound.
 */

// This file's addresses (apart from prosody-prosody.test.ts's, as files run in parallel).
const DNS = '127.0.4.4';
const EJ = { domain: 'third.test', address: '127.0.4.5' };
const PR = { domain: 'other.test', address: '127.0.4.6' };
const SECRET = 'component-secret-9876543210';

let dir: string;
let ca: FederationCa;
let dns: FederationDns;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'federation-peers-ej-'));
  ca = await makeFederationCa(dir);
  dns = await startFederationDns({
    address: DNS,
    // ejabberd's glibc half of resolving only queries port 53 (ejabberd-server.ts).
    port: 53,
    entries: [EJ, PR].flatMap((p) => [
      { domain: p.domain, address: p.address },
      { domain: `cb.${p.domain}`, address: p.address },
    ]),
  });
});

afterAll(async () => {
  await dns?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Modes {
  ejabberd: EjabberdS2s;
  prosody: ProsodyS2s;
}

async function certFor(domain: string) {
  return issueServerCertificate(ca, [domain, `cb.${domain}`]);
}

async function withPeers(modes: Modes, body: (ej: { server: EjabberdServer; bridge: CallBridge }, pr: { server: ProsodyServer; bridge: CallBridge }) => Promise<void>): Promise<void> {
  const stops: Array<() => Promise<void>> = [];
  try {
    const [ej, pr] = await Promise.all([
      startEjabberd({ ...EJ, components: [{ name: 'cb', secret: SECRET }], s2s: modes.ejabberd, dns: { address: dns.address, port: dns.port } }),
      startProsody({ ...PR, components: [{ name: 'cb', secret: SECRET }], s2s: modes.prosody, dns }),
    ]);
    stops.push(() => ej.stop(), () => pr.stop());
    const [bej, bpr] = await Promise.all(
      [ej, pr].map((s) => CallBridge.connect({ name: 'cb', secret: SECRET, domain: s.domain, host: s.address, port: s.componentPort })),
    );
    stops.push(() => bej!.close(), () => bpr!.close());
    await withPeerLogs([ej, pr], () => body({ server: ej, bridge: bej! }, { server: pr, bridge: bpr! }));
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

/** Both peers' accounts of their two streams, once both say the incoming one completed (ejabberd writes its log file a little late). */
async function facts(ej: { server: EjabberdServer }, pr: { server: ProsodyServer }) {
  await ej.server.waitForLog(/Accepted inbound s2s \S+ authentication cb\.other\.test -> cb\.third\.test/);
  await ej.server.waitForLog(/Accepted outbound s2s \S+ authentication cb\.third\.test -> cb\.other\.test/);
  await pr.server.waitForLog(/Incoming s2s connection cb\.third\.test->cb\.other\.test complete/);
  return {
    ejabberd: ejabberdStreamFacts(ej.server.log(), 'cb.third.test', 'cb.other.test'),
    prosody: prosodyStreamFacts(pr.server.log(), 'cb.other.test', 'cb.third.test'),
  };
}

describe('ejabberd ↔ Prosody over s2s, each finding the other through BIND', () => {
  it('dialback over TLS: certificates from a CA neither trusts, so TLS encrypts and dialback authenticates', async () => {
    const untrusted = await makeFederationCa(await mkdtemp(join(dir, 'untrusted-')), 'Not The CA');
    const [ejCert, prCert] = await Promise.all([certFor(EJ.domain), certFor(PR.domain)]);
    await withPeers(
      {
        ejabberd: { starttls: 'required', dialback: true, tls: { caFile: untrusted.certFile, pemFile: ejCert.pemFile } },
        prosody: { requireEncryption: true, secureAuth: false, dialback: true, tls: { caFile: untrusted.certFile, certFile: prCert.certFile, keyFile: prCert.keyFile } },
      },
      async (ej, pr) => {
        await exchangeBothWays(ej.bridge, pr.bridge);
        expect(await facts(ej, pr)).toEqual({
          ejabberd: { established: true, encrypted: true, outgoingAuth: 'dialback', incomingAuth: 'dialback' },
          prosody: { established: true, foundBySrv: true, encrypted: true, outgoingAuth: 'dialback', incomingAuth: 'dialback' },
        });
      },
    );
  }, 60_000);

  it('SASL EXTERNAL: both trust the test CA, and neither loads dialback', async () => {
    const [ejCert, prCert] = await Promise.all([certFor(EJ.domain), certFor(PR.domain)]);
    await withPeers(
      {
        ejabberd: { starttls: 'required', dialback: false, tls: { caFile: ca.certFile, pemFile: ejCert.pemFile } },
        prosody: { requireEncryption: true, secureAuth: true, dialback: false, tls: { caFile: ca.certFile, certFile: prCert.certFile, keyFile: prCert.keyFile } },
      },
      async (ej, pr) => {
        await exchangeBothWays(ej.bridge, pr.bridge);
        expect(await facts(ej, pr)).toEqual({
          ejabberd: { established: true, encrypted: true, outgoingAuth: 'EXTERNAL', incomingAuth: 'EXTERNAL' },
          prosody: { established: true, foundBySrv: true, encrypted: true, outgoingAuth: 'EXTERNAL', incomingAuth: 'EXTERNAL' },
        });
      },
    );
  }, 60_000);

  it('no TLS: plain streams with dialback where both allow it', async () => {
    await withPeers(
      {
        ejabberd: { starttls: false, dialback: true },
        prosody: { requireEncryption: false, secureAuth: false, dialback: true },
      },
      async (ej, pr) => {
        await exchangeBothWays(ej.bridge, pr.bridge);
        expect(await facts(ej, pr)).toEqual({
          ejabberd: { established: true, encrypted: false, outgoingAuth: 'dialback', incomingAuth: 'dialback' },
          prosody: { established: true, foundBySrv: true, encrypted: false, outgoingAuth: 'dialback', incomingAuth: 'dialback' },
        });
      },
    );
  }, 60_000);
});

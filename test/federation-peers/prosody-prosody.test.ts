import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { exchangeBothWays, withPeerLogs } from '../helpers/federation-exchange.js';
import { startFederationDns, type FederationDns } from '../helpers/federation-dns.js';
import { issueServerCertificate, makeFederationCa, type FederationCa } from '../helpers/federation-pki.js';
import { prosodyStreamFacts } from '../helpers/peer-stream-log.js';
import { startProsody, type ProsodyServer, type ProsodyS2s } from '../helpers/prosody-server.js';

/**
 * Two real Prosody 0.12 servers federate over a real s2s stream, each finding
 * the other through a real BIND: the harness the s2s tests stand on, proven
 * before any s2s code of ours exists. An XEP-0114 component on each side
 * (xmpp.js, our CallBridge) sends across.
 */

// This file's addresses (the helpers' brief: 127.0.4.1-30): named, other.test, fourth.test.
const DNS = '127.0.4.1';
const A = { domain: 'other.test', address: '127.0.4.2' };
const B = { domain: 'fourth.test', address: '127.0.4.3' };
const SECRET = 'component-secret-0123456789';

let dir: string;
let ca: FederationCa;
let dns: FederationDns;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'federation-peers-'));
  ca = await makeFederationCa(dir);
  dns = await startFederationDns({
    address: DNS,
    entries: [A, B].flatMap((p) => [
      { domain: p.domain, address: p.address },
      { domain: `cb.${p.domain}`, address: p.address },
    ]),
  });
});

afterAll(async () => {
  await dns?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function tlsFor(domain: string): Promise<ProsodyS2s['tls']> {
  const cert = await issueServerCertificate(ca, [domain, `cb.${domain}`]);
  return { caFile: ca.certFile, certFile: cert.certFile, keyFile: cert.keyFile };
}

/** Starts both Prosodys with `s2s` settings, a component `cb` on each; runs `body`; stops everything. */
async function withPair(s2s: (domain: string) => Promise<ProsodyS2s>, body: (a: Side, b: Side) => Promise<void>): Promise<void> {
  const started: Array<ProsodyServer | CallBridge> = [];
  try {
    const [pa, pb] = await Promise.all(
      [A, B].map(async (p) => {
        const server = await startProsody({ ...p, components: [{ name: 'cb', secret: SECRET }], s2s: await s2s(p.domain), dns });
        started.push(server);
        return server;
      }),
    );
    const [ca1, cb1] = await Promise.all(
      [pa!, pb!].map(async (server) => {
        const bridge = await CallBridge.connect({ name: 'cb', secret: SECRET, domain: server.domain, host: server.address, port: server.componentPort });
        started.push(bridge);
        return bridge;
      }),
    );
    await withPeerLogs([pa!, pb!], () => body({ server: pa!, bridge: ca1! }, { server: pb!, bridge: cb1! }));
  } finally {
    for (const s of started.reverse()) {
      if (s instanceof CallBridge) await s.close();
      else await s.stop();
    }
  }
}

interface Side {
  server: ProsodyServer;
  bridge: CallBridge;
}

/** What other.test's Prosody logged about its streams with fourth.test's component. */
async function facts(a: Side) {
  await a.server.waitForLog(/Incoming s2s connection cb\.fourth\.test->cb\.other\.test complete/);
  return prosodyStreamFacts(a.server.log(), 'cb.other.test', 'cb.fourth.test');
}

describe('Prosody ↔ Prosody over s2s, each finding the other through BIND', () => {
  it('dialback over TLS: certificates from a CA neither trusts, so TLS encrypts and dialback authenticates', async () => {
    const untrusted = await makeFederationCa(await mkdtemp(join(dir, 'untrusted-')), 'Not The CA');
    await withPair(
      // The CA file each peer is given is one neither leaf chains to: the certificates do not verify.
      async (domain) => ({ requireEncryption: true, secureAuth: false, dialback: true, tls: { ...(await tlsFor(domain))!, caFile: untrusted.certFile } }),
      async (a, b) => {
        await exchangeBothWays(a.bridge, b.bridge);
        expect(await facts(a)).toEqual({ established: true, foundBySrv: true, encrypted: true, outgoingAuth: 'dialback', incomingAuth: 'dialback' });
        expect(a.server.log()).toContain('certificate chain validation result: invalid');
      },
    );
  }, 60_000);

  it('SASL EXTERNAL: both trust the test CA, and dialback is not even loaded', async () => {
    await withPair(
      async (domain) => ({ requireEncryption: true, secureAuth: true, dialback: false, tls: await tlsFor(domain) }),
      async (a, b) => {
        await exchangeBothWays(a.bridge, b.bridge);
        expect(await facts(a)).toEqual({ established: true, foundBySrv: true, encrypted: true, outgoingAuth: 'EXTERNAL', incomingAuth: 'EXTERNAL' });
      },
    );
  }, 60_000);

  it('no TLS: plain streams with dialback where both allow it', async () => {
    await withPair(
      async () => ({ requireEncryption: false, secureAuth: false, dialback: true }),
      async (a, b) => {
        await exchangeBothWays(a.bridge, b.bridge);
        expect(await facts(a)).toEqual({ established: true, foundBySrv: true, encrypted: false, outgoingAuth: 'dialback', incomingAuth: 'dialback' });
      },
    );
  }, 60_000);
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { createOutgoingConnector } from '../../src/s2s/outgoing-connector.js';
import { listenS2s } from '../../src/s2s/s2s-listener.js';
import type { FederationConfig } from '../../src/s2s/server-streams.js';
import { ensureLoopbackAddress } from '../helpers/bind-server.js';
import { nextEvent } from '../helpers/bridges.js';
import { startFederationDns, type FederationDns } from '../helpers/federation-dns.js';
import { withPeerLogs } from '../helpers/federation-exchange.js';
import { issueServerCertificate, makeFederationCa, type FederationCa } from '../helpers/federation-pki.js';
import { ejabberdStreamFacts } from '../helpers/peer-stream-log.js';
import { startEjabberd, type EjabberdS2s } from '../helpers/ejabberd-server.js';
import { credentialsFrom, RecordingHooks, testS2sEnv, type TestS2sEnv } from '../helpers/s2s-env.js';

/**
 * Our server-to-server streams against a real ejabberd 23.01 (third.test,
 * with the component cb.third.test driven by xmpp.js), both directions, as
 * streams-prosody.test.ts does against Prosody. ejabberd finds us through a
 * real BIND on port 53 (its glibc half of resolving queries no other port:
 * ejabberd-server.ts); we find ejabberd by static routes.
 */

const PEER = { domain: 'third.test', address: '127.0.6.20' };
const DNS = '127.0.6.21';
const OURS = { domain: 'ours.test', address: '127.0.6.22' };
const SECRET = 'component-secret-s2s-protocol';

let dir: string;
let ca: FederationCa;
let untrusted: FederationCa;
let dns: FederationDns;

beforeAll(async () => {
  await Promise.all([PEER.address, DNS, OURS.address].map(ensureLoopbackAddress));
  dir = await mkdtemp(join(tmpdir(), 's2s-ejabberd-'));
  ca = await makeFederationCa(dir);
  untrusted = await makeFederationCa(await mkdtemp(join(dir, 'untrusted-')), 'Not The CA');
  dns = await startFederationDns({ address: DNS, port: 53, entries: [{ domain: OURS.domain, address: OURS.address }] });
}, 60_000);

afterAll(async () => {
  await dns?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Mode {
  peer: (tls: NonNullable<EjabberdS2s['tls']>) => EjabberdS2s;
  ours: Partial<FederationConfig>;
  /** The CA our side and ejabberd trust; null: no TLS at all. */
  trust: 'shared' | 'untrusted' | null;
}

interface Setup {
  env: TestS2sEnv;
  hooks: RecordingHooks;
  bridge: CallBridge;
  peerLog(): string;
  waitForPeerLog(pattern: RegExp): Promise<void>;
}

async function withEjabberd(mode: Mode, body: (s: Setup) => Promise<void>): Promise<void> {
  const peerCert = await issueServerCertificate(ca, [PEER.domain, `cb.${PEER.domain}`]);
  const ourCert = await issueServerCertificate(ca, [OURS.domain]);
  const trusted = mode.trust === 'shared' ? ca : untrusted;
  const creds = mode.trust === null ? null : await credentialsFrom(ourCert, trusted);
  const env = testS2sEnv(OURS.domain, {
    ...mode.ours,
    routes: [PEER.domain, `cb.${PEER.domain}`].map((domain) => ({ domain, targets: [`${PEER.address}:5269`] })),
  }, creds);
  const hooks = new RecordingHooks();
  const listener = await listenS2s(env, hooks, [{ host: OURS.address, port: 0 }]);
  cleanups.push(() => listener.close());
  await dns.update([{ domain: OURS.domain, address: OURS.address, port: listener.bindings()[0]!.port }]);
  const tls = { caFile: trusted.certFile, pemFile: peerCert.pemFile };
  const peer = await startEjabberd({ ...PEER, components: [{ name: 'cb', secret: SECRET }], s2s: mode.peer(tls), dns: { address: dns.address, port: dns.port } });
  cleanups.push(() => peer.stop());
  const bridge = await CallBridge.connect({ name: 'cb', secret: SECRET, domain: PEER.domain, host: PEER.address, port: peer.componentPort });
  cleanups.push(() => bridge.close());
  await withPeerLogs([peer, { domain: OURS.domain, log: () => env.logText() }], () =>
    body({ env, hooks, bridge, peerLog: () => peer.log(), waitForPeerLog: (re) => peer.waitForLog(re) }),
  );
}

/** Ours → cb.third.test on our OutgoingStream, then cb.third.test → ours.test on ejabberd's stream to our listener. */
async function bothWays(s: Setup) {
  const connector = createOutgoingConnector(s.env, { dialbackTimeoutMs: 15_000 });
  const out = await connector({ localDomain: OURS.domain, remoteDomain: `cb.${PEER.domain}` });
  cleanups.push(() => out.close({ by: 'us', why: 'shutdown' }));
  const arrived = nextEvent(s.bridge, 'message', 20_000);
  out.send(`<message from='alice@${OURS.domain}/desk' to='cb.${PEER.domain}' id='to-ejabberd' type='chat'><body>hello ejabberd</body></message>`);
  expect(await arrived).toMatchObject({ from: `alice@${OURS.domain}/desk`, body: 'hello ejabberd', id: 'to-ejabberd' });

  await s.bridge.sendMessage(`bob@${OURS.domain}`, 'hello ours', 'from-ejabberd');
  const { stanza, stream } = await s.hooks.waitForStanza(/id='from-ejabberd'/, 20_000);
  expect(stanza).toMatchObject({ name: 'message', toDomain: OURS.domain, attrs: { from: `cb.${PEER.domain}`, to: `bob@${OURS.domain}` } });
  expect([...stream.authorizedDomains]).toEqual([`cb.${PEER.domain}`]);
  return { out, incoming: stream };
}

/** ejabberd writes its log file a little late: wait for both of its lines about us, then read the mode from them. */
async function peerFacts(s: Setup) {
  const esc = (t: string) => t.replace(/\./g, '\\.');
  await s.waitForPeerLog(new RegExp(`Accepted inbound s2s \\S+ authentication ${esc(OURS.domain)} -> cb\\.${esc(PEER.domain)}`));
  await s.waitForPeerLog(new RegExp(`Accepted outbound s2s \\S+ authentication cb\\.${esc(PEER.domain)} -> ${esc(OURS.domain)}`));
  return ejabberdStreamFacts(s.peerLog(), `cb.${PEER.domain}`, OURS.domain);
}

describe('our server-to-server streams against a real ejabberd', () => {
  it('dialback over TLS: certificates from a CA neither side trusts', async () => {
    await withEjabberd(
      { trust: 'untrusted', ours: { securityMode: 'required' }, peer: (tls) => ({ starttls: 'required', dialback: true, tls }) },
      async (s) => {
        const { out, incoming } = await bothWays(s);
        expect(out).toMatchObject({ tls: expect.stringMatching(/^TLS 1\.[23]$/), auth: 'dialback' });
        expect(incoming).toMatchObject({ tls: expect.stringMatching(/^TLS 1\.[23]$/), auth: 'dialback' });
        expect(await peerFacts(s)).toMatchObject({ established: true, encrypted: true, outgoingAuth: 'dialback', incomingAuth: 'dialback' });
        expect(s.env.logText()).not.toMatch(/[0-9a-f]{64}/);
      },
    );
  }, 90_000);

  it('SASL EXTERNAL both ways with a CA both trust, dialback not even loaded in ejabberd', async () => {
    await withEjabberd(
      { trust: 'shared', ours: { securityMode: 'required' }, peer: (tls) => ({ starttls: 'required', dialback: false, tls }) },
      async (s) => {
        const { out, incoming } = await bothWays(s);
        expect(out).toMatchObject({ auth: 'sasl' });
        expect(incoming).toMatchObject({ auth: 'sasl' });
        expect(await peerFacts(s)).toMatchObject({ established: true, encrypted: true, outgoingAuth: 'EXTERNAL', incomingAuth: 'EXTERNAL' });
      },
    );
  }, 90_000);

  it('plain streams with dialback where ejabberd allows them (security none)', async () => {
    await withEjabberd(
      { trust: null, ours: { securityMode: 'none' }, peer: () => ({ starttls: false, dialback: true }) },
      async (s) => {
        const { out, incoming } = await bothWays(s);
        expect(out).toMatchObject({ tls: null, auth: 'dialback' });
        expect(incoming).toMatchObject({ tls: null, auth: 'dialback' });
        expect(await peerFacts(s)).toMatchObject({ established: true, encrypted: false, outgoingAuth: 'dialback', incomingAuth: 'dialback' });
      },
    );
  }, 90_000);
});

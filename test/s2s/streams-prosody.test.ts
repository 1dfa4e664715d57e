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
import { prosodyStreamFacts } from '../helpers/peer-stream-log.js';
import { startProsody, type ProsodyS2s } from '../helpers/prosody-server.js';
import { credentialsFrom, RecordingHooks, testS2sEnv, type TestS2sEnv } from '../helpers/s2s-env.js';

/**
 * Our server-to-server streams against a real Prosody 0.12 (other.test, with
 * the component cb.other.test driven by xmpp.js), both directions:
 * our OutgoingStream carries a message to the component, and the component's
 * message to our domain comes in on Prosody's own stream to our listener.
 * Prosody finds us through a real BIND (SRV for ours.test → our listener's
 * port); we find Prosody by static routes. Prosody's log says which mode the
 * two servers negotiated, so each case checks it got the one it set up.
 */

const PROSODY = { domain: 'other.test', address: '127.0.6.10' };
const DNS = '127.0.6.11';
const OURS = { domain: 'ours.test', address: '127.0.6.12' };
const SECRET = 'component-secret-s2s-protocol';

let dir: string;
let ca: FederationCa;
let untrusted: FederationCa;
let dns: FederationDns;

beforeAll(async () => {
  await Promise.all([PROSODY.address, DNS, OURS.address].map(ensureLoopbackAddress));
  dir = await mkdtemp(join(tmpdir(), 's2s-prosody-'));
  ca = await makeFederationCa(dir);
  untrusted = await makeFederationCa(await mkdtemp(join(dir, 'untrusted-')), 'Not The CA');
  dns = await startFederationDns({ address: DNS, entries: [{ domain: OURS.domain, address: OURS.address }] });
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
  prosody: (tls: NonNullable<ProsodyS2s['tls']>) => ProsodyS2s;
  ours: Partial<FederationConfig>;
  /** The CA our side and Prosody trust; null: no TLS at all. */
  trust: 'shared' | 'untrusted' | null;
}

interface Setup {
  env: TestS2sEnv;
  hooks: RecordingHooks;
  bridge: CallBridge;
  prosodyLog(): string;
}

async function withProsody(mode: Mode, body: (s: Setup) => Promise<void>): Promise<void> {
  const prosodyCert = await issueServerCertificate(ca, [PROSODY.domain, `cb.${PROSODY.domain}`]);
  const ourCert = await issueServerCertificate(ca, [OURS.domain]);
  const trusted = mode.trust === 'shared' ? ca : untrusted;
  const creds = mode.trust === null ? null : await credentialsFrom(ourCert, trusted);
  const env = testS2sEnv(OURS.domain, {
    ...mode.ours,
    routes: [PROSODY.domain, `cb.${PROSODY.domain}`].map((domain) => ({ domain, targets: [`${PROSODY.address}:5269`] })),
  }, creds);
  const hooks = new RecordingHooks();
  const listener = await listenS2s(env, hooks, [{ host: OURS.address, port: 0 }]);
  cleanups.push(() => listener.close());
  await dns.update([{ domain: OURS.domain, address: OURS.address, port: listener.bindings()[0]!.port }]);
  const tls = { caFile: trusted.certFile, certFile: prosodyCert.certFile, keyFile: prosodyCert.keyFile };
  const prosody = await startProsody({ ...PROSODY, components: [{ name: 'cb', secret: SECRET }], s2s: mode.prosody(tls), dns });
  cleanups.push(() => prosody.stop());
  const bridge = await CallBridge.connect({ name: 'cb', secret: SECRET, domain: PROSODY.domain, host: PROSODY.address, port: prosody.componentPort });
  cleanups.push(() => bridge.close());
  await withPeerLogs([prosody, { domain: OURS.domain, log: () => env.logText() }], () => body({ env, hooks, bridge, prosodyLog: () => prosody.log() }));
}

/** Ours → cb.other.test on our OutgoingStream, then cb.other.test → ours.test on Prosody's stream to our listener. */
async function bothWays(s: Setup) {
  const connector = createOutgoingConnector(s.env, { dialbackTimeoutMs: 15_000 });
  const out = await connector({ localDomain: OURS.domain, remoteDomain: `cb.${PROSODY.domain}` });
  cleanups.push(() => out.close({ by: 'us', why: 'shutdown' }));
  const arrived = nextEvent(s.bridge, 'message', 20_000);
  out.send(`<message from='alice@${OURS.domain}/desk' to='cb.${PROSODY.domain}' id='to-prosody' type='chat'><body>hello prosody</body></message>`);
  expect(await arrived).toMatchObject({ from: `alice@${OURS.domain}/desk`, body: 'hello prosody', id: 'to-prosody' });

  await s.bridge.sendMessage(`bob@${OURS.domain}`, 'hello ours', 'from-prosody');
  const { stanza, stream } = await s.hooks.waitForStanza(/id='from-prosody'/, 20_000);
  expect(stanza).toMatchObject({ name: 'message', toDomain: OURS.domain, attrs: { from: `cb.${PROSODY.domain}`, to: `bob@${OURS.domain}` } });
  expect([...stream.authorizedDomains]).toEqual([`cb.${PROSODY.domain}`]);
  return { out, incoming: stream };
}

async function prosodyFacts(s: Setup) {
  const log = s.prosodyLog();
  return prosodyStreamFacts(log, `cb.${PROSODY.domain}`, OURS.domain);
}

describe('our server-to-server streams against a real Prosody', () => {
  it('dialback over TLS: certificates from a CA neither side trusts', async () => {
    await withProsody(
      { trust: 'untrusted', ours: { securityMode: 'required' }, prosody: (tls) => ({ requireEncryption: true, secureAuth: false, dialback: true, tls }) },
      async (s) => {
        const { out, incoming } = await bothWays(s);
        expect(out).toMatchObject({ tls: expect.stringMatching(/^TLS 1\.[23]$/), auth: 'dialback' });
        expect(incoming).toMatchObject({ tls: expect.stringMatching(/^TLS 1\.[23]$/), auth: 'dialback' });
        expect(await prosodyFacts(s)).toMatchObject({ established: true, encrypted: true, outgoingAuth: 'dialback', incomingAuth: 'dialback' });
        expect(s.env.logText()).not.toMatch(/[0-9a-f]{64}/);
      },
    );
  }, 90_000);

  it('SASL EXTERNAL both ways with a CA both trust, dialback not even loaded in Prosody', async () => {
    await withProsody(
      { trust: 'shared', ours: { securityMode: 'required' }, prosody: (tls) => ({ requireEncryption: true, secureAuth: true, dialback: false, tls }) },
      async (s) => {
        const { out, incoming } = await bothWays(s);
        expect(out).toMatchObject({ auth: 'sasl' });
        expect(incoming).toMatchObject({ auth: 'sasl' });
        expect(await prosodyFacts(s)).toMatchObject({ established: true, encrypted: true, outgoingAuth: 'EXTERNAL', incomingAuth: 'EXTERNAL' });
      },
    );
  }, 90_000);

  it('plain streams with dialback where Prosody allows them (security none)', async () => {
    await withProsody(
      { trust: null, ours: { securityMode: 'none' }, prosody: () => ({ requireEncryption: false, secureAuth: false, dialback: true }) },
      async (s) => {
        const { out, incoming } = await bothWays(s);
        expect(out).toMatchObject({ tls: null, auth: 'dialback' });
        expect(incoming).toMatchObject({ tls: null, auth: 'dialback' });
        expect(await prosodyFacts(s)).toMatchObject({ established: true, encrypted: false, outgoingAuth: 'dialback', incomingAuth: 'dialback' });
      },
    );
  }, 90_000);
});

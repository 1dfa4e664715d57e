import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dialbackKey } from '../../src/s2s/dialback-key.js';
import { createOutgoingConnector } from '../../src/s2s/outgoing-connector.js';
import { listenS2s, type S2sListener } from '../../src/s2s/s2s-listener.js';
import { S2sConnectError, type FederationConfig, type OutgoingStream } from '../../src/s2s/server-streams.js';
import { ensureLoopbackAddress } from '../helpers/bind-server.js';
import { issueServerCertificate, makeFederationCa, type FederationCa, type ServerCertificate } from '../helpers/federation-pki.js';
import { RawClient, streamErrorCondition } from '../helpers/raw-client.js';
import { credentialsFrom, RecordingHooks, testS2sEnv, type TestS2sEnv } from '../helpers/s2s-env.js';

/**
 * Our outgoing connector against our listener over real loopback sockets:
 * a.test on 127.0.6.1 and b.test on 127.0.6.2 (ephemeral ports), each with a
 * static route to the other, so that dialback's db:verify goes back over a
 * real second connection to the authoritative server.
 */

const A = '127.0.6.1';
const B = '127.0.6.2';
/** Raw peers and a closed port. */
const C = '127.0.6.3';
const SECRET = 'a-test-dialback-secret';

let dir: string;
let ca: FederationCa;
let untrusted: FederationCa;
let certA: ServerCertificate;
let certB: ServerCertificate;

beforeAll(async () => {
  await Promise.all([A, B, C].map(ensureLoopbackAddress));
  dir = await mkdtemp(join(tmpdir(), 's2s-loopback-'));
  ca = await makeFederationCa(dir);
  untrusted = await makeFederationCa(await mkdtemp(join(dir, 'untrusted-')), 'Not The CA');
  certA = await issueServerCertificate(ca, ['a.test']);
  certB = await issueServerCertificate(ca, ['b.test']);
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Side {
  env: TestS2sEnv;
  hooks: RecordingHooks;
  listener: S2sListener;
  port: number;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Trust = 'shared' | 'untrusted' | 'no-certificates';

async function side(domain: string, address: string, cert: ServerCertificate, trust: Trust, settings: Partial<FederationConfig>): Promise<Side> {
  const creds = trust === 'no-certificates' ? null : await credentialsFrom(cert, trust === 'shared' ? ca : untrusted);
  const env = testS2sEnv(domain, settings, creds);
  const hooks = new RecordingHooks();
  const listener = await listenS2s(env, hooks, [{ host: address, port: 0 }], { verifier: { timeoutMs: 5000 } });
  cleanups.push(() => listener.close());
  return { env, hooks, listener, port: listener.bindings()[0]!.port };
}

/** a.test and b.test, each routed to the other's listener. */
async function pair(trust: Trust, settingsA: Partial<FederationConfig> = {}, settingsB: Partial<FederationConfig> = settingsA) {
  const a = await side('a.test', A, certA, trust, settingsA);
  const b = await side('b.test', B, certB, trust, settingsB);
  a.env.settings = { ...a.env.settings, routes: [{ domain: 'b.test', targets: [`${B}:${b.port}`] }] };
  b.env.settings = { ...b.env.settings, routes: [{ domain: 'a.test', targets: [`${A}:${a.port}`] }] };
  return { a, b };
}

async function connectAtoB(a: Side, options: Parameters<typeof createOutgoingConnector>[1] = {}): Promise<OutgoingStream> {
  const stream = await createOutgoingConnector(a.env, { dialbackTimeoutMs: 5000, ...options })({ localDomain: 'a.test', remoteDomain: 'b.test' });
  cleanups.push(() => stream.close({ by: 'us', why: 'shutdown' }));
  return stream;
}

async function connectError(a: Side, options: Parameters<typeof createOutgoingConnector>[1] = {}): Promise<S2sConnectError> {
  const err = await createOutgoingConnector(a.env, { dialbackTimeoutMs: 5000, ...options })({ localDomain: 'a.test', remoteDomain: 'b.test' }).then(
    (s) => {
      s.close({ by: 'us', why: 'shutdown' });
      throw new Error('the stream came up');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(S2sConnectError);
  return err as S2sConnectError;
}

const message = (id: string, from = 'alice@a.test/desk') => `<message from='${from}' to='bob@b.test' id='${id}' type='chat'><body>hello ${id}</body></message>`;

/** No key, secret or digest in any log line: nothing that looks like a 64-digit hex key, nor the secret. */
function expectNoKeyMaterial(...envs: TestS2sEnv[]): void {
  for (const env of envs) {
    expect(env.lines.length).toBeGreaterThan(0);
    expect(env.logText()).not.toMatch(/[0-9a-f]{64}/i);
    expect(env.logText()).not.toContain(SECRET);
  }
}

async function rawS2s(port: number, host: string, from: string, to: string): Promise<RawClient> {
  const c = await RawClient.connect(port, host, C);
  cleanups.push(() => c.destroy());
  c.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='${from}' to='${to}' version='1.0'>`);
  await c.waitFor('</stream:features>');
  return c;
}

describe('server-to-server streams, our connector against our listener', () => {
  it('dialback over TLS when neither trusts the other’s CA: TLS 1.3 encrypts, dialback authenticates, the stanza arrives', async () => {
    const { a, b } = await pair('untrusted');
    const out = await connectAtoB(a);
    expect(out).toMatchObject({ direction: 'outgoing', localDomain: 'a.test', remoteDomain: 'b.test', tls: 'TLS 1.3', auth: 'dialback', peerAddress: `${B}:${b.port}` });
    out.send(message('m1'));
    const { stanza, stream } = await b.hooks.waitForStanza(/id='m1'/);
    expect(stanza).toMatchObject({ name: 'message', toDomain: 'b.test', raw: message('m1') });
    expect(stream).toMatchObject({ direction: 'incoming', remoteDomain: 'a.test', localDomain: 'b.test', tls: 'TLS 1.3', auth: 'dialback' });
    expect([...stream.authorizedDomains]).toEqual(['a.test']);
    expect(b.listener.streams()).toHaveLength(1);
    await a.env.waitForEvent('dialback-sent');
    expect(await b.env.waitForEvent('dialback-verified')).toMatchObject({ domain: 'a.test', direction: 'incoming', node: 'node-b.test' });
    // a.test's listener answered b.test's db:verify: the authoritative side's own record.
    expect(await a.env.waitForEvent('dialback-verified')).toMatchObject({ domain: 'b.test', direction: 'incoming', role: 'authoritative', localDomain: 'a.test', node: 'node-a.test' });
    expect(await a.env.waitForEvent('tls-established')).toMatchObject({ domain: 'b.test', direction: 'outgoing', version: 'TLS 1.3', certificate: 'unverified' });
    expectNoKeyMaterial(a.env, b.env);
  }, 30_000);

  it('SASL EXTERNAL when both trust the CA: no dialback at all', async () => {
    const { a, b } = await pair('shared');
    const out = await connectAtoB(a);
    expect(out).toMatchObject({ tls: 'TLS 1.3', auth: 'sasl' });
    out.send(message('m2'));
    const { stream } = await b.hooks.waitForStanza(/id='m2'/);
    expect(stream).toMatchObject({ auth: 'sasl', tls: 'TLS 1.3', remoteDomain: 'a.test' });
    expect(await a.env.waitForEvent('sasl-external-succeeded')).toMatchObject({ domain: 'b.test', direction: 'outgoing' });
    expect(await b.env.waitForEvent('sasl-external-succeeded')).toMatchObject({ domain: 'a.test', direction: 'incoming' });
    expect(a.env.events().some((e) => e.event === 'dialback-sent')).toBe(false);
  }, 30_000);

  it('security none on both sides: a plain stream with dialback', async () => {
    const { a, b } = await pair('untrusted', { securityMode: 'none' });
    const out = await connectAtoB(a);
    expect(out).toMatchObject({ tls: null, auth: 'dialback' });
    out.send(message('m3'));
    const { stream } = await b.hooks.waitForStanza(/id='m3'/);
    expect(stream).toMatchObject({ tls: null, auth: 'dialback' });
    expect(a.env.events().some((e) => e.event === 'tls-established')).toBe(false);
  }, 30_000);
});

describe('server-to-server streams, what a misbehaving or unusable peer gets', () => {
  it('a wrong dialback key gets type=invalid and the stream closes; the key never reaches the log', async () => {
    const { a, b } = await pair('untrusted', { securityMode: 'optional' });
    const c = await rawS2s(b.port, B, 'a.test', 'b.test');
    // A well-formed key, for the wrong stream id.
    const wrong = dialbackKey({ secret: SECRET, receiving: 'b.test', originating: 'a.test', streamId: 'not-this-stream' });
    c.send(`<db:result from='a.test' to='b.test'>${wrong}</db:result>`);
    const got = await c.untilClosed(10_000);
    expect(got).toMatch(/<db:result from='b.test' to='a.test' type='invalid'\/>/);
    expect(streamErrorCondition(got)).toBe('not-authorized');
    expect(await b.env.waitForEvent('dialback-invalid')).toMatchObject({ domain: 'a.test', direction: 'incoming' });
    expect(b.hooks.authorizations).toHaveLength(0);
    expect(b.env.logText()).not.toContain(wrong);
    expect(a.env.logText()).not.toContain(wrong);
    expectNoKeyMaterial(a.env, b.env);
  }, 30_000);

  it('db:verify for a stream id we never issued is invalid; the right key for an id is valid (any node with the secret answers)', async () => {
    const { a } = await pair('untrusted');
    const c = await rawS2s(a.port, A, 'b.test', 'a.test');
    const forOtherId = dialbackKey({ secret: SECRET, receiving: 'b.test', originating: 'a.test', streamId: 'issued-id' });
    c.send(`<db:verify from='b.test' to='a.test' id='never-issued'>${forOtherId}</db:verify>`);
    await c.waitFor(/<db:verify [^>]*type='invalid'\/>/);
    expect(c.received).toContain(`<db:verify from='a.test' to='b.test' id='never-issued' type='invalid'/>`);
    c.send(`<db:verify from='b.test' to='a.test' id='issued-id'>${forOtherId}</db:verify>`);
    await c.waitFor(`<db:verify from='a.test' to='b.test' id='issued-id' type='valid'/>`);
    expect(a.env.logText()).not.toContain(forOtherId);
  }, 30_000);

  it('a spoofed from on an authorized stream gets <invalid-from/>, and only that stream closes', async () => {
    const { a, b } = await pair('untrusted');
    const first = await connectAtoB(a);
    const second = await connectAtoB(a);
    await b.hooks.waitFor(() => b.hooks.authorizations.length === 2, 'two authorized streams');
    const closed = new Promise<unknown>((resolve) => first.onClosed(resolve));
    first.send(message('spoof', 'mallory@evil.test/x'));
    expect(await closed).toMatchObject({ by: 'peer', error: expect.stringContaining('invalid-from') });
    await b.hooks.waitFor(() => b.hooks.closes.length === 1, 'the spoofing stream closed');
    expect(b.hooks.closes[0]!.reason).toMatchObject({ by: 'us', error: { condition: 'invalid-from' } });
    expect(b.hooks.stanzas.some((s) => s.stanza.raw.includes("id='spoof'"))).toBe(false);
    second.send(message('after'));
    await b.hooks.waitForStanza(/id='after'/);
    expect(b.listener.streams()).toHaveLength(1);
  }, 30_000);

  it('a stream header to a host we do not serve gets <host-unknown/>', async () => {
    const { b } = await pair('untrusted');
    const c = await RawClient.connect(b.port, B, C);
    cleanups.push(() => c.destroy());
    c.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='a.test' to='elsewhere.test' version='1.0'>`);
    expect(streamErrorCondition(await c.untilClosed())).toBe('host-unknown');
  }, 30_000);

  it('a domain refused by policy gets <policy-violation/> and the event policy-refused', async () => {
    const { a, b } = await pair('untrusted', {}, { privacyMode: 'deny', deny: [{ domain: 'a.test', direction: 'incoming' }] });
    const c = await rawS2s(b.port, B, 'a.test', 'b.test');
    c.send(`<db:result from='a.test' to='b.test'>${'0'.repeat(64)}</db:result>`);
    expect(streamErrorCondition(await c.untilClosed())).toBe('policy-violation');
    expect(await b.env.waitForEvent('policy-refused')).toMatchObject({ domain: 'a.test', direction: 'incoming', node: 'node-b.test' });
    // Our own connector sees the peer's stream error.
    const err = await connectError(a);
    expect(err.outcomes).toEqual(['stream-error']);
  }, 30_000);

  it('TLS required against a peer without TLS: never used, tls-unavailable', async () => {
    const { a } = await pair('untrusted', { securityMode: 'required' }, { securityMode: 'none' });
    const err = await connectError(a);
    expect(err).toMatchObject({ domain: 'b.test', outcomes: ['tls-unavailable'] });
  }, 30_000);

  it('TLS required on our listener: STARTTLS is offered with <required/>, and db:result before it gets <not-authorized/> (RFC 6120 §5.3.1, §4.9.3.12)', async () => {
    const { b } = await pair('untrusted', { securityMode: 'required' });
    const c = await rawS2s(b.port, B, 'a.test', 'b.test');
    expect(c.received).toContain("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>");
    c.send(`<db:result from='a.test' to='b.test'>${'0'.repeat(64)}</db:result>`);
    expect(streamErrorCondition(await c.untilClosed())).toBe('not-authorized');
  }, 30_000);

  it('federation disabled: a new stream gets <host-unknown/> (our domain is not served on this port)', async () => {
    const { b } = await pair('untrusted', {}, { enabled: false });
    const c = await RawClient.connect(b.port, B, C);
    cleanups.push(() => c.destroy());
    c.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='a.test' to='b.test' version='1.0'>`);
    expect(streamErrorCondition(await c.untilClosed())).toBe('host-unknown');
  }, 30_000);

  it('client certificates required and the peer’s certificate does not verify: tls-failed, and nothing is sent', async () => {
    const { a, b } = await pair('untrusted', { clientCertsRequired: true }, {});
    const err = await connectError(a);
    expect(err.outcomes).toEqual(['tls-failed']);
    expect(await a.env.waitForEvent('tls-failed')).toMatchObject({ domain: 'b.test', direction: 'outgoing' });
    expect(b.hooks.authorizations).toHaveLength(0);
  }, 30_000);

  it('nothing listening at the routed address: no-answer', async () => {
    const { a } = await pair('untrusted');
    const closedPort = await freePort(C);
    a.env.settings = { ...a.env.settings, routes: [{ domain: 'b.test', targets: [`${C}:${closedPort}`] }] };
    const err = await connectError(a);
    expect(err.outcomes).toEqual(['no-answer']);
  }, 30_000);

  it('a peer that never answers dialback: timeout after dialbackTimeoutMs', async () => {
    const { a } = await pair('untrusted', { securityMode: 'none' });
    const silent = await silentDialbackPeer(C);
    a.env.settings = { ...a.env.settings, routes: [{ domain: 'b.test', targets: [`${C}:${silent.port}`] }] };
    const err = await connectError(a, { dialbackTimeoutMs: 300 });
    expect(err.outcomes).toEqual(['timeout']);
    expect(await a.env.waitForEvent('dialback-timeout')).toMatchObject({ domain: 'b.test', direction: 'outgoing' });
    expectNoKeyMaterial(a.env);
  }, 30_000);
});

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A server that opens its stream, offers dialback, and then says nothing. */
async function silentDialbackPeer(host: string): Promise<{ port: number }> {
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('data', () => {
      socket.write(
        `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' id='silent-1' from='b.test' to='a.test' version='1.0'><stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as { port: number }).port };
}

import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { ensureLoopbackAddress } from '../helpers/bind-server.js';
import { nextEvent } from '../helpers/bridges.js';
import { startEjabberd } from '../helpers/ejabberd-server.js';
import { startFederationDns, type FederationDns } from '../helpers/federation-dns.js';
import { withPeerLogs } from '../helpers/federation-exchange.js';
import { accepts } from '../helpers/peer-process.js';
import { startProsody } from '../helpers/prosody-server.js';
import { RawClient } from '../helpers/raw-client.js';

/**
 * The harness itself, as a test of the s2s code will lean on it: a Prosody
 * user (c2s) reached across federation, a peer that cannot bind its port
 * failing with the reason from its own log, and stop() leaving nothing
 * behind (the next test binds the same address and 5269).
 */

// This file's addresses: named, other.test, fourth.test, and one each for the port-taken cases.
const DNS = '127.0.4.9';
const A = { domain: 'other.test', address: '127.0.4.10' };
const B = { domain: 'fourth.test', address: '127.0.4.11' };
const BUSY_PROSODY = '127.0.4.12';
const BUSY_EJABBERD = '127.0.4.13';

let dns: FederationDns;

beforeAll(async () => {
  dns = await startFederationDns({
    address: DNS,
    entries: [
      { domain: A.domain, address: A.address },
      { domain: `cb.${B.domain}`, address: B.address },
    ],
  });
});

afterAll(async () => {
  await dns?.stop();
});

/** Something else listening on address:port, as a system Prosody on 0.0.0.0:5269 would be. */
async function occupy(address: string, port: number): Promise<Server> {
  await ensureLoopbackAddress(address);
  const srv = createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, address, () => resolve()));
  return srv;
}

const stream = (to: string) => `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${to}' version='1.0'>`;

/** RFC 6120 §6 and §7 by hand: SASL PLAIN, stream restart, resource binding, initial presence. */
async function loginAs(host: string, port: number, domain: string, user: string, password: string, resource: string): Promise<RawClient> {
  const c = await RawClient.connect(port, host);
  c.send(stream(domain));
  await c.waitFor('</stream:features>');
  c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
  await c.waitFor(/<success[ >/]/);
  c.received = '';
  c.send(stream(domain));
  await c.waitFor('</stream:features>');
  c.send(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
  await c.waitFor(`<jid>${user}@${domain}/${resource}</jid>`);
  c.send('<presence/>');
  return c;
}

describe('the federation peer harness', () => {
  it('a user on Prosody and a component on another Prosody exchange messages across s2s', async () => {
    const users = [{ user: 'alice', password: 'alice-password-1' }];
    const a = await startProsody({ ...A, users, s2s: { requireEncryption: false }, dns });
    const b = await startProsody({ ...B, components: [{ name: 'cb', secret: 'component-secret-harness' }], s2s: { requireEncryption: false }, dns });
    let alice: RawClient | undefined;
    let bridge: CallBridge | undefined;
    try {
      await withPeerLogs([a, b], async () => {
        alice = await loginAs(a.address, a.c2sPort, A.domain, 'alice', 'alice-password-1', 'desk');
        bridge = await CallBridge.connect({ name: 'cb', secret: 'component-secret-harness', domain: B.domain, host: b.address, port: b.componentPort });
        await bridge.sendMessage('alice@other.test/desk', 'to alice from afar', 'c1');
        await alice.waitFor('to alice from afar', 20_000);
        expect(alice.received).toMatch(/<message[^>]*from=['"]cb\.fourth\.test['"]/);
        const back = nextEvent(bridge, 'message', 20_000);
        alice.send(`<message to='cb.fourth.test' type='chat' id='u1'><body>hello from alice</body></message>`);
        expect(await back).toMatchObject({ from: 'alice@other.test/desk', to: 'cb.fourth.test', body: 'hello from alice', id: 'u1' });
      });
    } finally {
      alice?.destroy();
      await bridge?.close();
      await a.stop();
      await b.stop();
    }
  }, 60_000);

  it('stop() ends Prosody and ejabberd and frees their ports for the next test', async () => {
    const p = await startProsody({ domain: 'other.test', address: BUSY_PROSODY, components: [{ name: 'cb', secret: 's' }], s2s: { requireEncryption: false } });
    expect(await accepts(BUSY_PROSODY, 5269)).toBe(true);
    await p.stop();
    expect(p.process.child.exitCode ?? p.process.child.signalCode).not.toBeNull();
    expect(await accepts(BUSY_PROSODY, 5269)).toBe(false);
    expect(await accepts(BUSY_PROSODY, p.componentPort)).toBe(false);

    const e = await startEjabberd({ domain: 'third.test', address: BUSY_EJABBERD, components: [{ name: 'cb', secret: 's' }] });
    expect(await accepts(BUSY_EJABBERD, 5269)).toBe(true);
    await e.stop();
    expect(e.process.child.exitCode ?? e.process.child.signalCode).not.toBeNull();
    expect(await accepts(BUSY_EJABBERD, 5269)).toBe(false);
    expect(await accepts(BUSY_EJABBERD, e.componentPort)).toBe(false);
  }, 60_000);

  it('a Prosody whose s2s port is taken fails at once with the line from its own log', async () => {
    const srv = await occupy(BUSY_PROSODY, 5269);
    try {
      const err = await startProsody({ domain: 'other.test', address: BUSY_PROSODY }).then(
        () => new Error('started'),
        (e: Error) => e,
      );
      expect(err).toMatchObject({ name: 'PortTakenError', port: 5269 });
      expect(err.message).toContain(`Failed to open server port 5269 on ${BUSY_PROSODY}`);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  }, 60_000);

  it('an ejabberd whose s2s port is taken fails at once with the line from its own log', async () => {
    const srv = await occupy(BUSY_EJABBERD, 5269);
    try {
      const err = await startEjabberd({ domain: 'third.test', address: BUSY_EJABBERD }).then(
        () => new Error('started'),
        (e: Error) => e,
      );
      expect(err).toMatchObject({ name: 'PortTakenError', port: 5269 });
      expect(err.message).toContain(`Failed to open socket at ${BUSY_EJABBERD}:5269 for ejabberd_s2s_in: address already in use`);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  }, 60_000);
});

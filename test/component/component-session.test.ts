import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge, CallBridgeConnectError, type ReceivedMessage } from '../../src/bridge/call-bridge.js';
import { handshakeDigest } from '../../src/component/handshake.js';
import { COMPONENT_HEADER, RawClient, streamErrorCondition, streamIdOf, authenticatedRaw as connectAuthenticated } from '../helpers/raw-client.js';
import { connectBridge, nextEvent } from '../helpers/bridges.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

/**
 * XEP-0114 sessions over real sockets: the handshake, what the server
 * refuses and with which RFC 6120 condition, and that nothing a bad peer
 * does disturbs the call bridges that behave.
 */

let t: TestNode;
let cb1: CallBridge;
let cb2: CallBridge;

const nextMessage = (bridge: CallBridge) => nextEvent<ReceivedMessage>(bridge);

/** The two good call bridges still exchange a message both ways. */
async function stillRouting(): Promise<void> {
  const tag = Math.random().toString(36).slice(2);
  const at2 = nextMessage(cb2);
  await cb1.sendMessage('cb2.example.test', `ping ${tag}`);
  expect((await at2).body).toBe(`ping ${tag}`);
  const at1 = nextMessage(cb1);
  await cb2.sendMessage('cb1.example.test', `pong ${tag}`);
  expect((await at1).body).toBe(`pong ${tag}`);
}

const authenticatedRaw = (name: string): Promise<RawClient> => connectAuthenticated(t.ports[0], name, t.secrets[name]!);

beforeAll(async () => {
  t = await startTestNode({
    callbridges: { cb1: 'secret-one-1234567890', cb2: 'secret-two-1234567890', cb3: 'secret-three-123456789', cb4: 'secret-four-1234567890' },
    sessionOptions: { headerTimeoutMs: 300, handshakeTimeoutMs: 300 },
  });
  cb1 = await connectBridge(t, 'cb1', 0);
  cb2 = await connectBridge(t, 'cb2', 1);
});

afterAll(async () => {
  await cb1?.close();
  await cb2?.close();
  await t?.close();
});

describe('handshake', () => {
  it('lets a call bridge in on either port and routes between them', async () => {
    await stillRouting();
    expect(t.node.status().sessions.map((s) => s.address).sort()).toEqual(['cb1.example.test', 'cb2.example.test']);
  });

  it('answers the header with its own, naming the component and carrying a fresh id', async () => {
    const c = await RawClient.connect(t.ports[1]);
    c.send(COMPONENT_HEADER('cb3.example.test'));
    const got = await c.waitFor(/<stream:stream[^>]*>/);
    expect(got).toMatch(/^<\?xml version='1.0'\?><stream:stream xmlns:stream='http:\/\/etherx.jabber.org\/streams' xmlns='jabber:component:accept' id='[0-9a-f]{24}' from='cb3.example.test'>$/);
    c.destroy();
  });

  it('refuses a wrong secret with <not-authorized/>, logs the name and address but never the secret or digest', async () => {
    const c = await RawClient.connect(t.ports[0]);
    c.send(COMPONENT_HEADER('cb3.example.test'));
    await c.waitFor(/<stream:stream[^>]*>/);
    const digest = handshakeDigest(streamIdOf(c.received), 'wrong-secret');
    c.send(`<handshake>${digest}</handshake>`);
    const got = await c.untilClosed();
    expect(streamErrorCondition(got)).toBe('not-authorized');
    expect(got.endsWith('</stream:stream>')).toBe(true);
    const line = t.log.lines.find((l) => l.msg === 'component authentication failure' && l.callbridge === 'cb3');
    expect(line).toMatchObject({ peer: '127.0.0.1' });
    const all = t.log.raw.join('');
    expect(all).not.toContain(digest);
    expect(all).not.toContain('secret-three');
    await stillRouting();
  });

  it('refuses an unknown call bridge the same way as a wrong secret', async () => {
    const c = await RawClient.connect(t.ports[0]);
    c.send(COMPONENT_HEADER('nosuch.example.test'));
    await c.waitFor(/<stream:stream[^>]*>/);
    c.send(`<handshake>${handshakeDigest(streamIdOf(c.received), 'anything')}</handshake>`);
    expect(streamErrorCondition(await c.untilClosed())).toBe('not-authorized');
    expect(t.log.lines.some((l) => l.msg === 'component authentication failure' && l.callbridge === 'nosuch')).toBe(true);
  });

  it('makes repeated failures from one address wait longer each time', async () => {
    const durations: number[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await RawClient.connect(t.ports[0]);
      c.send(COMPONENT_HEADER('cb4.example.test'));
      await c.waitFor(/<stream:stream[^>]*>/);
      const start = Date.now();
      c.send(`<handshake>0000000000000000000000000000000000000000</handshake>`);
      expect(streamErrorCondition(await c.untilClosed(10_000))).toBe('not-authorized');
      durations.push(Date.now() - start);
    }
    // Earlier tests already failed from 127.0.0.1, so even the first waits; each waits longer.
    for (let i = 1; i < durations.length; i++) expect(durations[i]!).toBeGreaterThan(durations[i - 1]!);
    // A correct handshake from the same address still gets in and resets the count.
    const ok = await authenticatedRaw('cb4');
    ok.send('</stream:stream>');
    await ok.untilClosed();
  }, 30_000);

  it('accepts the bare call bridge name in the header, as CMS sends it', async () => {
    const bare = await CallBridge.connect({ name: 'cb3', secret: t.secrets.cb3!, domain: 'example.test', host: '127.0.0.1', port: t.ports[0], bareName: true });
    const at3 = nextMessage(bare);
    await cb1.sendMessage('cb3.example.test', 'to the bare one');
    expect((await at3).body).toBe('to the bare one');
    // And `to='cb1'` reaches cb1.<domain>.
    const at1 = nextMessage(cb1);
    await bare.sendMessage('cb1', 'by bare name');
    expect(await at1).toMatchObject({ body: 'by bare name', from: 'cb3.example.test' });
    await bare.close();
  });

  it('closes the older connection with <conflict/> when the same call bridge connects again', async () => {
    const first = await authenticatedRaw('cb3');
    const second = await CallBridge.connect({ name: 'cb3', secret: t.secrets.cb3!, domain: 'example.test', host: '127.0.0.1', port: t.ports[1] });
    expect(streamErrorCondition(await first.untilClosed())).toBe('conflict');
    const at3 = nextMessage(second);
    await cb1.sendMessage('cb3.example.test', 'to the newer one');
    expect((await at3).body).toBe('to the newer one');
    await second.close();
  });

  it('rejects the handshake through xmpp.js with the condition it can read', async () => {
    const err = await CallBridge.connect({ name: 'cb3', secret: 'not-it', domain: 'example.test', host: '127.0.0.1', port: t.ports[0] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallBridgeConnectError);
    expect((err as CallBridgeConnectError).condition).toBe('not-authorized');
    expect((err as Error).message).toBe('XMPP connection failed to connect to 127.0.0.1 due to authentication failure');
  });
});

describe('stream errors (RFC 6120 §4.9), each leaving the other sessions untouched', () => {
  async function expectStreamError(input: string | Buffer | Array<string | Buffer>, condition: string, options: { header?: boolean } = {}): Promise<string> {
    const c = await RawClient.connect(t.ports[0]);
    for (const part of Array.isArray(input) ? input : [input]) c.send(part);
    const got = await c.untilClosed();
    expect(streamErrorCondition(got)).toBe(condition);
    // Our header comes first, even when the error came before we would have sent it.
    if (options.header !== false) expect(got.startsWith("<?xml version='1.0'?><stream:stream ")).toBe(true);
    expect(got.endsWith('</stream:stream>')).toBe(true);
    await stillRouting();
    return got;
  }

  it('not-well-formed for broken XML', async () => {
    await expectStreamError(`${COMPONENT_HEADER('cb3.example.test')}<handshake></nope>`, 'not-well-formed');
  });

  it('restricted-xml for a DOCTYPE, before the header', async () => {
    await expectStreamError(`<?xml version='1.0'?><!DOCTYPE x>${COMPONENT_HEADER('cb3.example.test')}`, 'restricted-xml');
  });

  it('restricted-xml for the billion laughs, without expanding anything', async () => {
    const lol = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]>`;
    await expectStreamError(`${lol}${COMPONENT_HEADER('cb3.example.test')}<handshake>&lol9;</handshake>`, 'restricted-xml');
  });

  it('restricted-xml for a processing instruction, a comment, an undeclared entity', async () => {
    await expectStreamError(`${COMPONENT_HEADER('cb3.example.test')}<?foo bar?>`, 'restricted-xml');
    await expectStreamError(`${COMPONENT_HEADER('cb3.example.test')}<!-- hello -->`, 'restricted-xml');
    await expectStreamError(`${COMPONENT_HEADER('cb3.example.test')}<handshake>&secret;</handshake>`, 'restricted-xml');
  });

  it('policy-violation for a 10 MiB stanza, refused while it is still arriving', async () => {
    const c = await authenticatedRaw('cb3');
    c.send(`<message from='cb3.example.test' to='cb1.example.test'><body>`);
    const chunk = 'x'.repeat(1024 * 1024);
    let sent = 0;
    const refused = c.waitFor('</stream:stream>', 20_000);
    for (; sent < 10 && !c.received.includes('</stream:stream>'); sent++) {
      // The server stops reading once it refuses: wait for drain or the refusal, whichever comes.
      await Promise.race([new Promise<void>((resolve) => (c.socket.write(chunk) ? resolve() : c.socket.once('drain', () => resolve()))), refused]);
    }
    const got = await c.untilClosed();
    expect(streamErrorCondition(got)).toBe('policy-violation');
    expect(sent).toBeLessThan(10);
    await stillRouting();
  });

  it('connection-timeout when no header arrives in time', async () => {
    const got = await expectStreamError([], 'connection-timeout');
    expect(got).toContain('no stream header');
  });

  it('connection-timeout when no handshake follows the header in time', async () => {
    const got = await expectStreamError(COMPONENT_HEADER('cb3.example.test'), 'connection-timeout');
    expect(got).toContain('no handshake');
  });

  it('invalid-namespace for a client stream or a wrong stream namespace', async () => {
    await expectStreamError(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='cb3.example.test'>`, 'invalid-namespace');
    await expectStreamError(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='urn:wrong' to='cb3.example.test'>`, 'invalid-namespace');
  });

  it('host-unknown for a header naming no component of the domain', async () => {
    await expectStreamError(COMPONENT_HEADER('cb1.elsewhere.test'), 'host-unknown');
    await expectStreamError(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>`, 'host-unknown');
  });

  it('not-authorized for a stanza before the handshake', async () => {
    await expectStreamError(`${COMPONENT_HEADER('cb3.example.test')}<message from='cb3.example.test' to='cb1.example.test'/>`, 'not-authorized');
  });

  it('unsupported-encoding for bytes that are not UTF-8', async () => {
    await expectStreamError([COMPONENT_HEADER('cb3.example.test'), Buffer.from([0x3c, 0x61, 0xff, 0xfe, 0x3e])], 'unsupported-encoding');
  });

  it('invalid-from for a stanza from outside the component, or without from', async () => {
    for (const stanza of [`<message from='cb1.example.test' to='cb2.example.test'><body>spoof</body></message>`, `<message to='cb2.example.test'/>`]) {
      const c = await authenticatedRaw('cb3');
      c.send(stanza);
      expect(streamErrorCondition(await c.untilClosed())).toBe('invalid-from');
    }
    await stillRouting();
  });

  it('improper-addressing for a stanza without to', async () => {
    const c = await authenticatedRaw('cb3');
    c.send(`<message from='cb3.example.test'><body>nowhere</body></message>`);
    expect(streamErrorCondition(await c.untilClosed())).toBe('improper-addressing');
    await stillRouting();
  });

  it('unsupported-stanza-type for an element that is not a stanza', async () => {
    const c = await authenticatedRaw('cb3');
    c.send(`<foo from='cb3.example.test' to='cb1.example.test'/>`);
    expect(streamErrorCondition(await c.untilClosed())).toBe('unsupported-stanza-type');
  });

  it('keeps whitespace keepalives and closes cleanly on </stream:stream>', async () => {
    const c = await authenticatedRaw('cb3');
    c.send(' \n ');
    c.send(`<message from='user@cb3.example.test/r' to='cb1.example.test'><body>after keepalive</body></message>`);
    const at1 = nextMessage(cb1);
    expect((await at1).from).toBe('user@cb3.example.test/r');
    c.send('</stream:stream>');
    const got = await c.untilClosed();
    expect(streamErrorCondition(got)).toBeNull();
    expect(got.endsWith('</stream:stream>')).toBe(true);
  });
});

describe('connection floods', () => {
  it('past 32 unauthenticated connections from one address closes the oldest with <resource-constraint/>, and serves the newer', async () => {
    // Its own source address, so nothing left from the tests above counts.
    const clients = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const c = await RawClient.connect(t.ports[0], '127.0.0.1', '127.0.0.9');
        c.send(COMPONENT_HEADER('cb3.example.test'));
        return c;
      }),
    );
    // Each gets our header; the 8 oldest then the error, the 32 newer wait for a handshake until the 300 ms timeout.
    const conditions = await Promise.all(clients.map(async (c) => streamErrorCondition(await c.untilClosed())));
    expect(conditions.filter((c) => c === 'resource-constraint')).toHaveLength(8);
    expect(conditions.filter((c) => c === 'connection-timeout')).toHaveLength(32);
    expect(clients.every((c) => /^<\?xml version='1.0'\?><stream:stream [^>]*>/.test(c.received))).toBe(true);
    expect(t.log.find('too_many_unauthenticated')[0]).toMatchObject({ peer: '127.0.0.9', limit: 'address', evicted: 1 });
    await stillRouting();
  });
});

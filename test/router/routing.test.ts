import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { CallBridge, type ReceivedMessage } from '../../src/bridge/call-bridge.js';
import { COMPONENT_HEADER, RawClient, streamErrorCondition, streamIdOf } from '../helpers/raw-client.js';
import { handshakeDigest } from '../../src/component/handshake.js';
import { connectBridge, nextEvent } from '../helpers/bridges.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

/** Where stanzas go on one node, seen from real call bridges. */

const require = createRequire(import.meta.url);
const { component, xml } = require('@xmpp/component') as {
  component: (o: { service: string; domain: string; password: string }) => XmppJsComponent;
  xml: (name: string, attrs?: Record<string, string>, ...children: unknown[]) => Element;
};
interface XmppJsComponent {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(el: Element): Promise<void>;
  on(event: 'stanza', cb: (el: Element) => void): void;
  iqCaller: { request(el: Element, timeout?: number): Promise<Element> };
}

let t: TestNode;
let cb1: CallBridge;
let cb2: CallBridge;

const next = (bridge: CallBridge, event = 'message') => nextEvent(bridge, event);

beforeAll(async () => {
  t = await startTestNode({ callbridges: { cb1: 'secret-one-1234567890', cb2: 'secret-two-1234567890', cb3: 'secret-three-123456789', cb9: 'secret-nine-1234567890' } });
  cb1 = await connectBridge(t, 'cb1', 0);
  cb2 = await connectBridge(t, 'cb2', 1);
});

afterAll(async () => {
  await cb1?.close();
  await cb2?.close();
  await t?.close();
});

describe('routing between components', () => {
  it('delivers the original stanza, byte for byte, to the component that serves the to domain', async () => {
    const raw = await RawClient.connect(t.ports[0]);
    raw.send(COMPONENT_HEADER('cb3.example.test'));
    await raw.waitFor(/<stream:stream[^>]*>/);
    raw.send(`<handshake>${handshakeDigest(streamIdOf(raw.received), t.secrets.cb3!)}</handshake>`);
    await raw.waitFor('<handshake/>');
    const stanza = `<message xmlns="jabber:component:accept" from="cb1.example.test" to="conf42@cb3.example.test/x" id="k&amp;1" type="groupchat"><body>ünïcode &lt;b&gt; 😀</body><x xmlns="urn:example"><y a='1'/></x></message>`;
    await cb1.sendElement(require('ltx').parse(stanza));
    const got = await raw.waitFor('</message>');
    expect(got.slice(got.indexOf('<message'))).toContain('<body>ünïcode &lt;b&gt; 😀</body>');
    raw.send(`<message from='cb3.example.test' to='cb1.example.test'><body>exact</body><thread>t1</thread></message>`);
    const back = await next(cb1, 'stanza');
    expect(back.getChildText('thread')).toBe('t1');
    raw.destroy();
  });

  it('keeps the order of many stanzas from one sender', async () => {
    const bodies: string[] = [];
    const done = new Promise<void>((resolve) =>
      cb2.on('message', function onMessage(m: ReceivedMessage) {
        bodies.push(m.body);
        if (bodies.length === 500) {
          cb2.off('message', onMessage);
          resolve();
        }
      }),
    );
    for (let i = 0; i < 500; i++) void cb1.sendMessage('cb2.example.test', String(i));
    await done;
    expect(bodies).toEqual(Array.from({ length: 500 }, (_, i) => String(i)));
  });
});

describe('undeliverable stanzas are answered, never dropped silently', () => {
  it('bounces with service-unavailable when the call bridge of our domain is not connected', async () => {
    const bounce = next(cb1);
    await cb1.sendMessage('room@cb9.example.test', 'anyone?', 'q1');
    expect(await bounce).toMatchObject({ type: 'error', error: 'service-unavailable', from: 'room@cb9.example.test', to: 'cb1.example.test', id: 'q1' });
  });

  it('bounces with remote-server-not-found for a domain that is neither ours nor a component', async () => {
    const bounce = next(cb1);
    await cb1.sendMessage('someone@other.org', 'hello?', 'q2');
    expect(await bounce).toMatchObject({ type: 'error', error: 'remote-server-not-found', from: 'someone@other.org', id: 'q2' });
  });

  it('bounces an iq get with service-unavailable too', async () => {
    const reply = next(cb1, 'stanza');
    await cb1.sendElement(xml('iq', { type: 'get', id: 'iq1', to: 'cb9.example.test', from: 'cb1.example.test' }, xml('query', { xmlns: 'urn:example' })));
    const el = await reply;
    expect(el.attrs).toMatchObject({ type: 'error', id: 'iq1' });
    expect(el.getChild('error')?.getChild('service-unavailable')).toBeDefined();
  });

  it('never answers an error with an error (RFC 6120 §8.3.1)', async () => {
    const before = t.node.router.counters.dropped;
    const seen: string[] = [];
    const listen = (m: ReceivedMessage) => seen.push(m.body);
    cb1.on('message', listen);
    await cb1.sendElement(xml('message', { type: 'error', to: 'x@cb9.example.test', from: 'cb1.example.test', id: 'e1' }, xml('body', {}, 'an error')));
    // A later stanza arriving proves the error was processed first, without reply.
    const marker = next(cb1);
    await cb1.sendMessage('nobody@cb9.example.test', 'marker');
    expect((await marker).error).toBe('service-unavailable');
    cb1.off('message', listen);
    expect(seen).not.toContain('an error');
    expect(t.node.router.counters.dropped).toBe(before + 1);
  });
});

describe('the server domain itself', () => {
  it('answers XEP-0199 pings and XEP-0030 disco with an unmodified xmpp.js component', async () => {
    const c = component({ service: `xmpp://127.0.0.1:${t.ports[0]}`, domain: 'cb3.example.test', password: t.secrets.cb3! });
    await c.start();
    try {
      const pong = await c.iqCaller.request(xml('iq', { type: 'get', to: 'example.test' }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
      expect(pong.attrs.type).toBe('result');
      const info = await c.iqCaller.request(xml('iq', { type: 'get', to: 'example.test' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })), 5000);
      const query = info.getChild('query')!;
      expect(query.getChild('identity')?.attrs).toMatchObject({ category: 'server', type: 'im' });
      expect(query.getChildren('feature').map((f) => f.attrs.var)).toContain('urn:xmpp:ping');
      const items = await c.iqCaller.request(xml('iq', { type: 'get', to: 'example.test' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' })), 5000);
      expect(items.getChild('query')!.getChildren('item').map((i) => i.attrs.jid)).toEqual(expect.arrayContaining(['cb1.example.test', 'cb2.example.test', 'cb3.example.test']));
      const unknown = await c.iqCaller.request(xml('iq', { type: 'get', to: 'example.test' }, xml('query', { xmlns: 'jabber:iq:version' })), 5000).catch((e: { condition?: string }) => e);
      expect((unknown as { condition?: string }).condition).toBe('service-unavailable');
    } finally {
      await c.stop();
    }
  });
});

describe('operator actions reach open sessions', () => {
  it('closes a deleted call bridge with <not-authorized/> and stops routing to it', async () => {
    await t.node.addCallbridge('cb7', 'secret-seven-123456789');
    const cb7 = await CallBridge.connect({ name: 'cb7', secret: 'secret-seven-123456789', domain: 'example.test', host: '127.0.0.1', port: t.ports[0] });
    const err = new Promise<{ condition?: string }>((resolve) => cb7.once('stream-error', resolve));
    await t.node.removeCallbridge('cb7');
    expect((await err).condition).toBe('not-authorized');
    const bounce = next(cb1);
    await cb1.sendMessage('cb7.example.test', 'gone?');
    expect((await bounce).error).toBe('service-unavailable');
  });

  it('a new domain ends the sessions of the old one with <host-gone/>; call bridges of the new one get in', async () => {
    const cb3 = await connectBridge(t, 'cb3', 0);
    const gone = nextEvent<{ condition?: string }>(cb3, 'stream-error');
    await t.node.setDomain('example.org');
    expect((await gone).condition).toBe('host-gone');
    const moved = await CallBridge.connect({ name: 'cb3', secret: t.secrets.cb3!, domain: 'example.org', host: '127.0.0.1', port: t.ports[0] });
    await moved.close();
    await t.node.setDomain('example.test');
    cb1 = await connectBridge(t, 'cb1', 0);
    cb2 = await connectBridge(t, 'cb2', 1);
  });

  it('new interfaces open before the old ones close, and connected call bridges stay up', async () => {
    await t.node.setListen(['a', '127.0.0.2']);
    const st = t.node.serviceState();
    const second = st.state === 'running' ? st.bindings.find((b) => b.host === '127.0.0.2')! : undefined;
    const cb3 = await CallBridge.connect({ name: 'cb3', secret: t.secrets.cb3!, domain: 'example.test', host: '127.0.0.2', port: second!.port });
    await t.node.setListen(['127.0.0.2']);
    await expect(RawClient.connect(t.ports[0])).rejects.toThrow(/ECONNREFUSED/);
    const at3 = next(cb3);
    await cb1.sendMessage('cb3.example.test', 'still here');
    expect((await at3).body).toBe('still here');
    await cb3.close();
    await t.node.setListen(['a']);
    const now = t.node.serviceState();
    if (now.state === 'running') t.ports = [now.bindings[0]!.port, now.bindings[1]!.port];
  });

  it('xmpp disable ends every session with <system-shutdown/> and closes the ports; enable opens them again', async () => {
    const raw = await RawClient.connect(t.ports[0]);
    const e1 = new Promise<{ condition?: string }>((resolve) => cb1.once('stream-error', resolve));
    await t.node.disable();
    expect((await e1).condition).toBe('system-shutdown');
    expect(streamErrorCondition(await raw.untilClosed())).toBe('system-shutdown');
    await expect(RawClient.connect(t.ports[0])).rejects.toThrow(/ECONNREFUSED/);
    await t.node.enable();
    const state = t.node.serviceState();
    expect(state.state).toBe('running');
  });
});

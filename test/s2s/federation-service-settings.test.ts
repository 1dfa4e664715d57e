import { describe, expect, it } from 'vitest';
import { StreamError } from '../../src/xmpp/errors.js';
import { flush, type MemoryIncomingStream, type MemoryOutgoingStream, type StreamShape } from '../helpers/memory-s2s.js';
import { federation, ids, type Federation, DIALBACK_SECRET, message } from './federation-service-harness.js';

/**
 * A settings change applies live and closes exactly the streams it affects
 * (federation.md, "Where we go further"); shutdown bounces what waits; the
 * event log never carries a secret.
 */

const FROM = 'cb1.example.test';

/** An outgoing and an incoming stream with `domain`, of the given shape. */
async function both(f: Federation, domain: string, shape: StreamShape = {}): Promise<{ out: MemoryOutgoingStream; inc: MemoryIncomingStream }> {
  const peer = f.net.peer(domain);
  peer.shape = shape;
  f.send(message(FROM, `user@${domain}`, `to-${domain}`));
  await flush();
  return { out: peer.last!, inc: peer.streamToUs('example.test', shape) };
}

function conditionOf(s: MemoryIncomingStream): string | undefined {
  const reason = s.closedWith;
  return reason?.by === 'us' && reason.error instanceof StreamError ? reason.error.condition : undefined;
}

describe('a live policy change', () => {
  it('from allow to deny closes exactly the newly denied domain’s streams (incoming with <policy-violation/>); the other stays up', async () => {
    const f = federation({
      config: {
        privacyMode: 'allow',
        allow: [
          { domain: 'other.test', direction: 'both' },
          { domain: 'third.test', direction: 'both' },
        ],
      },
    });
    const other = await both(f, 'other.test');
    const third = await both(f, 'third.test');
    f.env.update({ privacyMode: 'deny', allow: [], deny: [{ domain: 'third.test', direction: 'both' }] });
    f.service.configurationChanged();
    expect(third.out.closedWith).toEqual({ by: 'us', why: 'policy' });
    expect(third.inc.closedWith).toMatchObject({ by: 'us', why: 'policy' });
    expect(conditionOf(third.inc)).toBe('policy-violation');
    expect(other.out.isClosed).toBe(false);
    expect(other.inc.isClosed).toBe(false);
    expect(f.env.logs.events('connection-closed').map((e) => [e.domain, e.direction, e.reason])).toEqual([
      ['third.test', 'outgoing', 'policy'],
      ['third.test', 'incoming', 'policy'],
    ]);
    expect(f.service.connections().map((r) => `${r.remoteDomain} ${r.direction}`)).toEqual(['other.test outgoing', 'other.test incoming']);
    // Afterwards: stanzas to it bounce <not-allowed/>, nothing reconnects.
    f.send(message(FROM, 'user@third.test', 'late'));
    expect(f.bridge.conditions()).toEqual(['not-allowed']);
    expect(f.net.connectsTo('third.test')).toBe(1);
  });

  it('a direction-only refusal closes only that direction', async () => {
    const f = federation({ config: { privacyMode: 'deny' } });
    const third = await both(f, 'third.test');
    f.env.update({ deny: [{ domain: 'third.test', direction: 'incoming' }] });
    f.service.configurationChanged();
    expect(third.inc.closedWith).toMatchObject({ by: 'us', why: 'policy' });
    expect(third.out.isClosed).toBe(false);
  });

  it('stanzas waiting for a connection to a newly refused domain bounce <not-allowed/>, and the stream that finishes later is closed', async () => {
    const f = federation();
    const peer = f.net.peer('third.test');
    peer.plan = { result: 'manual' };
    f.send(message(FROM, 'user@third.test', 'q1'));
    f.env.update({ privacyMode: 'deny', deny: [{ domain: 'third.test', direction: 'both' }] });
    f.service.configurationChanged();
    expect(f.bridge.conditions()).toEqual(['not-allowed']);
    const late = f.net.manual[0]!.succeed();
    await flush();
    expect(late.closedWith).toEqual({ by: 'us', why: 'policy' });
    expect(late.stanzas).toEqual([]);
  });

  it('a change that refuses nobody closes nothing', async () => {
    const f = federation({ config: { privacyMode: 'deny' } });
    const other = await both(f, 'other.test', { auth: 'dialback' });
    f.env.update({ deny: [{ domain: 'unrelated.test', direction: 'both' }], saslExternal: { incoming: false, outgoing: false } });
    f.service.configurationChanged();
    expect([other.out.isClosed, other.inc.isClosed]).toEqual([false, false]);
  });
});

describe('incoming streams the settings refuse', () => {
  it('a domain authorized by the listener but refused by policy is closed with <policy-violation/> (the second fence)', () => {
    const f = federation({ config: { privacyMode: 'allow' } });
    const inc = f.net.peer('other.test').streamToUs();
    expect(conditionOf(inc)).toBe('policy-violation');
    expect(f.env.logs.events('policy-refused')).toEqual([expect.objectContaining({ domain: 'other.test', direction: 'incoming', peer: inc.peerAddress })]);
    expect(f.service.connections()).toEqual([]);
  });

  it('a stream authorized after close() is closed with <system-shutdown/>', async () => {
    const f = federation();
    await f.service.close();
    expect(conditionOf(f.net.peer('other.test').streamToUs())).toBe('system-shutdown');
  });
});

describe('a live security change', () => {
  it('security mode raised to required closes the streams without TLS only', async () => {
    const f = federation({ config: { securityMode: 'optional' } });
    const plain = await both(f, 'other.test', { tls: null });
    const secure = await both(f, 'third.test', { tls: 'TLS 1.2' });
    f.env.update({ securityMode: 'required' });
    f.service.configurationChanged();
    expect(plain.out.closedWith).toEqual({ by: 'us', why: 'security' });
    expect(plain.inc.closedWith).toMatchObject({ by: 'us', why: 'security' });
    expect([secure.out.isClosed, secure.inc.isClosed]).toEqual([false, false]);
    expect(f.env.logs.events('connection-closed').map((e) => e.reason)).toEqual(['security', 'security']);
    // The next stanza for it sets up a new stream (which the protocol will secure).
    f.send(message(FROM, 'user@other.test', 'm2'));
    await flush();
    expect(f.net.connectsTo('other.test')).toBe(2);
  });

  it('client certificates newly required close the streams authenticated by dialback only', async () => {
    const f = federation();
    const dialback = await both(f, 'other.test', { auth: 'dialback' });
    const sasl = await both(f, 'third.test', { auth: 'sasl' });
    f.env.update({ clientCertsRequired: true });
    f.service.configurationChanged();
    expect(dialback.out.closedWith).toEqual({ by: 'us', why: 'security' });
    expect(dialback.inc.isClosed).toBe(true);
    expect([sasl.out.isClosed, sasl.inc.isClosed]).toEqual([false, false]);
  });

  it('federation disabled closes every stream; what waits bounces <remote-server-not-found/>', async () => {
    const f = federation();
    const other = await both(f, 'other.test');
    f.net.peer('third.test').plan = { result: 'manual' };
    f.send(message(FROM, 'user@third.test', 'w1'));
    f.env.update({ enabled: false });
    f.service.configurationChanged();
    expect([other.out.isClosed, other.inc.isClosed]).toEqual([true, true]);
    expect(f.bridge.conditions()).toEqual(['remote-server-not-found']);
    expect(f.service.connections()).toEqual([]);
  });
});

describe('shutdown', () => {
  it('close() closes every stream, bounces what waits, and routes nothing after', async () => {
    const f = federation();
    const other = await both(f, 'other.test');
    f.net.peer('third.test').plan = { result: 'manual' };
    f.send(message(FROM, 'user@third.test', 'w1'));
    await f.service.close();
    expect(other.out.closedWith).toEqual({ by: 'us', why: 'shutdown' });
    expect(conditionOf(other.inc)).toBe('system-shutdown');
    expect(ids(f.bridge.delivered)).toEqual(['w1']);
    expect(f.bridge.conditions()).toEqual(['remote-server-timeout']);
    const late = f.net.manual[0]!.succeed();
    await flush();
    expect(late.closedWith).toEqual({ by: 'us', why: 'shutdown' });
    f.send(message(FROM, 'user@other.test', 'after'));
    expect(f.bridge.conditions()).toEqual(['remote-server-timeout', 'remote-server-not-found']);
  });
});

describe('the event log', () => {
  it('carries domain, peer, direction and node on every federation event, and never the dialback secret', async () => {
    const f = federation({ config: { privacyMode: 'deny', deny: [{ domain: 'bad.test', direction: 'both' }] } });
    const peer = f.net.peer('other.test');
    peer.answersPings = false;
    f.send(message(FROM, 'user@other.test', 'm1'));
    f.send(message(FROM, 'user@bad.test', 'm2'));
    f.net.peer('gone.test').plan = { result: 'fail', outcomes: ['tls-failed'] };
    f.send(message(FROM, 'user@gone.test', 'm3'));
    await flush();
    for (let t = 0; t < 31; t++) {
      f.net.clock.advance(1000);
      await flush();
    }
    f.env.update({ deny: [{ domain: 'other.test', direction: 'both' }] });
    f.service.configurationChanged();
    await f.service.close();
    const events = f.env.logs.lines.filter((l) => typeof l.event === 'string');
    expect(new Set(events.map((e) => e.event))).toEqual(new Set(['connection-opened', 'connection-closed', 'policy-refused', 'peer-unresponsive']));
    for (const e of events) {
      expect(e).toMatchObject({ module: 'XMPPFederation', node: 'cb-node1' });
      expect(Object.keys(e)).toEqual(expect.arrayContaining(['domain', 'peer', 'direction']));
    }
    const text = f.env.logs.raw.join('');
    expect(text).not.toContain(DIALBACK_SECRET);
    expect(text).not.toMatch(/secret|digest|"key"/i);
  });
});

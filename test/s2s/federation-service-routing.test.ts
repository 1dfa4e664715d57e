import { describe, expect, it } from 'vitest';
import type { AttemptOutcome } from '../../src/s2s/connect-failure.js';
import { flush } from '../helpers/memory-s2s.js';
import { federation, ids, message } from './federation-service-harness.js';

/**
 * What a call bridge sees when it sends to a remote domain: stanzas wait for
 * the stream and go out in order over one connection per pair, or bounce
 * once with the reference's condition (federation.md, "Errors on the wire").
 */

const FROM = 'cb1.example.test';

describe('while the stream to a remote domain is set up', () => {
  it('queues, connects once for the pair, and drains the queue onto the stream in order', async () => {
    const f = federation();
    const peer = f.net.peer('other.test');
    peer.plan = { result: 'manual' };
    for (let i = 1; i <= 3; i++) f.send(message(FROM, `user@other.test`, `m${i}`));
    expect(f.net.connectsTo('other.test')).toBe(1);
    expect(f.net.requests[0]).toEqual({ localDomain: 'cb1.example.test', remoteDomain: 'other.test' });
    f.net.manual[0]!.succeed();
    await flush();
    f.send(message(FROM, 'user@other.test', 'm4'));
    expect(ids(peer.last!.stanzas)).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(f.net.connectsTo('other.test')).toBe(1);
    expect(f.bridge.delivered).toEqual([]);
  });

  it('gives each (local domain, remote domain) pair its own stream (XEP-0220 authorizes pairs)', async () => {
    const f = federation();
    f.send(message(FROM, 'a@other.test', 'm1'));
    f.send(message('example.test', 'b@other.test', 'm2'));
    f.send(message(FROM, 'c@other.test', 'm3'));
    await flush();
    const peer = f.net.peer('other.test');
    expect(peer.streams.map((s) => s.localDomain)).toEqual(['cb1.example.test', 'example.test']);
    expect(ids(peer.streams[0]!.stanzas)).toEqual(['m1', 'm3']);
    expect(ids(peer.streams[1]!.stanzas)).toEqual(['m2']);
  });

  it('past the queue bound the oldest bounce with <resource-constraint/>, the rest is sent', async () => {
    const f = federation({ queueLimits: { maxStanzas: 2 } });
    const peer = f.net.peer('other.test');
    peer.plan = { result: 'manual' };
    for (let i = 1; i <= 3; i++) f.send(message(FROM, 'user@other.test', `m${i}`));
    expect(ids(f.bridge.delivered)).toEqual(['m1']);
    expect(f.bridge.conditions()).toEqual(['resource-constraint']);
    f.net.manual[0]!.succeed();
    await flush();
    expect(ids(peer.last!.stanzas)).toEqual(['m2', 'm3']);
  });
});

describe('when no stream can be set up', () => {
  const cases: Array<[AttemptOutcome[], string]> = [
    [[], 'remote-server-not-found'],
    [['no-answer', 'no-answer'], 'remote-server-not-found'],
    [['no-answer', 'timeout'], 'remote-server-timeout'],
    [['tls-unavailable'], 'remote-connection-failed'],
    [['timeout', 'auth-failed'], 'remote-connection-failed'],
  ];
  for (const [outcomes, condition] of cases) {
    it(`outcomes [${outcomes.join(', ')}]: every queued stanza bounces once with <${condition}/>`, async () => {
      const f = federation();
      f.net.peer('other.test').plan = { result: 'fail', outcomes, delayMs: 1000 };
      f.send(message(FROM, 'user@other.test', 'm1'));
      f.send(`<iq from='${FROM}' to='other.test' id='q1' type='get'><query xmlns='jabber:iq:version'/></iq>`);
      f.send(message(FROM, 'user@other.test', 'm2'));
      f.net.clock.advance(1000);
      await flush();
      expect(ids(f.bridge.delivered)).toEqual(['m1', 'q1', 'm2']);
      expect(f.bridge.conditions()).toEqual([condition, condition, condition]);
      expect(f.net.connectsTo('other.test')).toBe(1);
      expect(f.service.counters.bounced).toBe(3);
    });
  }

  it('never bounces an error stanza or an iq result: they are counted as dropped', async () => {
    const f = federation();
    f.net.peer('other.test').plan = { result: 'fail', outcomes: ['no-answer'], delayMs: 10 };
    f.send(message(FROM, 'user@other.test', 'e1', { type: 'error' }));
    f.send(`<iq from='${FROM}' to='other.test' id='r1' type='result'/>`);
    f.send(message(FROM, 'user@other.test', 'm1'));
    f.net.clock.advance(10);
    await flush();
    expect(ids(f.bridge.delivered)).toEqual(['m1']);
    expect(f.service.counters).toMatchObject({ bounced: 1, dropped: 2 });
  });

  it('a new stanza after a failure tries a fresh connection once the short retry pause is over', async () => {
    const f = federation({ retryAfterFailureMs: 3000 });
    const peer = f.net.peer('other.test');
    peer.plan = { result: 'fail', outcomes: ['no-answer'] };
    f.send(message(FROM, 'user@other.test', 'm1'));
    await flush();
    // Within the pause: bounced at once with the same condition, no connection storm.
    f.send(message(FROM, 'user@other.test', 'm2'));
    expect(f.bridge.conditions()).toEqual(['remote-server-not-found', 'remote-server-not-found']);
    expect(f.net.connectsTo('other.test')).toBe(1);
    peer.plan = { result: 'ready' };
    f.net.clock.advance(3000);
    f.send(message(FROM, 'user@other.test', 'm3'));
    await flush();
    expect(f.net.connectsTo('other.test')).toBe(2);
    expect(ids(peer.last!.stanzas)).toEqual(['m3']);
  });
});

describe('policy and the federation switch', () => {
  it('a domain the policy refuses for outgoing streams: <not-allowed/> and a policy-refused event, no connection', () => {
    const f = federation({ config: { privacyMode: 'deny', deny: [{ domain: '*.bad.test', direction: 'outgoing' }] } });
    f.send(message(FROM, 'user@chat.bad.test', 'm1'));
    expect(f.bridge.conditions()).toEqual(['not-allowed']);
    expect(f.bridge.delivered[0]).toMatch(/<error type=["']cancel["']>/);
    expect(f.net.requests).toEqual([]);
    expect(f.env.logs.events('policy-refused')).toEqual([
      expect.objectContaining({ module: 'XMPPFederation', domain: 'chat.bad.test', direction: 'outgoing', node: 'cb-node1', peer: null }),
    ]);
    expect(f.service.counters.policyRefused).toBe(1);
  });

  it('allow mode with an empty list refuses everything; a static route allows its domain', async () => {
    const f = federation({ config: { privacyMode: 'allow', routes: [{ domain: 'other.test', targets: ['192.0.2.1:5269'] }] } });
    f.send(message(FROM, 'user@nowhere.test', 'm1'));
    f.send(message(FROM, 'user@other.test', 'm2'));
    await flush();
    expect(f.bridge.conditions()).toEqual(['not-allowed']);
    expect(ids(f.net.peer('other.test').received())).toEqual(['m2']);
  });

  it('federation disabled: no route, the router bounces <remote-server-not-found/>, nothing connects', () => {
    const f = federation({ config: { enabled: false } });
    expect(f.service.routeFor({ name: 'message', attrs: { from: FROM, to: 'a@other.test' }, raw: '<message/>', toDomain: 'other.test' })).toBeUndefined();
    f.send(message(FROM, 'user@other.test', 'm1'));
    expect(f.bridge.conditions()).toEqual(['remote-server-not-found']);
    expect(f.net.requests).toEqual([]);
  });
});

describe('back-pressure', () => {
  it('a stream over its send mark holds the sending bridge until it drains', async () => {
    const f = federation();
    const peer = f.net.peer('other.test');
    peer.shape = { highWater: 300 };
    f.send(message(FROM, 'user@other.test', 'm1'));
    await flush();
    expect(f.bridge.holds.size).toBe(0);
    f.send(message(FROM, 'user@other.test', 'm2'.padEnd(400, 'x')));
    expect(f.bridge.holds.size).toBe(1);
    peer.last!.drain();
    expect(f.bridge.holds.size).toBe(0);
  });

  it('a queue past its mark holds the sender until the stream is ready and the queue drained', async () => {
    const f = federation({ queueLimits: { maxStanzas: 4 } });
    const peer = f.net.peer('other.test');
    peer.plan = { result: 'manual' };
    f.send(message(FROM, 'user@other.test', 'm1'));
    expect(f.bridge.holds.size).toBe(0);
    f.send(message(FROM, 'user@other.test', 'm2'));
    expect(f.bridge.holds.size).toBe(1);
    f.net.manual[0]!.succeed();
    await flush();
    expect(f.bridge.holds.size).toBe(0);
    expect(ids(peer.last!.stanzas)).toEqual(['m1', 'm2']);
  });

  it('a queue whose connection fails releases its sender along with the bounces', async () => {
    const f = federation({ queueLimits: { maxStanzas: 2 } });
    f.net.peer('other.test').plan = { result: 'fail', outcomes: ['no-answer'], delayMs: 5 };
    f.send(message(FROM, 'user@other.test', 'm1'));
    expect(f.bridge.holds.size).toBe(1);
    f.net.clock.advance(5);
    await flush();
    expect(f.bridge.holds.size).toBe(0);
    expect(f.bridge.conditions()).toEqual(['remote-server-not-found']);
  });
});

describe('incoming streams', () => {
  it('routes what the peer sends to the bridge, and the answer goes out on an outgoing stream, never back on the incoming one', async () => {
    const f = federation();
    const peer = f.net.peer('other.test');
    const incoming = peer.streamToUs();
    incoming.receive(message('user@other.test', FROM, 'in1'));
    expect(ids(f.bridge.delivered)).toEqual(['in1']);
    // A ping to our domain: the router answers its origin, which re-enters the router.
    incoming.receive(`<iq from='other.test' to='example.test' id='p1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await flush();
    expect(peer.last!.localDomain).toBe('example.test');
    expect(peer.last!.stanzas).toEqual([`<iq type="result" from="example.test" to="other.test" id="p1"/>`]);
  });

  it('a congested bridge holds the incoming stream that fills it, and releases it when it drains', () => {
    const f = federation();
    const incoming = f.net.peer('other.test').streamToUs();
    f.bridge.highWater = 1;
    incoming.receive(message('user@other.test', FROM, 'in1'));
    expect(incoming.holds.size).toBe(1);
    f.bridge.drain();
    expect(incoming.holds.size).toBe(0);
  });

  it('what a peer sends on our outgoing stream is routed like incoming traffic', async () => {
    const f = federation();
    f.send(message(FROM, 'user@other.test', 'm1'));
    await flush();
    f.net.peer('other.test').last!.emit(message('user@other.test', FROM, 'back1'));
    expect(ids(f.bridge.delivered)).toEqual(['back1']);
  });

  it('lists both directions in connections()', async () => {
    const f = federation();
    f.send(message(FROM, 'user@other.test', 'm1'));
    await flush();
    f.net.peer('third.test').streamToUs();
    const rows = f.service.connections();
    expect(rows.map((r) => [r.remoteDomain, r.direction, r.localDomain, r.auth, r.tls])).toEqual([
      ['other.test', 'outgoing', 'cb1.example.test', 'sasl', 'TLS 1.3'],
      ['third.test', 'incoming', 'example.test', 'sasl', 'TLS 1.3'],
    ]);
    expect(f.env.logs.events('connection-opened').map((e) => [e.domain, e.direction])).toEqual([
      ['other.test', 'outgoing'],
      ['third.test', 'incoming'],
    ]);
  });
});

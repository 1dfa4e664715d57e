import { describe, expect, it } from 'vitest';
import { bounceError } from '../../src/s2s/connect-failure.js';
import { DEFAULT_OUTBOUND_QUEUE_LIMITS, OutboundQueue, queuedFromRaw, type QueuedStanza } from '../../src/s2s/outbound-queue.js';
import { policyOutgoingError } from '../../src/s2s/federation-policy.js';
import { parseStanza } from '../../src/xmpp/stanza.js';

/** Stanzas waiting for an outgoing stream: bounded, oldest bounced first, nothing dropped silently, no error for an error. */

function message(n: number, extra: Record<string, string> = {}, body = `hello ${n}`): QueuedStanza {
  const attrs: Record<string, string> = { from: 'cb1.example.test', to: `user${n}@other.test`, id: `m${n}`, ...extra };
  const head = Object.entries(attrs)
    .map(([k, v]) => ` ${k}='${v}'`)
    .join('');
  return { name: 'message', attrs, raw: `<message${head}><body>${body}</body></message>` };
}

const ids = (list: readonly QueuedStanza[]) => list.map((s) => s.attrs.id);

describe('draining when the stream is ready', () => {
  it('hands every waiting stanza over oldest first, once', () => {
    const q = new OutboundQueue('other.test');
    for (let i = 1; i <= 3; i++) expect(q.push(message(i))).toEqual({ bounces: [], dropped: [] });
    expect(q.size).toBe(3);
    expect(ids(q.drain())).toEqual(['m1', 'm2', 'm3']);
    expect(q.size).toBe(0);
    expect(q.bytes).toBe(0);
    expect(q.drain()).toEqual([]);
  });
});

describe('the count bound', () => {
  it('evicts the oldest and bounces it with <resource-constraint/> (wait) to its sender', () => {
    const q = new OutboundQueue('other.test', { maxStanzas: 2 });
    q.push(message(1));
    q.push(message(2));
    const out = q.push(message(3));
    expect(out.dropped).toEqual([]);
    expect(out.bounces.map((b) => b.stanza.attrs.id)).toEqual(['m1']);
    const reply = out.bounces[0]!.reply;
    expect(reply).toMatchObject({ name: 'message', toDomain: 'cb1.example.test', attrs: { type: 'error', to: 'cb1.example.test', from: 'user1@other.test', id: 'm1' } });
    const el = parseStanza(reply.raw);
    expect(el.attrs).toMatchObject({ type: 'error', to: 'cb1.example.test', from: 'user1@other.test', id: 'm1' });
    const error = el.getChild('error')!;
    expect(error.attrs.type).toBe('wait');
    expect(error.getChild('resource-constraint', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();
    expect(ids(q.drain())).toEqual(['m2', 'm3']);
  });

  it('keeps evicting oldest first over a long run, and stays at its bound', () => {
    const q = new OutboundQueue('other.test', { maxStanzas: 10 });
    const bounced: string[] = [];
    for (let i = 1; i <= 500; i++) bounced.push(...q.push(message(i)).bounces.map((b) => b.stanza.attrs.id!));
    expect(q.size).toBe(10);
    expect(bounced).toEqual(Array.from({ length: 490 }, (_, i) => `m${i + 1}`));
    expect(ids(q.drain())).toEqual(Array.from({ length: 10 }, (_, i) => `m${i + 491}`));
  });
});

describe('the byte bound', () => {
  it('counts UTF-8 bytes and evicts as many of the oldest as it takes', () => {
    const small = message(1, {}, 'x');
    const size = Buffer.byteLength(small.raw);
    const q = new OutboundQueue('other.test', { maxBytes: size * 3 });
    q.push(message(1, {}, 'x'));
    q.push(message(2, {}, 'x'));
    q.push(message(3, {}, 'x'));
    expect(q.bytes).toBe(size * 3);
    // Two bytes per "é": 3×size − 1 bytes, but only 2×size − 1 characters. Counted
    // in characters it would push out two stanzas; in bytes it takes all three.
    const big = message(4, {}, 'é'.repeat(size));
    const bigBytes = Buffer.byteLength(big.raw);
    expect(bigBytes).toBe(size * 3 - 1);
    expect(big.raw.length).toBe(size * 2 - 1);
    const out = q.push(big);
    expect(out.bounces.map((b) => b.stanza.attrs.id)).toEqual(['m1', 'm2', 'm3']);
    expect(q.bytes).toBe(bigBytes);
    expect(ids(q.drain())).toEqual(['m4']);
  });

  it('refuses a stanza larger than the whole bound at once and keeps the others', () => {
    const q = new OutboundQueue('other.test', { maxBytes: 200 });
    q.push(message(1));
    const out = q.push(message(2, {}, 'y'.repeat(300)));
    expect(out.bounces.map((b) => b.stanza.attrs.id)).toEqual(['m2']);
    expect(out.bounces[0]!.reply.raw).toContain('resource-constraint');
    expect(ids(q.drain())).toEqual(['m1']);
  });
});

describe('failing everything when the stream cannot be set up', () => {
  it('bounces every waiting stanza once with the condition given, and empties the queue', () => {
    const q = new OutboundQueue('other.test');
    q.push(message(1));
    q.push({ name: 'iq', attrs: { from: 'cb1.example.test/r', to: 'other.test', id: 'q1', type: 'get' }, raw: "<iq from='cb1.example.test/r' to='other.test' id='q1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>" });
    const out = q.failAll(bounceError('other.test', ['auth-failed']));
    expect(out.bounces.map((b) => [b.stanza.attrs.id, b.reply.name, b.reply.attrs.to])).toEqual([
      ['m1', 'message', 'cb1.example.test'],
      ['q1', 'iq', 'cb1.example.test/r'],
    ]);
    for (const b of out.bounces) expect(b.reply.raw).toContain('<remote-connection-failed xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>');
    expect(q.size).toBe(0);
    expect(q.failAll(bounceError('other.test', []))).toEqual({ bounces: [], dropped: [] });
  });

  it('bounces with <not-allowed/> when a policy change refused the domain', () => {
    const q = new OutboundQueue('other.test');
    q.push(message(1));
    const [b] = q.failAll(policyOutgoingError('other.test')).bounces;
    expect(parseStanza(b!.reply.raw).getChild('error')!.attrs.type).toBe('cancel');
    expect(b!.reply.raw).toContain('not-allowed');
  });
});

describe('never an error for an error (RFC 6120 §8.3.1) nor for an iq result (§8.2.3)', () => {
  const error = message(7, { type: 'error' });
  const result: QueuedStanza = { name: 'iq', attrs: { from: 'cb1.example.test', to: 'other.test', id: 'r1', type: 'result' }, raw: "<iq from='cb1.example.test' to='other.test' id='r1' type='result'/>" };
  const noFrom: QueuedStanza = { name: 'message', attrs: { to: 'user@other.test' }, raw: "<message to='user@other.test'/>" };

  it('returns them as dropped from failAll, beside the bounces', () => {
    const q = new OutboundQueue('other.test');
    for (const s of [message(1), error, result, noFrom]) q.push(s);
    const out = q.failAll(bounceError('other.test', []));
    expect(ids(out.bounces.map((b) => b.stanza))).toEqual(['m1']);
    expect(out.dropped).toEqual([error, result, noFrom]);
  });

  it('returns them as dropped when evicted', () => {
    const q = new OutboundQueue('other.test', { maxStanzas: 1 });
    q.push(error);
    const out = q.push(message(2));
    expect(out).toEqual({ bounces: [], dropped: [error] });
  });

  it('delivers them normally when the stream comes up', () => {
    const q = new OutboundQueue('other.test');
    q.push(error);
    q.push(result);
    expect(q.drain()).toEqual([error, result]);
  });
});

describe('stanzas known only by their text', () => {
  it('takes the head from the raw text a Route receives', () => {
    const s = queuedFromRaw("<presence from='cb1.example.test' to='room@other.test' id='p1'><x/></presence>");
    expect(s).toMatchObject({ name: 'presence', attrs: { from: 'cb1.example.test', to: 'room@other.test', id: 'p1' } });
    const q = new OutboundQueue('other.test');
    q.push(s);
    expect(q.failAll(bounceError('other.test', ['timeout'])).bounces[0]!.reply.raw).toContain('remote-server-timeout');
  });
});

describe('limits', () => {
  it('defaults to 1000 stanzas and 1 MiB', () => {
    expect(DEFAULT_OUTBOUND_QUEUE_LIMITS).toEqual({ maxStanzas: 1000, maxBytes: 1024 * 1024 });
    expect(new OutboundQueue('other.test').limits).toEqual(DEFAULT_OUTBOUND_QUEUE_LIMITS);
  });

  it('refuses bounds below 1', () => {
    expect(() => new OutboundQueue('other.test', { maxStanzas: 0 })).toThrow(RangeError);
    expect(() => new OutboundQueue('other.test', { maxBytes: 0 })).toThrow(RangeError);
  });
});

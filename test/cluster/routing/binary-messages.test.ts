import { describe, expect, it } from 'vitest';
import { BinaryMessageError, BinaryStanza, decodeDlv, decodeFwd, decodeLeanFwd, dlvMaxBytes, encodeDlv, encodeFwd, encodeLeanFwd, leanFwdMaxBytes, writeDlv, writeLeanFwd } from '../../../cluster/routing/binary-messages.js';
import { decodeRoutingMessage, encodeRoutingMessage, RoutingMessageError } from '../../../cluster/routing/routing-messages.js';
import type { Stanza } from '../../../src/router/router.js';

const STANZA: Stanza = {
  name: 'iq',
  attrs: { from: 'cba.example.test', to: 'cbb.example.test', id: 'q1', type: 'get', 'xml:lang': 'é' },
  raw: `<iq from='cba.example.test' to='cbb.example.test' id='q1' type='get'><x>日本 😀</x></iq>`,
  toDomain: 'cbb.example.test',
};

/** A seeded generator (mulberry32), so a failure names its seed and replays. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'Z', '0', '<', "'", '"', '&', ' ', '\n', 'é', 'ß', '日', '😀', '\u0000', '\u{10ffff}'];

function text(rnd: () => number, max: number): string {
  let s = '';
  const n = Math.floor(rnd() * max);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
  return s;
}

function plainStanza(s: Stanza): Stanza {
  return { name: s.name, attrs: { ...s.attrs }, raw: s.raw, toDomain: s.toDomain };
}

describe('binary fwd and dlv', () => {
  it('come back as they were sent, through the routing codec', () => {
    const fwd = decodeRoutingMessage(encodeRoutingMessage({ t: 'fwd', epoch: '0123456789abcdef', seq: 2 ** 40, stanza: STANZA }));
    expect(fwd.t === 'fwd' && { ...fwd, stanza: plainStanza(fwd.stanza) }).toEqual({ t: 'fwd', epoch: '0123456789abcdef', seq: 2 ** 40, stanza: STANZA });
    const dlv = { t: 'dlv', gen: 3, dseq: 17, origin: 'n2', epoch: 'e', seq: 9, to: 'cbb.example.test', sid: 4, raw: STANZA.raw } as const;
    expect(decodeRoutingMessage(encodeRoutingMessage(dlv))).toEqual(dlv);
  });

  it('forward the bytes a stanza came in, not a re-encoded copy', () => {
    const fwd = decodeFwd(encodeFwd('e', 1, STANZA));
    expect(fwd.stanza).toBeInstanceOf(BinaryStanza);
    expect(fwd.stanza.bytes.equals(Buffer.from(STANZA.raw))).toBe(true);
    const again = decodeFwd(encodeFwd('e', 2, fwd.stanza));
    expect(plainStanza(again.stanza)).toEqual(STANZA);
    const dlv = decodeDlv(encodeDlv(1, 1, 'n2', 'e', 1, 'cbb.example.test', 1, fwd.stanza.bytes));
    expect(dlv.raw).toBe(STANZA.raw);
  });

  it('write in place what they encode alone, at any offset, within the room they ask for', () => {
    const out = Buffer.alloc(4096, 0xee);
    const leanBytes = writeLeanFwd(out, 7, 'e', 5, STANZA);
    expect(leanBytes).toBeLessThanOrEqual(leanFwdMaxBytes('e', STANZA));
    expect(out.subarray(7, 7 + leanBytes).equals(encodeLeanFwd('e', 5, STANZA))).toBe(true);
    expect(out[7 + leanBytes]).toBe(0xee);
    const bytes = Buffer.from(STANZA.raw);
    const dlvBytes = writeDlv(out, 1000, 1, 2, 'n2', 'e', 3, 'cbb.example.test', 4, bytes);
    expect(dlvBytes).toBeLessThanOrEqual(dlvMaxBytes('n2', 'e', 'cbb.example.test', bytes));
    expect(out.subarray(1000, 1000 + dlvBytes).equals(encodeDlv(1, 2, 'n2', 'e', 3, 'cbb.example.test', 4, STANZA.raw))).toBe(true);
  });

  it('leave the attributes out of a lean fwd, and read them from the text exactly as the session did', () => {
    const raw = `<message from='cba.example.test' to='cbb.example.test' id='a\tb &amp; c' type='chat' xml:lang='é'><body/></message>`;
    const sent: Stanza = { name: 'message', attrs: { from: 'cba.example.test', to: 'cbb.example.test', id: 'a b & c', type: 'chat', 'xml:lang': 'é' }, raw, toDomain: 'cbb.example.test' };
    const lean = encodeLeanFwd('e', 9, sent);
    expect(lean.length).toBeLessThan(encodeFwd('e', 9, sent).length);
    expect(lean.includes(Buffer.from('xml:lang'))).toBe(true); // in the text only
    const back = decodeLeanFwd(lean);
    expect(back.stanza.attrs).toEqual(sent.attrs);
    expect({ ...back, stanza: plainStanza(back.stanza) }).toEqual({ t: 'fwd', epoch: 'e', seq: 9, stanza: sent });
    // A prefix bound by the stream header only: ltx reads what it can.
    const prefixed = decodeLeanFwd(encodeLeanFwd('e', 1, { ...sent, raw: `<message to='b' from='a' id='p'><x:y/></message>`, attrs: { to: 'b', from: 'a', id: 'p' } }));
    expect(prefixed.stanza.attrs).toEqual({ to: 'b', from: 'a', id: 'p' });
  });

  it('keep an attribute named __proto__ as an attribute', () => {
    const s: Stanza = { ...STANZA, attrs: JSON.parse('{"__proto__":"x","to":"y"}') as Record<string, string> };
    const back = decodeFwd(encodeFwd('e', 1, s)).stanza.attrs;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.entries(back)).toEqual([['__proto__', 'x'], ['to', 'y']]);
  });

  it('come back as sent for random texts and numbers (seeded)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = random(seed);
      const attrs: Record<string, string> = {};
      for (let i = Math.floor(rnd() * 6); i > 0; i--) attrs[`k${text(rnd, 4)}`] = text(rnd, 20);
      const stanza: Stanza = { name: (['message', 'presence', 'iq'] as const)[seed % 3]!, attrs, raw: text(rnd, 200), toDomain: text(rnd, 10) };
      const seq = Math.floor(rnd() * Number.MAX_SAFE_INTEGER);
      const epoch = text(rnd, 20);
      const fwd = decodeFwd(encodeFwd(epoch, seq, stanza));
      expect({ seq: fwd.seq, stanza: plainStanza(fwd.stanza) }, `seed ${seed}`).toEqual({ seq, stanza });
      const lean = decodeLeanFwd(encodeLeanFwd(epoch, seq, stanza));
      expect({ epoch: lean.epoch, seq: lean.seq, name: lean.stanza.name, toDomain: lean.stanza.toDomain, raw: lean.stanza.raw }, `seed ${seed}`).toEqual({ epoch, seq, name: stanza.name, toDomain: stanza.toDomain, raw: stanza.raw });
      const dlv = { t: 'dlv', gen: seq % 7, dseq: seq, origin: text(rnd, 10), epoch: text(rnd, 20), seq: Math.floor(seq / 3), to: text(rnd, 30), sid: seed, raw: stanza.raw } as const;
      expect(decodeDlv(encodeDlv(dlv.gen, dlv.dseq, dlv.origin, dlv.epoch, dlv.seq, dlv.to, dlv.sid, dlv.raw)), `seed ${seed}`).toEqual(dlv);
    }
  });

  const fwd = () => encodeFwd('e', 1, STANZA);
  const lean = () => encodeLeanFwd('e', 1, STANZA);
  const dlv = () => encodeDlv(1, 2, 'n2', 'e', 3, 'cbb.example.test', 4, STANZA.raw);
  const edit = (b: Buffer, fn: (b: Buffer) => void) => (fn(b), b);

  it.each([
    ['a fwd shorter than its fixed fields', () => fwd().subarray(0, 5)],
    ['a dlv shorter than its fixed fields', () => dlv().subarray(0, 20)],
    ['a fwd cut short', () => fwd().subarray(0, fwd().length - 1)],
    ['a dlv cut short', () => dlv().subarray(0, dlv().length - 3)],
    ['a byte after the last text', () => Buffer.concat([dlv(), Buffer.from('x')])],
    ['an unknown stanza name', () => edit(fwd(), (b) => (b[1] = 7))],
    ['a negative sequence number', () => edit(fwd(), (b) => b.writeDoubleBE(-1, 2))],
    ['a fractional delivery number', () => edit(dlv(), (b) => b.writeDoubleBE(1.5, 9))],
    ['a sequence number past 2^53', () => edit(dlv(), (b) => b.writeDoubleBE(2 ** 60, 17))],
    ['NaN as a session number', () => edit(dlv(), (b) => b.writeDoubleBE(NaN, 25))],
    ['an attribute count the frame cannot hold', () => edit(fwd(), (b) => b.writeUInt32BE(0xffffffff, 10))],
    ['a text length past the frame', () => edit(dlv(), (b) => b.writeUInt32BE(0x7fffffff, 33))],
    ['text that is not UTF-8', () => edit(dlv(), (b) => (b[b.length - 1] = 0xff))],
    ['a lean fwd shorter than its fixed fields', () => lean().subarray(0, 21)],
    ['a lean fwd cut short', () => lean().subarray(0, lean().length - 1)],
    ['a lean fwd with a byte after its text', () => Buffer.concat([lean(), Buffer.from('x')])],
    ['a lean fwd with an unknown stanza name', () => edit(lean(), (b) => (b[1] = 3))],
    ['a lean fwd with a fractional sequence number', () => edit(lean(), (b) => b.writeDoubleBE(0.5, 2))],
    ['a lean fwd whose text is not UTF-8', () => edit(lean(), (b) => (b[b.length - 2] = 0xc3))],
    ['a lean fwd whose domain starts inside a character', () => {
      const b = encodeLeanFwd('é', 1, { ...STANZA, toDomain: 'x' });
      b.writeUInt32BE(1, 10);
      b.writeUInt32BE(2, 14);
      return b;
    }],
    ['a text that starts inside a character', () => {
      // origin 'é' (2 bytes) declared as 1 byte, epoch as 2: the epoch would start on é's second byte.
      const b = encodeDlv(1, 2, 'é', 'x', 3, 't', 4, 'r');
      b.writeUInt32BE(1, 33);
      b.writeUInt32BE(2, 37);
      return b;
    }],
  ])('refuse %s with a RoutingMessageError', (_what, payload) => {
    expect(() => decodeRoutingMessage(payload())).toThrow(RoutingMessageError);
  });

  it('throw their own typed error when called directly', () => {
    expect(() => decodeDlv(dlv().subarray(0, 10))).toThrow(BinaryMessageError);
  });

  it('refuse every truncation and every single-byte change it cannot read, never crash (seeded)', () => {
    const frames = [fwd(), dlv(), lean()];
    for (const f of frames) {
      for (let n = 0; n < f.length; n++) expect(() => decodeRoutingMessage(f.subarray(0, n))).toThrow(RoutingMessageError);
    }
    const rnd = random(7);
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(frames[i % 3]!);
      b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      try {
        decodeRoutingMessage(b);
      } catch (err) {
        expect(err).toBeInstanceOf(RoutingMessageError);
      }
    }
  });
});

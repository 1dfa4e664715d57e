import { describe, expect, it } from 'vitest';
import { BatchBuilder } from '../../../cluster/routing/batch-builder.js';
import { BATCH_TAG, decodeRoutingMessage, encodeRoutingMessage, forEachRoutingMessage, RoutingMessageError, type RoutingMessage } from '../../../cluster/routing/routing-messages.js';

const session = { address: 'cb1.example.test', sid: 3, peer: '10.0.0.5:40112', since: 1_700_000_000_000 };

const EVERY_KIND: RoutingMessage[] = [
  { t: 'fwd', epoch: 'e1', seq: 7, stanza: { name: 'message', attrs: { from: 'a.example.test', to: 'cb1', id: 'x' }, raw: `<message from='a.example.test' to='cb1' id='x'>é</message>`, toDomain: 'cb1' } },
  { t: 'dlv', gen: 2, dseq: 9, origin: 'n2', epoch: 'e1', seq: 7, to: 'cb1.example.test', sid: 3, raw: '<message/>' },
  { t: 'ack', epoch: 'e1', seqs: [7, 8] },
  { t: 'reply', epoch: 'e1', seq: 7, raw: `<message type='error'/>` },
  { t: 'dack', gen: 2, dseq: 9 },
  { t: 'report', gen: 2, sessions: [session] },
  { t: 'attach', session },
  { t: 'detach', address: 'cb1.example.test', sid: 3 },
  { t: 'replaced', address: 'cb1.example.test', sid: 3 },
  { t: 'table', sessions: [{ address: 'cb1.example.test', node: 'n3', peer: '10.0.0.5:40112', since: 1 }] },
  { t: 'hello' },
];

function frame(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** A decoded message with its stanza's lazy fields read, to compare with what was sent. */
function plain(m: RoutingMessage): unknown {
  if (m.t !== 'fwd') return m;
  const { name, attrs, raw, toDomain } = m.stanza;
  return { ...m, stanza: { name, attrs: { ...attrs }, raw, toDomain } };
}

describe('routing messages', () => {
  it('come back as they were sent, every kind', () => {
    for (const m of EVERY_KIND) expect(plain(decodeRoutingMessage(encodeRoutingMessage(m)))).toEqual(m);
  });

  it.each([
    ['not JSON', frame('{"t":')],
    ['not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
    ['not an object', frame('[1,2]')],
    ['an unknown type', frame('{"t":"launch"}')],
    ['a negative sequence number', frame('{"t":"fwd","epoch":"e","seq":-1,"stanza":{}}')],
    ['a fractional number', frame('{"t":"dack","gen":1,"dseq":1.5}')],
    ['a stanza that is not message, presence or iq', frame('{"t":"fwd","epoch":"e","seq":1,"stanza":{"name":"script","attrs":{},"raw":"","toDomain":"x"}}')],
    ['a stanza attribute that is not a string', frame('{"t":"fwd","epoch":"e","seq":1,"stanza":{"name":"iq","attrs":{"id":1},"raw":"","toDomain":"x"}}')],
    ['a session list that is not a list', frame('{"t":"report","gen":1,"sessions":{}}')],
    ['a session without its number', frame('{"t":"attach","session":{"address":"a","peer":"p","since":1}}')],
  ])('refuse %s with a RoutingMessageError', (_what, payload) => {
    expect(() => decodeRoutingMessage(payload)).toThrow(RoutingMessageError);
  });
});

/** A batch frame of the given encoded messages, as PeerOutbox builds one. */
function batch(messages: Uint8Array[]): Buffer {
  const builder = new BatchBuilder(BATCH_TAG, 8);
  for (const m of messages) builder.append(m);
  return builder.take();
}

function readAll(payload: Uint8Array): RoutingMessage[] {
  const out: RoutingMessage[] = [];
  forEachRoutingMessage(payload, (m) => out.push(m));
  return out;
}

const LEAN_FWD: RoutingMessage = {
  t: 'fwd',
  epoch: 'e',
  seq: 3,
  stanza: { name: 'message', attrs: { to: 'b.example.test', from: 'a.example.test' }, raw: `<message to='b.example.test' from='a.example.test'><body>é</body></message>`, toDomain: 'b.example.test' },
  headOnly: true,
};

describe('batch frames', () => {
  it('read a lean fwd in place, with the attributes of its text', () => {
    const [m] = readAll(batch([encodeRoutingMessage(LEAN_FWD, true), encodeRoutingMessage({ t: 'hello' })]));
    expect(m?.t === 'fwd' && { seq: m.seq, attrs: { ...m.stanza.attrs }, raw: m.stanza.raw }).toEqual({ seq: 3, attrs: LEAN_FWD.stanza.attrs, raw: LEAN_FWD.stanza.raw });
  });

  it('carry every kind in order, and a frame of one message is read as itself', () => {
    const frameOf = batch(EVERY_KIND.map((m) => encodeRoutingMessage(m)));
    expect(frameOf[0]).toBe(BATCH_TAG);
    expect(readAll(frameOf).map(plain)).toEqual(EVERY_KIND);
    expect(readAll(encodeRoutingMessage(EVERY_KIND[2]!))).toEqual([EVERY_KIND[2]]);
  });

  it.each([
    ['an empty batch', () => Buffer.from([BATCH_TAG])],
    ['a length cut short', () => Buffer.concat([batch([encodeRoutingMessage({ t: 'hello' })]), Buffer.from([0, 0])])],
    ['a message running past the frame', () => batch([encodeRoutingMessage({ t: 'hello' })]).subarray(0, -1)],
    ['a batch inside a batch', () => batch([batch([encodeRoutingMessage({ t: 'hello' })])])],
    ['a dlv cut short inside a batch', () => batch([encodeRoutingMessage({ t: 'dlv', gen: 1, dseq: 1, origin: 'n2', epoch: 'e', seq: 1, to: 'b', sid: 1, raw: '<message/>' }).subarray(0, 40)])],
    ['a lean fwd cut short inside a batch', () => batch([encodeRoutingMessage({ t: 'hello' }), encodeRoutingMessage(LEAN_FWD, true).subarray(0, 30)])],
    ['a lean fwd whose text is not UTF-8 inside a batch', () => {
      const lean = Buffer.from(encodeRoutingMessage(LEAN_FWD, true));
      lean[lean.length - 3] = 0xff;
      return batch([lean]);
    }],
  ])('refuse %s with a RoutingMessageError', (_what, payload) => {
    expect(() => readAll(payload())).toThrow(RoutingMessageError);
  });

  it('hand over the messages before a malformed one, then refuse the rest', () => {
    const seen: RoutingMessage[] = [];
    const payload = batch([encodeRoutingMessage({ t: 'dack', gen: 1, dseq: 2 }), frame('{"t":'), encodeRoutingMessage({ t: 'hello' })]);
    expect(() => forEachRoutingMessage(payload, (m) => seen.push(m))).toThrow(RoutingMessageError);
    expect(seen).toEqual([{ t: 'dack', gen: 1, dseq: 2 }]);
  });
});

/**
 * The wire form of Raft messages: every message type survives a round trip,
 * a whole chaos run works through the codec, and damaged frames are refused
 * with MessageDecodeError before they can reach the core.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, MessageDecodeError } from '../../../cluster/raft/message-codec.js';
import type { Message } from '../../../cluster/raft/messages.js';
import { runChaos } from './sim/chaos.js';

const data = new Uint8Array([0, 1, 2, 250, 255]);
const samples: Message[] = [
  { type: 'app', from: 'a', to: 'b', term: 3, index: 7, logTerm: 2, commit: 6, entries: [{ index: 8, term: 3, type: 'normal', data }, { index: 9, term: 3, type: 'conf-change', data: new Uint8Array(0) }] },
  { type: 'app-resp', from: 'b', to: 'a', term: 3, index: 7, reject: true, rejectHint: 5, hintTerm: 2 },
  { type: 'heartbeat', from: 'a', to: 'b', term: 3, commit: 6, context: 'read-1' },
  { type: 'heartbeat-resp', from: 'b', to: 'a', term: 3, context: undefined },
  { type: 'vote', from: 'c', to: 'a', term: 4, index: 9, logTerm: 3, transfer: true },
  { type: 'pre-vote', from: 'c', to: 'a', term: 4, index: 9, logTerm: 3, transfer: false },
  { type: 'vote-resp', from: 'a', to: 'c', term: 4, reject: false },
  { type: 'pre-vote-resp', from: 'a', to: 'c', term: 4, reject: true },
  { type: 'snap', from: 'a', to: 'd', term: 3, snapshot: { metadata: { index: 20, term: 3, confState: { voters: ['a', 'b'], learners: ['d'] } }, data } },
  { type: 'timeout-now', from: 'a', to: 'b', term: 3 },
  { type: 'prop', from: 'c', to: 'a', term: 0, entries: [{ index: 0, term: 0, type: 'normal', data }] },
  { type: 'read-index', from: 'c', to: 'a', term: 0, context: 'q' },
  { type: 'read-index-resp', from: 'a', to: 'c', term: 3, index: 6, context: 'q' },
  { type: 'transfer-leader', from: 'c', to: 'a', term: 0, transferee: 'b' },
];

describe('raft message codec', () => {
  it('round-trips every message type exactly', () => {
    for (const m of samples) {
      const back = decodeMessage(encodeMessage(m));
      expect(back).toEqual(m.type === 'heartbeat-resp' ? { ...m, context: undefined } : m);
    }
  });

  it('carries whole chaos runs through the wire form', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const result = runChaos({ seed, nodes: 3, membership: seed % 2 === 0, wireCodec: true });
      expect(result.ok, result.report).toBe(true);
    }
  });

  it('refuses damaged or hostile frames with a typed error', () => {
    const good = JSON.parse(new TextDecoder().decode(encodeMessage(samples[0]!))) as Record<string, unknown>;
    const frame = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
    const bad: Uint8Array[] = [
      new TextEncoder().encode('{not json'),
      new Uint8Array([0xff, 0xfe]),
      frame([1, 2]),
      frame({ ...good, v: 2 }),
      frame({ ...good, type: 'explode' }),
      frame({ ...good, term: -1 }),
      frame({ ...good, index: 1.5 }),
      frame({ ...good, from: 7 }),
      frame({ ...good, entries: [{ index: 1, term: 1, type: 'weird', data: '' }] }),
      frame({ ...good, entries: [{ index: 1, term: 1, type: 'normal', data: '***' }] }),
      frame({ ...good, entries: 'x' }),
      frame({ type: 'snap', v: 1, from: 'a', to: 'b', term: 1, snapshot: { metadata: { index: 1, term: 1, confState: { voters: 'a' } }, data: '' } }),
    ];
    for (const b of bad) expect(() => decodeMessage(b)).toThrow(MessageDecodeError);
  });
});

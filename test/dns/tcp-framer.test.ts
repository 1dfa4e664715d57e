import { describe, expect, it } from 'vitest';
import { TcpFramer } from '../../src/dns/tcp-framer.js';
import { query } from './dns-fixtures.js';
import { framed } from './dns-sockets.js';

/** DNS over TCP framing: a two-byte length, then the message (RFC 1035 §4.2.2). */

describe('TcpFramer', () => {
  const a = query('_xmpp-component._tcp.example.test', { id: 1 });
  const b = query('cb01.example.test', { id: 2, type: 'A' });
  const stream = Buffer.concat([framed(a), framed(b)]);

  it('gives back every message whichever byte the stream is split at', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const framer = new TcpFramer();
      const first = framer.push(stream.subarray(0, cut));
      const second = framer.push(stream.subarray(cut));
      expect([...first.messages, ...second.messages]).toEqual([a, b]);
      expect(first.malformed || second.malformed).toBe(false);
    }
  });

  it('gives back a message fed one byte at a time', () => {
    const framer = new TcpFramer();
    const out = [...stream].flatMap((byte) => framer.push(Buffer.from([byte])).messages);
    expect(out).toEqual([a, b]);
  });

  it('holds a 65535-byte message until its last byte', () => {
    const big = Buffer.alloc(65535, 7);
    const framer = new TcpFramer();
    expect(framer.push(framed(big).subarray(0, 65536)).messages).toEqual([]);
    expect(framer.push(framed(big).subarray(65536)).messages).toEqual([big]);
  });

  it('reports a zero-length message as malformed, after the messages before it', () => {
    const framer = new TcpFramer();
    const frames = framer.push(Buffer.concat([framed(a), Buffer.from([0, 0]), framed(b)]));
    expect([frames.messages, frames.malformed]).toEqual([[a], true]);
  });
});

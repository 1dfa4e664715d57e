import { describe, expect, it } from 'vitest';
import { encodeFrame, encodeFrameHeader, FrameDecoder, FrameError, type DecodedFrame, type WireKind } from '../../../cluster/transport/frame-codec.js';

function decodeAll(decoder: FrameDecoder, chunks: Buffer[]): Array<{ kind: WireKind; text: string }> {
  const out: Array<{ kind: WireKind; text: string }> = [];
  for (const chunk of chunks) for (const f of decoder.push(chunk)) out.push({ kind: f.kind, text: f.payload.toString() });
  return out;
}

function errorOf(run: () => unknown): FrameError {
  try {
    run();
  } catch (err) {
    if (err instanceof FrameError) return err;
    throw err;
  }
  throw new Error('no FrameError thrown');
}

const FRAMES: Array<{ kind: WireKind; text: string }> = [
  { kind: 'hello', text: '{"id":"a"}' },
  { kind: 'raft', text: 'r1' },
  { kind: 'stanza', text: '' },
  { kind: 'control', text: 'c'.repeat(300) },
  { kind: 'stanza', text: '<message/>' },
];
const STREAM = Buffer.concat(FRAMES.map((f) => encodeFrame(f.kind, Buffer.from(f.text))));

describe('frame codec', () => {
  it('writes a 4-byte big-endian length of kind and payload, then the kind byte', () => {
    expect([...encodeFrameHeader('stanza', 258)]).toEqual([0, 0, 1, 3, 3]);
    expect([...encodeFrame('raft', Buffer.from('hi'))]).toEqual([0, 0, 0, 3, 1, 0x68, 0x69]);
  });

  it('reads several frames from one chunk, in order, kinds preserved', () => {
    expect(decodeAll(new FrameDecoder(), [STREAM])).toEqual(FRAMES);
  });

  it('reads the same frames whichever byte boundary splits the stream', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const decoder = new FrameDecoder();
      expect(decodeAll(decoder, [STREAM.subarray(0, cut), STREAM.subarray(cut)])).toEqual(FRAMES);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it('reads the same frames from one-byte chunks and from every pair of cuts', () => {
    expect(decodeAll(new FrameDecoder(), [...STREAM].map((b) => Buffer.from([b])))).toEqual(FRAMES);
    for (let a = 0; a <= STREAM.length; a += 7) {
      for (let b = a; b <= STREAM.length; b += 3) {
        const parts = [STREAM.subarray(0, a), STREAM.subarray(a, b), STREAM.subarray(b)];
        expect(decodeAll(new FrameDecoder(), parts)).toEqual(FRAMES);
      }
    }
  });

  it('returns a frame inside one chunk as a view of it, without a copy', () => {
    const chunk = encodeFrame('raft', Buffer.from('payload'));
    const [frame] = [...new FrameDecoder().push(chunk)] as DecodedFrame[];
    expect(frame!.payload.buffer).toBe(chunk.buffer);
    expect(frame!.payload.toString()).toBe('payload');
  });

  it('refuses a frame larger than the limit from its header, before the payload arrives', () => {
    const decoder = new FrameDecoder(16);
    expect(decodeAll(decoder, [encodeFrame('raft', Buffer.alloc(16))])).toHaveLength(1);
    const err = errorOf(() => decodeAll(decoder, [encodeFrameHeader('stanza', 17)]));
    expect(err.reason).toBe('oversized');
    expect(err.message).toContain('17 bytes');
  });

  it('refuses an unknown kind and an empty frame', () => {
    expect(errorOf(() => decodeAll(new FrameDecoder(), [Buffer.from([0, 0, 0, 1, 9])])).reason).toBe('unknown-kind');
    expect(errorOf(() => decodeAll(new FrameDecoder(), [Buffer.from([0, 0, 0, 0, 1])])).reason).toBe('empty');
  });

  it('yields the good frames before a bad header, then stays failed', () => {
    const decoder = new FrameDecoder();
    const seen: string[] = [];
    const err = errorOf(() => {
      for (const f of decoder.push(Buffer.concat([encodeFrame('raft', Buffer.from('ok')), Buffer.from('GET / HTTP/1.1\r\n')]))) seen.push(f.payload.toString());
    });
    expect(seen).toEqual(['ok']);
    expect(err.reason).toBe('oversized');
    expect(errorOf(() => decodeAll(decoder, [encodeFrame('raft', Buffer.from('later'))])).reason).toBe('oversized');
  });

  it('fails on random garbage with a FrameError, never anything else', () => {
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let failures = 0;
    for (let run = 0; run < 200; run++) {
      const garbage = Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256)));
      try {
        decodeAll(new FrameDecoder(1024), [garbage]);
      } catch (err) {
        expect(err).toBeInstanceOf(FrameError);
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(150);
  });
});

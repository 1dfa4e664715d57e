import { describe, expect, it } from 'vitest';
import { getF64, getU32, putF64, putU32, RecentHead, RecentText } from '../../../cluster/routing/wire-bytes.js';

describe('wire bytes', () => {
  it('write and read numbers big-endian, as Buffer does', () => {
    const b = Buffer.alloc(12);
    for (const v of [0, 1, 2 ** 32 - 1, 0x12345678]) {
      putU32(b, 3, v);
      expect(getU32(b, 3)).toBe(v);
      expect(b.readUInt32BE(3)).toBe(v);
    }
    for (const v of [0, 1.5, -2, 2 ** 53 - 1, Number.MAX_VALUE, NaN]) {
      putF64(b, 2, v);
      expect(getF64(b, 2)).toBe(v);
      expect(b.readDoubleBE(2)).toBe(v);
    }
  });

  it('give back the last text only for the same bytes', () => {
    const recent = new RecentText();
    const frame = Buffer.from('abcabdabcé'.repeat(1) + 'x'.repeat(100));
    const first = recent.read(frame, 0, 3);
    expect(first).toBe('abc');
    expect(recent.read(frame, 6, 9)).toBe(first);
    expect(recent.read(frame, 3, 6)).toBe('abd');
    expect(recent.read(frame, 9, 11)).toBe('é');
    // Past 64 bytes nothing is kept, and the text is still right.
    expect(recent.read(frame, 11, 111)).toBe('x'.repeat(100));
    expect(recent.read(frame, 11, 111)).toBe('x'.repeat(100));
    expect(recent.read(frame, 0, 3)).toBe('abc');
  });

  it('encode the texts in front of a stanza again when any of them changes', () => {
    const heads = new RecentHead();
    const h = heads.get('n2', 'é1', 'b.example.test');
    expect(h.bytes.toString()).toBe('n2é1b.example.test');
    expect([h.first, h.second, h.third]).toEqual([2, 3, 14]);
    expect(heads.get('n2', 'é1', 'b.example.test')).toBe(h);
    expect(heads.get('n2', 'é1', 'c.example.test').bytes.toString()).toBe('n2é1c.example.test');
    expect(heads.get('n3', 'é1', 'c.example.test').bytes.toString()).toBe('n3é1c.example.test');
  });
});

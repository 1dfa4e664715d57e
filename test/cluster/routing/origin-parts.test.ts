import { describe, expect, it } from 'vitest';
import { DedupWindow } from '../../../cluster/routing/dedup-window.js';
import { OriginBuffer } from '../../../cluster/routing/origin-buffer.js';
import { MemoryRoute, stanza } from '../../router/memory-route.js';

describe('OriginBuffer', () => {
  const s = (n: number, body = '') => stanza(`<message from='a.example.test' to='b.example.test' id='m${n}'>${body}</message>`);

  it('numbers stanzas in order and gives the unconfirmed back oldest first', () => {
    const buffer = new OriginBuffer({ stanzas: 10, bytes: 1 << 20 });
    const a = new MemoryRoute('a.example.test');
    for (let n = 1; n <= 4; n++) buffer.add(s(n), a);
    buffer.take(2);
    expect([...buffer.unconfirmed()].map((e) => e.seq)).toEqual([1, 3, 4]);
    expect(buffer.take(2)).toBeUndefined();
  });

  it('holds every sender over the byte bound, keeps what they sent, and releases them once under it', () => {
    const buffer = new OriginBuffer({ stanzas: 100, bytes: 300 });
    const a = new MemoryRoute('a.example.test');
    const c = new MemoryRoute('c.example.test');
    buffer.add(s(1, 'x'.repeat(200)), a);
    expect(a.held).toBe(false);
    buffer.add(s(2, 'x'.repeat(200)), a);
    buffer.add(s(3), c);
    expect([a.held, c.held, buffer.size]).toEqual([true, true, 3]);
    buffer.take(1);
    expect([a.held, c.held]).toEqual([true, true]);
    buffer.take(2);
    expect([a.held, c.held]).toEqual([false, false]);
  });

  it('gives each incarnation its own epoch', () => {
    expect(new OriginBuffer({ stanzas: 1, bytes: 1 }).epoch).not.toBe(new OriginBuffer({ stanzas: 1, bytes: 1 }).epoch);
  });
});

describe('DedupWindow', () => {
  it('takes a number at or below the highest settled for the pair as a copy', () => {
    const w = new DedupWindow();
    w.settle('n2', 'e1', 'b.example.test', 5);
    expect(w.isSettled('n2', 'e1', 'b.example.test', 5)).toBe(true);
    expect(w.isSettled('n2', 'e1', 'b.example.test', 3)).toBe(true);
    expect(w.isSettled('n2', 'e1', 'b.example.test', 6)).toBe(false);
    expect(w.isSettled('n2', 'e1', 'c.example.test', 1)).toBe(false);
    expect(w.isSettled('n2', 'e2', 'b.example.test', 1)).toBe(false);
    w.settle('n2', 'e1', 'b.example.test', 2);
    expect(w.isSettled('n2', 'e1', 'b.example.test', 5)).toBe(true);
  });

  it('stays bounded: the least recently settled destination and the oldest incarnations are forgotten', () => {
    const w = new DedupWindow(2);
    w.settle('n2', 'e1', 'x', 1);
    w.settle('n2', 'e1', 'y', 1);
    w.settle('n2', 'e1', 'x', 2);
    w.settle('n2', 'e1', 'z', 1);
    expect(['x', 'y', 'z'].map((d) => w.isSettled('n2', 'e1', d, 1))).toEqual([true, false, true]);
    // Settled again and again (the last pair, kept without a lookup): still the most recent, z goes first.
    w.settle('n2', 'e1', 'x', 3);
    w.settle('n2', 'e1', 'x', 4);
    w.settle('n2', 'e1', 'y', 1);
    expect(['x', 'y', 'z'].map((d) => w.isSettled('n2', 'e1', d, 1))).toEqual([true, true, false]);
    expect(w.isSettled('n2', 'e1', 'x', 4)).toBe(true);
    expect(w.isSettled('n2', 'e1', 'x', 5)).toBe(false);
    for (const e of ['e2', 'e3', 'e4', 'e5']) w.settle('n2', e, 'x', 1);
    expect(w.isSettled('n2', 'e1', 'x', 1)).toBe(false);
    expect(w.isSettled('n2', 'e2', 'x', 1)).toBe(true);
  });
});

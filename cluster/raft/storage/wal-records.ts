/**
 * The record format of the write-ahead log. Each record is
 *   length u32 LE | crc32 u32 LE | kind u8 | payload
 * where length counts kind + payload and the CRC-32 covers them too, so a
 * torn write or flipped bit is detected at the first damaged record.
 */
import { crc32 } from 'node:zlib';
import type { Entry, EntryType, HardState } from '../messages.js';

export type WalRecord =
  /** The log restarts after (index, term): the first record of every segment. */
  | { readonly kind: 'start'; readonly index: number; readonly term: number }
  /** The log was replaced by a snapshot at (index, term) stored beside it. */
  | { readonly kind: 'snapshot'; readonly index: number; readonly term: number }
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'hard-state'; readonly hardState: HardState };

const KIND = { start: 1, snapshot: 2, entries: 3, 'hard-state': 4 } as const;
const HEADER = 8;
/** Refuse absurd lengths from a damaged header instead of allocating them. */
const MAX_RECORD = 256 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeRecord(r: WalRecord): Buffer {
  let payload: Buffer;
  switch (r.kind) {
    case 'start':
    case 'snapshot':
      payload = Buffer.alloc(12);
      payload.writeUIntLE(r.index, 0, 6);
      payload.writeUIntLE(r.term, 6, 6);
      break;
    case 'entries':
      payload = encodeEntries(r.entries);
      break;
    case 'hard-state': {
      const vote = encoder.encode(r.hardState.vote);
      payload = Buffer.alloc(12 + 2 + vote.length);
      payload.writeUIntLE(r.hardState.term, 0, 6);
      payload.writeUIntLE(r.hardState.commit, 6, 6);
      payload.writeUInt16LE(vote.length, 12);
      payload.set(vote, 14);
      break;
    }
  }
  const out = Buffer.alloc(HEADER + 1 + payload.length);
  out.writeUInt32LE(1 + payload.length, 0);
  out.writeUInt8(KIND[r.kind], HEADER);
  payload.copy(out, HEADER + 1);
  out.writeUInt32LE(crc32(out.subarray(HEADER)), 4);
  return out;
}

function encodeEntries(entries: readonly Entry[]): Buffer {
  let size = 4;
  for (const e of entries) size += 6 + 6 + 1 + 4 + e.data.length;
  const b = Buffer.alloc(size);
  b.writeUInt32LE(entries.length, 0);
  let o = 4;
  for (const e of entries) {
    b.writeUIntLE(e.index, o, 6);
    b.writeUIntLE(e.term, o + 6, 6);
    b.writeUInt8(e.type === 'conf-change' ? 1 : 0, o + 12);
    b.writeUInt32LE(e.data.length, o + 13);
    b.set(e.data, o + 17);
    o += 17 + e.data.length;
  }
  return b;
}

export type ParseResult =
  | { readonly ok: true; readonly record: WalRecord; readonly next: number }
  | { readonly ok: false; readonly reason: 'end' | 'torn' | 'checksum' | 'malformed' };

/** Reads the record at `offset`; anything short, mismatched or unparsable is reported, never thrown. */
export function parseRecord(buf: Buffer, offset: number): ParseResult {
  if (offset === buf.length) return { ok: false, reason: 'end' };
  if (offset + HEADER > buf.length) return { ok: false, reason: 'torn' };
  const length = buf.readUInt32LE(offset);
  if (length < 1 || length > MAX_RECORD) return { ok: false, reason: 'malformed' };
  const end = offset + HEADER + length;
  if (end > buf.length) return { ok: false, reason: 'torn' };
  const body = buf.subarray(offset + HEADER, end);
  if (crc32(body) !== buf.readUInt32LE(offset + 4)) return { ok: false, reason: 'checksum' };
  try {
    const record = decodeBody(body);
    return record ? { ok: true, record, next: end } : { ok: false, reason: 'malformed' };
  } catch {
    return { ok: false, reason: 'malformed' };
  }
}

function decodeBody(body: Buffer): WalRecord | undefined {
  const kind = body.readUInt8(0);
  const p = body.subarray(1);
  switch (kind) {
    case KIND.start:
      return { kind: 'start', index: p.readUIntLE(0, 6), term: p.readUIntLE(6, 6) };
    case KIND.snapshot:
      return { kind: 'snapshot', index: p.readUIntLE(0, 6), term: p.readUIntLE(6, 6) };
    case KIND.entries: {
      const count = p.readUInt32LE(0);
      const entries: Entry[] = [];
      let o = 4;
      for (let i = 0; i < count; i++) {
        const len = p.readUInt32LE(o + 13);
        if (o + 17 + len > p.length) return undefined;
        const type: EntryType = p.readUInt8(o + 12) === 1 ? 'conf-change' : 'normal';
        entries.push({ index: p.readUIntLE(o, 6), term: p.readUIntLE(o + 6, 6), type, data: new Uint8Array(p.subarray(o + 17, o + 17 + len)) });
        o += 17 + len;
      }
      return o === p.length ? { kind: 'entries', entries } : undefined;
    }
    case KIND['hard-state']: {
      const voteLen = p.readUInt16LE(12);
      if (14 + voteLen !== p.length) return undefined;
      return {
        kind: 'hard-state',
        hardState: { term: p.readUIntLE(0, 6), commit: p.readUIntLE(6, 6), vote: decoder.decode(p.subarray(14, 14 + voteLen)) },
      };
    }
    default:
      return undefined;
  }
}

import { isUtf8 } from 'node:buffer';
import type { Stanza, StanzaName } from '../../src/router/router.js';
import { stanzaAttributes } from '../../src/xmpp/stanza-head.js';
import type { PeerId } from '../transport/transport.js';
import { getF64, getU32, putF64, putU32, RecentHead, RecentText } from './wire-bytes.js';

/**
 * The two messages every routed stanza costs, `fwd` (origin → leader) and
 * `dlv` (leader → holder), in a binary form: fixed fields, a table of byte
 * lengths, then every text field back to back in UTF-8. The leader never
 * turns the stanza into a JS string: it keeps the bytes of the `fwd` and
 * copies them into the `dlv` (ws's "parse once, keep the head, forward the
 * original text"). Attributes and the text are decoded only if the leader
 * answers or bounces the stanza itself.
 *
 * Checked as strictly as the JSON form: the lengths must add up to the frame
 * exactly, numbers must be non-negative safe integers, the text must be UTF-8
 * and no field may start inside another's character. The first byte tells
 * the forms apart: JSON starts with `{` (0x7b).
 */

export const FWD_TAG = 0x01;
export const DLV_TAG = 0x02;
/** 0x03 is a batch (routing-messages.ts). */
export const LEAN_FWD_TAG = 0x04;

/** A frame that claims to be a binary message but is not one. */
export class BinaryMessageError extends Error {
  override readonly name = 'BinaryMessageError';
}

const NAMES: readonly StanzaName[] = ['message', 'presence', 'iq'];
const NAME_CODES: Readonly<Record<StanzaName, number>> = { message: 0, presence: 1, iq: 2 };

/** tag, name code, seq, attribute count. */
const FWD_FIXED = 1 + 1 + 8 + 4;
/** tag, gen, dseq, seq, sid. */
const DLV_FIXED = 1 + 8 * 4;
/** tag, name code, seq, then the lengths of its three texts: epoch, toDomain, raw. */
const LEAN_FIXED = 1 + 1 + 8 + 4 * 3;
const DLV_HEAD = DLV_FIXED + 4 * 4;

export interface DecodedFwd {
  readonly t: 'fwd';
  readonly epoch: string;
  readonly seq: number;
  readonly stanza: BinaryStanza;
}

export interface DecodedDlv {
  readonly t: 'dlv';
  readonly gen: number;
  readonly dseq: number;
  readonly origin: PeerId;
  readonly epoch: string;
  readonly seq: number;
  readonly to: string;
  readonly sid: number;
  readonly raw: string;
}

/**
 * A stanza read from a `fwd` frame: its head and its text's bytes, in a copy
 * of the frame (so the socket's chunk is not kept while the stanza waits).
 * `attrs` and `raw` are decoded on first use, which on the leader's way to a
 * holder is never.
 */
export class BinaryStanza implements Stanza {
  private decodedAttrs: Record<string, string> | undefined;
  private decodedRaw: string | undefined;

  constructor(
    readonly name: StanzaName,
    readonly toDomain: string,
    /** The UTF-8 of `raw`. */
    readonly bytes: Buffer,
    private readonly frame: Buffer,
    /** Offset of the first attribute's length in the length table, and of its text; -1, -1, -1 for a lean fwd. */
    private readonly attrLengths: number,
    private readonly attrText: number,
    private readonly attrCount: number,
  ) {}

  get attrs(): Readonly<Record<string, string>> {
    // A lean fwd carries no attributes: they are in the text, read again only here.
    if (this.decodedAttrs === undefined && this.attrCount < 0) this.decodedAttrs = stanzaAttributes(this.raw);
    if (this.decodedAttrs === undefined) {
      const attrs: Record<string, string> = {};
      let at = this.attrText;
      for (let i = 0; i < this.attrCount; i++) {
        const kLen = this.frame.readUInt32BE(this.attrLengths + 8 * i);
        const vLen = this.frame.readUInt32BE(this.attrLengths + 8 * i + 4);
        const key = this.frame.toString('utf8', at, at + kLen);
        at += kLen;
        const value = this.frame.toString('utf8', at, at + vLen);
        // As JSON.parse does: an own property, whatever the name.
        if (key === '__proto__') Object.defineProperty(attrs, key, { value, enumerable: true, writable: true, configurable: true });
        else attrs[key] = value;
        at += vLen;
      }
      this.decodedAttrs = attrs;
    }
    return this.decodedAttrs;
  }

  get raw(): string {
    this.decodedRaw ??= this.bytes.toString('utf8');
    return this.decodedRaw;
  }
}

/** A stanza's text as sent on: the bytes it came in when it came from a peer. */
export function stanzaText(stanza: Stanza): string | Buffer {
  return stanza instanceof BinaryStanza ? stanza.bytes : stanza.raw;
}

export function encodeFwd(epoch: string, seq: number, stanza: Stanza): Buffer {
  const keys = Object.keys(stanza.attrs);
  const texts: string[] = [epoch, stanza.toDomain];
  for (const k of keys) texts.push(k, stanza.attrs[k]!);
  const out = writeTexts(FWD_FIXED, texts, stanzaText(stanza));
  out[0] = FWD_TAG;
  out[1] = NAME_CODES[stanza.name];
  out.writeDoubleBE(seq, 2);
  out.writeUInt32BE(keys.length, 10);
  return out;
}

export function encodeDlv(gen: number, dseq: number, origin: PeerId, epoch: string, seq: number, to: string, sid: number, raw: string | Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(dlvMaxBytes(origin, epoch, to, raw));
  return out.subarray(0, writeDlv(out, 0, gen, dseq, origin, epoch, seq, to, sid, raw));
}

/**
 * A `fwd` without the stanza's attributes, for a stanza the leader routes on
 * its name and domain alone (to a component of ours): the attributes stay in
 * its text, and are read from there only if the leader must answer or bounce
 * it (BinaryStanza.attrs). Copying a dozen attribute texts was the largest
 * cost of forwarding on the origin. Sent only to a leader whose hello lists
 * ROUTING_LEAN (routing-messages.ts).
 */
export function encodeLeanFwd(epoch: string, seq: number, stanza: Stanza): Buffer {
  const out = Buffer.allocUnsafe(leanFwdMaxBytes(epoch, stanza));
  return out.subarray(0, writeLeanFwd(out, 0, epoch, seq, stanza));
}

/*
 * The writers below encode in place, into a batch being built (peer-outbox.ts):
 * room for the most a message can take is asked for first (3 UTF-8 bytes per
 * UTF-16 unit), so the texts are written once each, without measuring them.
 */

/** The most bytes a lean fwd of `stanza` takes. */
export function leanFwdMaxBytes(epoch: string, stanza: Stanza): number {
  return LEAN_FIXED + 3 * (epoch.length + stanza.toDomain.length) + textMaxBytes(stanzaText(stanza));
}

/** Writes a lean fwd at `at`; returns its length. `out` has leanFwdMaxBytes from `at`. */
export function writeLeanFwd(out: Buffer, at: number, epoch: string, seq: number, stanza: Stanza): number {
  const head = fwdHeads.get(epoch, stanza.toDomain, '');
  out.set(head.bytes, at + LEAN_FIXED);
  const rawBytes = putText(out, at + LEAN_FIXED + head.bytes.length, stanzaText(stanza));
  out[at] = LEAN_FWD_TAG;
  out[at + 1] = NAME_CODES[stanza.name];
  putF64(out, at + 2, seq);
  putU32(out, at + 10, head.first);
  putU32(out, at + 14, head.second);
  putU32(out, at + 18, rawBytes);
  return LEAN_FIXED + head.bytes.length + rawBytes;
}

/** The most bytes a dlv of these fields takes. */
export function dlvMaxBytes(origin: PeerId, epoch: string, to: string, raw: string | Uint8Array): number {
  return DLV_HEAD + 3 * (origin.length + epoch.length + to.length) + textMaxBytes(raw);
}

/** Writes a dlv at `at`; returns its length. `out` has dlvMaxBytes from `at`. */
export function writeDlv(out: Buffer, at: number, gen: number, dseq: number, origin: PeerId, epoch: string, seq: number, to: string, sid: number, raw: string | Uint8Array): number {
  const head = dlvHeads.get(origin, epoch, to);
  out.set(head.bytes, at + DLV_HEAD);
  const rawBytes = putText(out, at + DLV_HEAD + head.bytes.length, raw);
  out[at] = DLV_TAG;
  putF64(out, at + 1, gen);
  putF64(out, at + 9, dseq);
  putF64(out, at + 17, seq);
  putF64(out, at + 25, sid);
  putU32(out, at + DLV_FIXED, head.first);
  putU32(out, at + DLV_FIXED + 4, head.second);
  putU32(out, at + DLV_FIXED + 8, head.third);
  putU32(out, at + DLV_FIXED + 12, rawBytes);
  return DLV_HEAD + head.bytes.length + rawBytes;
}


function textMaxBytes(text: string | Uint8Array): number {
  if (typeof text !== 'string') return text.byteLength;
  // A large text is measured: reserving three times it would allocate for nothing.
  return text.length > 16 * 1024 ? Buffer.byteLength(text, 'utf8') : 3 * text.length;
}

function putText(out: Buffer, at: number, text: string | Uint8Array): number {
  if (typeof text === 'string') return out.write(text, at, 'utf8');
  out.set(text, at);
  return text.byteLength;
}

export function decodeLeanFwd(payload: Uint8Array): DecodedFwd {
  const frame = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return decodeLeanFwdAt(frame, 0, frame.length);
}

/** The lean fwd in `frame` from `start` to `end` (a message of a batch, read without a view of its own). */
export function decodeLeanFwdAt(frame: Buffer, start: number, end: number): DecodedFwd {
  const n = end - start;
  if (n < LEAN_FIXED) throw new BinaryMessageError(`lean fwd of ${n} bytes, shorter than its fixed fields`);
  const name = NAMES[frame[start + 1]!];
  if (name === undefined) throw new BinaryMessageError(`fwd stanza name code ${frame[start + 1]} is not message, presence or iq`);
  const seq = count(getF64(frame, start + 2), 'seq');
  const textStart = start + LEAN_FIXED;
  const epochEnd = textStart + getU32(frame, start + 10);
  const domainEnd = epochEnd + getU32(frame, start + 14);
  if (domainEnd + getU32(frame, start + 18) !== end) throw new BinaryMessageError(`lean fwd: its texts do not fill its ${n} bytes`);
  // A continuation byte first: the text before ends inside a character.
  if ((domainEnd > epochEnd && (frame[epochEnd]! & 0xc0) === 0x80) || (end > domainEnd && (frame[domainEnd]! & 0xc0) === 0x80)) {
    throw new BinaryMessageError('lean fwd: a text starts inside a UTF-8 character');
  }
  // A copy of the text alone, so the socket's chunk is not kept while the stanza waits.
  const bytes = Buffer.allocUnsafe(end - domainEnd);
  frame.copy(bytes, 0, domainEnd, end);
  if (!isUtf8(bytes) || !isUtf8(frame.subarray(textStart, domainEnd))) throw new BinaryMessageError('lean fwd: text is not UTF-8');
  const stanza = new BinaryStanza(name, recentDomain.read(frame, epochEnd, domainEnd), bytes, bytes, -1, -1, -1);
  return { t: 'fwd', epoch: recentEpoch.read(frame, textStart, epochEnd), seq, stanza };
}

export function decodeFwd(payload: Uint8Array): DecodedFwd {
  const frame = Buffer.from(payload);
  if (frame.length < FWD_FIXED) throw new BinaryMessageError(`fwd of ${frame.length} bytes, shorter than its fixed fields`);
  const attrCount = frame.readUInt32BE(10);
  const n = 3 + 2 * attrCount;
  const textStart = readTexts(frame, 0, frame.length, FWD_FIXED, n, 'fwd');
  const name = NAMES[frame[1]!];
  if (name === undefined) throw new BinaryMessageError(`fwd stanza name code ${frame[1]} is not message, presence or iq`);
  const seq = count(frame.readDoubleBE(2), 'seq');
  const epochEnd = textStart + frame.readUInt32BE(FWD_FIXED);
  const domainEnd = epochEnd + frame.readUInt32BE(FWD_FIXED + 4);
  const rawStart = frame.length - frame.readUInt32BE(FWD_FIXED + 4 * (n - 1));
  const stanza = new BinaryStanza(name, frame.toString('utf8', epochEnd, domainEnd), frame.subarray(rawStart), frame, FWD_FIXED + 8, domainEnd, attrCount);
  return { t: 'fwd', epoch: frame.toString('utf8', textStart, epochEnd), seq, stanza };
}

export function decodeDlv(payload: Uint8Array): DecodedDlv {
  const frame = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return decodeDlvAt(frame, 0, frame.length);
}

/** The dlv in `frame` from `start` to `end` (a message of a batch, read without a view of its own). */
export function decodeDlvAt(frame: Buffer, start: number, end: number): DecodedDlv {
  if (end - start < DLV_FIXED) throw new BinaryMessageError(`dlv of ${end - start} bytes, shorter than its fixed fields`);
  const originStart = readTexts(frame, start, end, DLV_FIXED, 4, 'dlv');
  const epochStart = originStart + getU32(frame, start + DLV_FIXED);
  const toStart = epochStart + getU32(frame, start + DLV_FIXED + 4);
  const rawStart = toStart + getU32(frame, start + DLV_FIXED + 8);
  return {
    t: 'dlv',
    gen: count(getF64(frame, start + 1), 'gen'),
    dseq: count(getF64(frame, start + 9), 'dseq'),
    seq: count(getF64(frame, start + 17), 'seq'),
    sid: count(getF64(frame, start + 25), 'sid'),
    origin: recentOrigin.read(frame, originStart, epochStart),
    epoch: recentEpoch.read(frame, epochStart, toStart),
    to: recentDomain.read(frame, toStart, rawStart),
    raw: frame.toString('utf8', rawStart, end),
  };
}

/**
 * fixed fields, then a u32 byte length per text, then the texts: `strings`,
 * then `last` (the stanza, text or bytes). The strings are encoded with one
 * call: a call into the UTF-8 encoder costs more than the bytes it writes,
 * and a stanza's head is a dozen short texts. When they are ASCII (byte
 * length equals length) their lengths need no second look.
 */
function writeTexts(fixed: number, strings: readonly string[], last: string | Uint8Array): Buffer {
  const head = fixed + 4 * (strings.length + 1);
  const joined = typeof last === 'string' ? strings.join('') + last : strings.join('');
  const joinedBytes = Buffer.byteLength(joined, 'utf8');
  const ascii = joinedBytes === joined.length;
  const out = Buffer.allocUnsafe(head + joinedBytes + (typeof last === 'string' ? 0 : last.byteLength));
  let lengths = fixed;
  for (const t of strings) {
    out.writeUInt32BE(ascii ? t.length : Buffer.byteLength(t, 'utf8'), lengths);
    lengths += 4;
  }
  const written = out.write(joined, head, 'utf8');
  if (typeof last === 'string') out.writeUInt32BE(ascii ? last.length : Buffer.byteLength(last, 'utf8'), lengths);
  else {
    out.writeUInt32BE(last.byteLength, lengths);
    out.set(last, head + written);
  }
  return out;
}

/**
 * Checks the length table of `n` texts after the fixed fields: the texts
 * must fill the frame exactly and be UTF-8, each starting on a character.
 * Returns where the first text starts.
 */
function readTexts(frame: Buffer, start: number, end: number, fixed: number, n: number, what: string): number {
  const size = end - start;
  const textStart = start + fixed + 4 * n;
  if (!Number.isSafeInteger(textStart) || textStart > end) throw new BinaryMessageError(`${what}: a length table of ${n} entries does not fit in ${size} bytes`);
  let at = textStart;
  for (let i = 0; i < n; i++) {
    const len = getU32(frame, start + fixed + 4 * i);
    if (len > end - at) throw new BinaryMessageError(`${what}: text ${i} of ${len} bytes runs past the frame`);
    // A continuation byte first: the text before ends inside a character.
    if (len > 0 && (frame[at]! & 0xc0) === 0x80) throw new BinaryMessageError(`${what}: text ${i} starts inside a UTF-8 character`);
    at += len;
  }
  if (at !== end) throw new BinaryMessageError(`${what}: ${end - at} bytes after the last text`);
  if (!isUtf8(frame.subarray(textStart, end))) throw new BinaryMessageError(`${what}: text is not UTF-8`);
  return textStart;
}

function count(v: number, key: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new BinaryMessageError(`${key} is not a non-negative integer`);
  return v;
}

/** One per field: each repeats from message to message on its own. */
const recentEpoch = new RecentText();
const recentOrigin = new RecentText();
const recentDomain = new RecentText();
const fwdHeads = new RecentHead();
const dlvHeads = new RecentHead();

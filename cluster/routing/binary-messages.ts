import { isUtf8 } from 'node:buffer';
import type { Stanza, StanzaName } from '../../src/router/router.js';
import type { PeerId } from '../transport/transport.js';

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
    /** Offset of the first attribute's length in the length table, and of its text. */
    private readonly attrLengths: number,
    private readonly attrText: number,
    private readonly attrCount: number,
  ) {}

  get attrs(): Readonly<Record<string, string>> {
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
  const out = writeTexts(DLV_FIXED, [origin, epoch, to], raw);
  out[0] = DLV_TAG;
  out.writeDoubleBE(gen, 1);
  out.writeDoubleBE(dseq, 9);
  out.writeDoubleBE(seq, 17);
  out.writeDoubleBE(sid, 25);
  return out;
}

export function decodeFwd(payload: Uint8Array): DecodedFwd {
  const frame = Buffer.from(payload);
  if (frame.length < FWD_FIXED) throw new BinaryMessageError(`fwd of ${frame.length} bytes, shorter than its fixed fields`);
  const attrCount = frame.readUInt32BE(10);
  const n = 3 + 2 * attrCount;
  const textStart = readTexts(frame, FWD_FIXED, n, 'fwd');
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
  if (frame.length < DLV_FIXED) throw new BinaryMessageError(`dlv of ${frame.length} bytes, shorter than its fixed fields`);
  const originStart = readTexts(frame, DLV_FIXED, 4, 'dlv');
  const epochStart = originStart + frame.readUInt32BE(DLV_FIXED);
  const toStart = epochStart + frame.readUInt32BE(DLV_FIXED + 4);
  const rawStart = toStart + frame.readUInt32BE(DLV_FIXED + 8);
  return {
    t: 'dlv',
    gen: count(frame.readDoubleBE(1), 'gen'),
    dseq: count(frame.readDoubleBE(9), 'dseq'),
    seq: count(frame.readDoubleBE(17), 'seq'),
    sid: count(frame.readDoubleBE(25), 'sid'),
    origin: frame.toString('utf8', originStart, epochStart),
    epoch: frame.toString('utf8', epochStart, toStart),
    to: frame.toString('utf8', toStart, rawStart),
    raw: frame.toString('utf8', rawStart, frame.length),
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
function readTexts(frame: Buffer, fixed: number, n: number, what: string): number {
  const textStart = fixed + 4 * n;
  if (!Number.isSafeInteger(textStart) || textStart > frame.length) throw new BinaryMessageError(`${what}: a length table of ${n} entries does not fit in ${frame.length} bytes`);
  let at = textStart;
  for (let i = 0; i < n; i++) {
    const len = frame.readUInt32BE(fixed + 4 * i);
    if (len > frame.length - at) throw new BinaryMessageError(`${what}: text ${i} of ${len} bytes runs past the frame`);
    // A continuation byte first: the text before ends inside a character.
    if (len > 0 && (frame[at]! & 0xc0) === 0x80) throw new BinaryMessageError(`${what}: text ${i} starts inside a UTF-8 character`);
    at += len;
  }
  if (at !== frame.length) throw new BinaryMessageError(`${what}: ${frame.length - at} bytes after the last text`);
  if (!isUtf8(frame.subarray(textStart))) throw new BinaryMessageError(`${what}: text is not UTF-8`);
  return textStart;
}

function count(v: number, key: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new BinaryMessageError(`${key} is not a non-negative integer`);
  return v;
}

/** The byte-level pieces of the binary routing messages (binary-messages.ts). */

/*
 * Numbers by hand: Buffer's readUInt32BE and friends cost a property lookup
 * and a bounds check each, and showed in the leader's profile. Callers have
 * checked the frame is long enough.
 */
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function getU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

export function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

export function getF64(b: Uint8Array, at: number): number {
  const t = f64Bytes;
  if (LITTLE_ENDIAN) {
    t[7] = b[at]!;
    t[6] = b[at + 1]!;
    t[5] = b[at + 2]!;
    t[4] = b[at + 3]!;
    t[3] = b[at + 4]!;
    t[2] = b[at + 5]!;
    t[1] = b[at + 6]!;
    t[0] = b[at + 7]!;
  } else {
    for (let i = 0; i < 8; i++) t[i] = b[at + i]!;
  }
  return f64[0]!;
}

export function putF64(b: Uint8Array, at: number, v: number): void {
  f64[0] = v;
  const t = f64Bytes;
  if (LITTLE_ENDIAN) {
    b[at] = t[7]!;
    b[at + 1] = t[6]!;
    b[at + 2] = t[5]!;
    b[at + 3] = t[4]!;
    b[at + 4] = t[3]!;
    b[at + 5] = t[2]!;
    b[at + 6] = t[1]!;
    b[at + 7] = t[0]!;
  } else {
    for (let i = 0; i < 8; i++) b[at + i] = t[i]!;
  }
}

/**
 * The last text read for one field, by its bytes: a run of stanzas of one
 * origin to one address repeats its epoch, origin and address, and reusing
 * the string saves decoding it, and hashing it again for each Map lookup.
 */
export class RecentText {
  private bytes: Buffer = Buffer.alloc(0);
  private text = '';

  read(frame: Buffer, start: number, end: number): string {
    const n = end - start;
    const bytes = this.bytes;
    if (n === bytes.length && n <= 64) {
      let i = 0;
      while (i < n && frame[start + i] === bytes[i]) i++;
      if (i === n) return this.text;
    }
    this.text = frame.toString('utf8', start, end);
    if (n <= 64) {
      this.bytes = Buffer.allocUnsafe(n);
      frame.copy(this.bytes, 0, start, end);
    }
    return this.text;
  }
}

export interface EncodedHead {
  /** The UTF-8 of the texts, back to back, and the byte length of each. */
  readonly bytes: Buffer;
  readonly first: number;
  readonly second: number;
  readonly third: number;
}

/**
 * The texts in front of a stanza, encoded once for a run of messages with
 * the same ones (one origin incarnation to one address): a copy of a few
 * bytes instead of a call into the UTF-8 encoder per text.
 */
export class RecentHead {
  private a = '';
  private b = '';
  private c = '';
  private head: EncodedHead | undefined;

  get(a: string, b: string, c: string): EncodedHead {
    if (this.head !== undefined && a === this.a && b === this.b && c === this.c) return this.head;
    const first = Buffer.byteLength(a, 'utf8');
    const second = Buffer.byteLength(b, 'utf8');
    this.head = { bytes: Buffer.from(a + b + c, 'utf8'), first, second, third: Buffer.byteLength(c, 'utf8') };
    this.a = a;
    this.b = b;
    this.c = c;
    return this.head;
  }
}

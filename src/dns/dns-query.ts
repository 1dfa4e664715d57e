import dnsPacket, { type DecodedPacket, type OptAnswer } from 'dns-packet';

/**
 * A query read off the wire, or why it cannot be answered normally. Pure:
 * the answer function decides what to send from this. The header is read by
 * hand (RFC 1035 §4.1.1) so that a packet too broken for dns-packet still
 * gives us an id to put on a FORMERR; dns-packet then decodes the whole
 * packet, which checks every section and gives us the OPT record.
 */

export const HEADER_BYTES = 12;

export const OPCODE_QUERY = 0;
export const CLASS_IN = 1;

export interface QueryHeader {
  readonly id: number;
  readonly opcode: number;
  readonly rd: boolean;
}

/** The EDNS pseudo-record of a query (RFC 6891 §6.1.2). */
export interface QueryEdns {
  readonly udpPayloadSize: number;
  readonly version: number;
  /** DNSSEC OK; copied to the response (RFC 3225 §3). */
  readonly dnssecOk: boolean;
}

export interface Question {
  /** The question section's bytes exactly as sent, to echo (case kept). */
  readonly raw: Buffer;
  /**
   * The name in lowercase (ASCII only, RFC 4343 §2), labels joined by dots;
   * null when a label holds a byte no zone name can have (a dot, a space,
   * anything outside printable ASCII), so it can match nothing we serve.
   */
  readonly name: string | null;
  /** The name as asked, for answer owner names (same case as the question). */
  readonly asked: string;
  readonly type: number;
  readonly class: number;
}

export type ParsedQuery =
  /** Not a query we may answer at all: too short for a header, or a response (no reflection loops). */
  | { readonly kind: 'drop' }
  /**
   * A header but a broken body, or not exactly one question (RFC 1035
   * §4.1.2). `edns` when the packet was readable enough to show its OPT
   * record, so the FORMERR carries ours (RFC 6891 §7).
   */
  | { readonly kind: 'formerr'; readonly header: QueryHeader; readonly edns: QueryEdns | null }
  /** An opcode other than QUERY (RFC 1035 §4.1.1 rcode 4). */
  | { readonly kind: 'notimp'; readonly header: QueryHeader; readonly edns: QueryEdns | null }
  | { readonly kind: 'query'; readonly header: QueryHeader; readonly question: Question; readonly edns: QueryEdns | null };

export function parseQuery(buf: Buffer): ParsedQuery {
  if (buf.length < HEADER_BYTES) return { kind: 'drop' };
  const flags = buf.readUInt16BE(2);
  // QR=1: a response. Answering it (even with an error) lets two servers, or
  // a spoofed source, bounce packets between each other for ever.
  if (flags & 0x8000) return { kind: 'drop' };
  const header: QueryHeader = { id: buf.readUInt16BE(0), opcode: (flags >> 11) & 0xf, rd: (flags & 0x0100) !== 0 };

  let decoded: DecodedPacket;
  try {
    decoded = dnsPacket.decode(buf);
  } catch {
    return { kind: 'formerr', header, edns: null };
  }
  const opts = (decoded.additionals ?? []).filter((a) => a.type === 'OPT') as OptAnswer[];
  const opt = opts[0];
  const edns: QueryEdns | null = opt
    ? { udpPayloadSize: opt.udpPayloadSize, version: opt.ednsVersion, dnssecOk: (opt.flags & dnsPacket.DNSSEC_OK) !== 0 }
    : null;
  // More than one OPT record is a format error (RFC 6891 §6.1.1).
  if (opts.length > 1) return { kind: 'formerr', header, edns };

  if (header.opcode !== OPCODE_QUERY) return { kind: 'notimp', header, edns };
  if (buf.readUInt16BE(4) !== 1) return { kind: 'formerr', header, edns };
  const question = readQuestion(buf);
  if (!question) return { kind: 'formerr', header, edns };
  return { kind: 'query', header, question, edns };
}

/**
 * The single question, read from its bytes (RFC 1035 §4.1.2). A compression
 * pointer here is malformed: the question is the first name in the message,
 * so there is no earlier name it could point to (§4.1.4).
 */
function readQuestion(buf: Buffer): Question | null {
  const labels: string[] = [];
  let matchable = true;
  let offset = HEADER_BYTES;
  for (;;) {
    if (offset >= buf.length) return null;
    const len = buf[offset]!;
    if (len === 0) break;
    if (len & 0xc0) return null;
    const label = buf.subarray(offset + 1, offset + 1 + len);
    if (label.length !== len) return null;
    if (!label.every((b) => b > 0x20 && b < 0x7f && b !== 0x2e)) matchable = false;
    labels.push(label.toString('latin1'));
    offset += 1 + len;
  }
  const end = offset + 1 + 4;
  if (end > buf.length) return null;
  const asked = labels.join('.');
  return {
    raw: buf.subarray(HEADER_BYTES, end),
    name: matchable ? asciiLowercase(asked) : null,
    asked: matchable ? asked : '',
    type: buf.readUInt16BE(end - 4),
    class: buf.readUInt16BE(end - 2),
  };
}

/** DNS compares names ignoring ASCII case only (RFC 4343 §2). */
export function asciiLowercase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

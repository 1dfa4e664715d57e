import dnsPacket, { type Answer, type OptAnswer, type Packet } from 'dns-packet';
import { HEADER_BYTES, type QueryEdns, type QueryHeader } from './dns-query.js';

/**
 * Puts a response on the wire within a size limit (RFC 1035 §4.2.1 for
 * UDP, RFC 6891 §6.2.3 with EDNS, RFC 7766 for TCP). dns-packet encodes the
 * records; the question is spliced in as the client sent it, so it comes
 * back byte for byte (case, type and class exactly as asked, RFC 1035 §4.1.2),
 * which is safe because dns-packet never compresses names and so nothing
 * after the question points into it.
 */

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

/**
 * The UDP payload we advertise and send at most with EDNS: 1232 bytes fits
 * a 1280-byte IPv6 minimum MTU with its headers, so our answers never rely
 * on IP fragmentation (DNS Flag Day 2020); larger answers go over TCP.
 */
export const EDNS_UDP_PAYLOAD = 1232;
/** Without EDNS a UDP message is at most 512 bytes (RFC 1035 §2.3.4). */
export const PLAIN_UDP_PAYLOAD = 512;
/** The two-byte length prefix bounds a TCP message (RFC 1035 §4.2.2). */
export const TCP_MESSAGE_MAX = 65535;

export interface ResponseParts {
  readonly header: QueryHeader;
  /** The raw question section to echo, or null (FORMERR on a broken question). */
  readonly question: Buffer | null;
  /** The query's EDNS, if any: the response then carries an OPT record (RFC 6891 §6.1.1). */
  readonly edns: QueryEdns | null;
  readonly rcode: number;
  readonly authoritative: boolean;
  readonly answers?: readonly Answer[];
  readonly authorities?: readonly Answer[];
  /**
   * Additional record sets, most useful first. Optional data: each set goes
   * in whole if it fits and is left out if not, without setting TC (RFC 2181
   * §9: TC is for the records the question needs, not for extras).
   */
  readonly additionalSets?: readonly (readonly Answer[])[];
}

/** The most a UDP response to this query may be. */
export function udpLimit(edns: QueryEdns | null): number {
  if (!edns) return PLAIN_UDP_PAYLOAD;
  // A payload size under 512 is treated as 512 (RFC 6891 §6.2.5).
  return Math.min(Math.max(edns.udpPayloadSize, PLAIN_UDP_PAYLOAD), EDNS_UDP_PAYLOAD);
}

export function encodeResponse(parts: ResponseParts, limit: number): Buffer {
  const opt = optRecord(parts);
  const answers = [...(parts.answers ?? [])];
  const authorities = [...(parts.authorities ?? [])];
  const additionals: Answer[] = opt ? [opt] : [];
  const packet = (tc: boolean): Packet => ({
    type: 'response',
    id: parts.header.id,
    flags: flagsOf(parts, tc),
    questions: [],
    answers,
    authorities,
    additionals,
  });
  const questionBytes = parts.question?.length ?? 0;
  const size = () => dnsPacket.encodingLength(packet(false)) + questionBytes;

  if (size() > limit) {
    // The records the question needs do not fit: an empty response with TC
    // set, question kept, so the client asks again over TCP (RFC 1035
    // §4.2.1, RFC 2181 §9, RFC 7766 §5). No partial answer section: a
    // resolver could take part of an RRset for all of it.
    answers.length = 0;
    authorities.length = 0;
    return withQuestion(dnsPacket.encode(packet(true)), parts.question);
  }
  for (const set of parts.additionalSets ?? []) {
    const before = additionals.length;
    additionals.push(...set);
    if (size() > limit) additionals.length = before;
  }
  return withQuestion(dnsPacket.encode(packet(false)), parts.question);
}

/**
 * RFC 1035 §4.1.1: QR=1, the opcode and RD echoed, AA for our own data, RA
 * clear (we do not recurse), Z, AD and CD clear. The low four bits of the
 * rcode go here; the rest into the OPT record (RFC 6891 §6.1.3).
 */
function flagsOf(parts: ResponseParts, tc: boolean): number {
  return (
    ((parts.header.opcode & 0xf) << 11) |
    (parts.authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
    (tc ? dnsPacket.TRUNCATED_RESPONSE : 0) |
    (parts.header.rd ? dnsPacket.RECURSION_DESIRED : 0) |
    (parts.rcode & 0xf)
  );
}

/** Our OPT record: version 0, our payload size, DO copied (RFC 3225 §3), no options. */
function optRecord(parts: ResponseParts): OptAnswer | null {
  if (!parts.edns) return null;
  return {
    name: '.',
    type: 'OPT',
    udpPayloadSize: EDNS_UDP_PAYLOAD,
    extendedRcode: parts.rcode >> 4,
    ednsVersion: 0,
    flags: parts.edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
    flag_do: parts.edns.dnssecOk,
    options: [],
  };
}

function withQuestion(encoded: Buffer, question: Buffer | null): Buffer {
  if (!question) return encoded;
  const out = Buffer.concat([encoded.subarray(0, HEADER_BYTES), question, encoded.subarray(HEADER_BYTES)]);
  out.writeUInt16BE(1, 4);
  return out;
}

import type { Answer, HInfoAnswer } from 'dns-packet';
import { CLASS_IN, parseQuery, type Question, type QueryEdns, type QueryHeader } from './dns-query.js';
import { encodeResponse, RCODE, TCP_MESSAGE_MAX, udpLimit, type ResponseParts } from './dns-response.js';
import { inZone, TYPE, zoneIndex, type ZoneIndex } from './zone-index.js';
import type { DnsZone } from './zone.js';

/**
 * The health-aware responder's answer to one query, as a pure function of
 * the query's bytes, the zone it serves right now and the transport: the
 * response bytes, or null when the packet must not be answered at all.
 * `zone` null means the responder serves nothing (disabled): every query is
 * REFUSED, as a server answers for a zone it is not authoritative for.
 */

export type DnsTransport = 'udp' | 'tcp';

export function answerQuery(query: Buffer, zone: DnsZone | null, transport: DnsTransport): Buffer | null {
  const parsed = parseQuery(query);
  switch (parsed.kind) {
    case 'drop':
      return null;
    case 'formerr':
      // We could not read the question, so none is echoed.
      return respond({ header: parsed.header, question: null, edns: parsed.edns, rcode: RCODE.FORMERR, authoritative: false }, transport);
    case 'notimp':
      return respond({ header: parsed.header, question: null, edns: parsed.edns, rcode: RCODE.NOTIMP, authoritative: false }, transport);
    case 'query':
      return respond(answerQuestion(parsed.header, parsed.question, parsed.edns, zone), transport);
  }
}

function respond(parts: ResponseParts, transport: DnsTransport): Buffer {
  return encodeResponse(parts, transport === 'tcp' ? TCP_MESSAGE_MAX : udpLimit(parts.edns));
}

function answerQuestion(header: QueryHeader, question: Question, edns: QueryEdns | null, zone: DnsZone | null): ResponseParts {
  const base = { header, question: question.raw, edns };
  const refused: ResponseParts = { ...base, rcode: RCODE.REFUSED, authoritative: false };
  // An EDNS version we do not speak: BADVERS with our version, 0 (RFC 6891 §6.1.3).
  if (edns && edns.version > 0) return { ...base, rcode: RCODE.BADVERS, authoritative: false };
  // OPT is a pseudo-record that lives in no zone (RFC 6891 §6.1.1); asking for it is malformed.
  if (question.type === TYPE.OPT) return { ...base, question: null, rcode: RCODE.FORMERR, authoritative: false };
  if (!zone) return refused;
  // Another class (CH, HS, or ANY): we hold no data in it. REFUSED rather
  // than NOTIMP: the query is well formed and its class is defined (RFC 1035
  // §3.2.5), we merely decline to serve it, as for a name outside our zone.
  if (question.class !== CLASS_IN) return refused;
  const index = zoneIndex(zone);
  // A name outside the domain, or one no zone name can spell: not ours, no
  // AA, and no referral, we are not a recursive resolver.
  if (question.name === null || !inZone(question.name, index.domain)) return refused;
  // Zone transfers are not offered: REFUSED, as for a transfer policy forbids (RFC 5936 §2.2.1).
  if (question.type === TYPE.AXFR || question.type === TYPE.IXFR) return refused;

  const authoritative = { ...base, authoritative: true };
  const negative = (rcode: number): ResponseParts => ({ ...authoritative, rcode, authorities: [index.soa] });
  // RFC 2308 §2.1: a name that does not exist, and nothing below it (RFC 8020).
  if (!index.names.has(question.name)) return negative(RCODE.NXDOMAIN);
  const byType = index.rrsets.get(question.name);

  if (question.type === TYPE.ANY) {
    // RFC 8482 §4.2: one synthesized HINFO instead of every set, so a
    // small ANY query never draws a large answer.
    if (!byType || byType.size === 0) return negative(RCODE.NOERROR);
    const hinfo: HInfoAnswer = { name: question.asked, type: 'HINFO', class: 'IN', ttl: index.ttl, data: { cpu: 'RFC8482', os: '' } };
    return { ...authoritative, rcode: RCODE.NOERROR, answers: [hinfo] };
  }

  const set = byType?.get(question.type);
  // RFC 2308 §2.2 NODATA: the name exists, this type does not.
  if (!set) return negative(RCODE.NOERROR);
  // Owner names as asked: case is preserved on output (RFC 4343 §4.1), and
  // resolvers that randomise the case of their questions compare it.
  const answers = set.map((r) => ({ ...r, name: question.asked }));
  const additionalSets = question.type === TYPE.SRV ? targetAddresses(index, set) : [];
  return { ...authoritative, rcode: RCODE.NOERROR, answers, additionalSets };
}

/**
 * The A and AAAA sets of the SRV targets, in SRV order (RFC 2782: "the
 * additional data section ... may contain the A records of the targets"),
 * each target once. Only targets in our zone have any here.
 */
function targetAddresses(index: ZoneIndex, srv: readonly Answer[]): Answer[][] {
  const sets: Answer[][] = [];
  const seen = new Set<string>();
  for (const record of srv) {
    if (record.type !== 'SRV' || seen.has(record.data.target)) continue;
    seen.add(record.data.target);
    const byType = index.rrsets.get(record.data.target);
    for (const type of [TYPE.A, TYPE.AAAA]) {
      const set = byType?.get(type);
      if (set) sets.push([...set]);
    }
  }
  return sets;
}

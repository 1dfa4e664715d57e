import { describe, expect, it } from 'vitest';
import { answerQuery } from '../../src/dns/dns-answer.js';
import { buildZone } from '../../src/dns/zone.js';
import { COMPONENT, decode, DOMAIN, extras, member, opt, query, rawQuery, SERVER, SETTINGS, smallZone, zoneOf } from './dns-fixtures.js';

/** The responder's answers as bytes in, bytes out (RFC 1035, 2308, 2782, 6891). */

function ask(q: Buffer, zone = smallZone(), transport: 'udp' | 'tcp' = 'udp') {
  const response = answerQuery(q, zone, transport);
  if (!response) throw new Error('no response');
  return { response, d: decode(response) };
}

describe('SRV for the call bridges and for federation (RFC 2782)', () => {
  it('answers _xmpp-component._tcp with one record per live member and their addresses as additionals', () => {
    const { d } = ask(query(COMPONENT));
    expect(d.rcode).toBe('NOERROR');
    expect(d.flag_qr && d.flag_aa).toBe(true);
    expect(d.flag_tc).toBe(false);
    expect(d.answers.map((a) => (a.type === 'SRV' ? [a.name, a.ttl, a.data.priority, a.data.weight, a.data.port, a.data.target] : a.type))).toEqual([
      [COMPONENT, 5, 0, 0, 5222, `cb01.${DOMAIN}`],
      [COMPONENT, 5, 0, 0, 5222, `cb02.${DOMAIN}`],
      [COMPONENT, 5, 0, 0, 5222, `cb03.${DOMAIN}`],
    ]);
    expect(extras(d).map((a) => [a.name, a.type, a.ttl, a.data])).toEqual([
      [`cb01.${DOMAIN}`, 'A', 5, '10.0.0.2'],
      [`cb02.${DOMAIN}`, 'A', 5, '10.0.0.3'],
      [`cb03.${DOMAIN}`, 'AAAA', 5, '::1'],
    ]);
  });

  it('answers _xmpp-server._tcp with the federation ports', () => {
    const { d } = ask(query(SERVER));
    expect(d.answers.map((a) => (a.type === 'SRV' ? a.data.port : 0))).toEqual([5269, 5269, 5269]);
  });

  it('uses the target, priority and weight an operator set, and leaves out addresses of targets outside the domain', () => {
    const settings = { ...SETTINGS, records: { m01: { target: 'xmpp1.elsewhere.test', priority: 10, weight: 60 } } };
    const zone = buildZone(DOMAIN, settings, [member(1), member(2)]);
    const { d } = ask(query(COMPONENT), zone);
    expect(d.answers.map((a) => (a.type === 'SRV' ? [a.data.priority, a.data.weight, a.data.target] : 0))).toEqual([
      [10, 60, 'xmpp1.elsewhere.test'],
      [0, 0, `cb02.${DOMAIN}`],
    ]);
    expect(extras(d).map((a) => a.name)).toEqual([`cb02.${DOMAIN}`]);
  });

  it('answers NODATA for a service with no live member: the name exists, it has no target right now', () => {
    const zone = buildZone(DOMAIN, SETTINGS, [member(1, { live: false })]);
    const { d } = ask(query(COMPONENT), zone);
    expect([d.rcode, d.flag_aa, d.answers.length, d.authorities.map((a) => a.type)]).toEqual(['NOERROR', true, 0, ['SOA']]);
  });
});

describe('addresses of the targets', () => {
  it('answers A for a host with an IPv4 address', () => {
    const { d } = ask(query(`cb01.${DOMAIN}`, { type: 'A' }));
    expect(d.answers.map((a) => [a.name, a.type, a.ttl, a.data])).toEqual([[`cb01.${DOMAIN}`, 'A', 5, '10.0.0.2']]);
  });

  it('answers AAAA for a host with an IPv6 address', () => {
    const { d } = ask(query(`cb03.${DOMAIN}`, { type: 'AAAA' }));
    expect(d.answers.map((a) => [a.type, a.data])).toEqual([['AAAA', '::1']]);
  });

  it('answers NODATA for AAAA of a host that has only IPv4 (RFC 2308 §2.2)', () => {
    const { d } = ask(query(`cb01.${DOMAIN}`, { type: 'AAAA' }));
    expect([d.rcode, d.flag_aa, d.answers.length]).toEqual(['NOERROR', true, 0]);
    expect(d.authorities.map((a) => [a.name, a.type, a.ttl])).toEqual([[DOMAIN, 'SOA', 5]]);
  });

  it('lists every address of a target two members share', () => {
    const settings = { ...SETTINGS, records: { m01: { target: `xmpp.${DOMAIN}`, priority: 0, weight: 0 }, m02: { target: `xmpp.${DOMAIN}`, priority: 0, weight: 0 } } };
    const zone = buildZone(DOMAIN, settings, [member(1), member(2)]);
    expect(ask(query(`xmpp.${DOMAIN}`, { type: 'A' }), zone).d.answers.map((a) => a.data)).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(extras(ask(query(COMPONENT), zone).d)).toHaveLength(2);
  });
});

describe('the apex', () => {
  it('answers SOA with a synthesized record whose negative TTL is the zone TTL', () => {
    const { d } = ask(query(DOMAIN, { type: 'SOA' }));
    const soa = d.answers[0];
    if (soa?.type !== 'SOA') throw new Error('no SOA');
    expect([soa.name, soa.ttl, soa.data.mname, soa.data.rname, soa.data.minimum]).toEqual([DOMAIN, 5, `ns.${DOMAIN}`, `hostmaster.${DOMAIN}`, 5]);
    expect(soa.data.refresh! > 0 && soa.data.retry! > 0 && soa.data.expire! > soa.data.refresh!).toBe(true);
  });

  it('changes the serial when the zone changes, and not otherwise', () => {
    const serial = (zone = smallZone()) => {
      const soa = ask(query(DOMAIN, { type: 'SOA' }), zone).d.answers[0];
      return soa?.type === 'SOA' ? soa.data.serial : undefined;
    };
    expect(serial()).toBe(serial(smallZone()));
    expect(serial(zoneOf(2))).not.toBe(serial(zoneOf(3)));
  });

  it('serves no NS (answers NODATA): delegation and its glue belong to the parent zone', () => {
    const { d } = ask(query(DOMAIN, { type: 'NS' }));
    expect([d.rcode, d.flag_aa, d.answers.length, d.authorities[0]?.type]).toEqual(['NOERROR', true, 0, 'SOA']);
  });
});

describe('names that do not exist, and types that do not (RFC 2308, RFC 8020)', () => {
  it('answers NXDOMAIN with the SOA in the authority section for a name under the domain', () => {
    const { d } = ask(query(`nope.${DOMAIN}`, { type: 'A' }));
    expect([d.rcode, d.flag_aa, d.answers.length]).toEqual(['NXDOMAIN', true, 0]);
    expect(d.authorities.map((a) => [a.name, a.type, a.ttl])).toEqual([[DOMAIN, 'SOA', 5]]);
  });

  it('answers NXDOMAIN for a member the cluster cannot reach', () => {
    expect(ask(query(`cb04.${DOMAIN}`, { type: 'A' })).d.rcode).toBe('NXDOMAIN');
  });

  it('answers NODATA for TXT at the SRV name', () => {
    const { d } = ask(query(COMPONENT, { type: 'TXT' }));
    expect([d.rcode, d.answers.length, d.authorities[0]?.type]).toEqual(['NOERROR', 0, 'SOA']);
  });

  it('answers NODATA, not NXDOMAIN, for _tcp.<domain>, which exists because names exist below it', () => {
    expect(ask(query(`_tcp.${DOMAIN}`, { type: 'SRV' })).d.rcode).toBe('NOERROR');
  });
});

describe('REFUSED for what we do not serve', () => {
  it('refuses a name outside the domain, without AA', () => {
    for (const name of ['example.org', `x${DOMAIN}`, 'test', '.']) {
      const { d } = ask(query(name, { type: 'A' }));
      expect([name, d.rcode, d.flag_aa, d.answers.length]).toEqual([name, 'REFUSED', false, 0]);
    }
  });

  it('refuses everything when the responder has no zone', () => {
    const response = answerQuery(query(COMPONENT), null, 'udp');
    expect(decode(response!).rcode).toBe('REFUSED');
  });

  it('refuses classes other than IN, and zone transfers', () => {
    expect(ask(query(COMPONENT, { klass: 'CH' })).d.rcode).toBe('REFUSED');
    expect(ask(query(COMPONENT, { klass: 'ANY' })).d.rcode).toBe('REFUSED');
    expect(ask(query(DOMAIN, { type: 'AXFR' }), smallZone(), 'tcp').d.rcode).toBe('REFUSED');
  });

  it('refuses a name whose label holds a dot, which no zone name can spell', () => {
    const q = rawQuery([Buffer.from('cb01.example'), Buffer.from('test')], 1, 1);
    const { response, d } = ask(q);
    expect(d.rcode).toBe('REFUSED');
    expect(response.subarray(12)).toEqual(q.subarray(12));
  });
});

describe('TTL', () => {
  it('gives every record the zone TTL, and the SOA minimum too (RFC 2308 §4)', () => {
    const zone = zoneOf(3, { ...SETTINGS, ttl: 77 });
    const srv = ask(query(COMPONENT), zone).d;
    const negative = ask(query(`nope.${DOMAIN}`, { type: 'A' }), zone).d;
    const records = [...srv.answers, ...extras(srv), ...negative.authorities, ...ask(query(`cb01.${DOMAIN}`, { type: 'A' }), zone).d.answers];
    expect(records.length).toBe(8);
    expect(records.map((r) => r.ttl)).toEqual(records.map(() => 77));
    expect(negative.authorities[0]?.data.minimum).toBe(77);
  });
});

describe('the header and the question (RFC 1035 §4.1)', () => {
  it('keeps the id, echoes the question as asked and copies RD', () => {
    for (const rd of [true, false]) {
      const q = query('_XMPP-Component._TCP.Example.TEST', { id: 0xbeef, rd });
      const { response, d } = ask(q);
      expect([d.id, d.flag_qr, d.flag_rd, d.flag_ra, d.opcode]).toEqual([0xbeef, true, rd, false, 'QUERY']);
      expect(response.subarray(12, q.length)).toEqual(q.subarray(12));
      expect(d.questions).toEqual([{ name: '_XMPP-Component._TCP.Example.TEST', type: 'SRV', class: 'IN' }]);
    }
  });

  it('matches names without regard to case and answers with the owner name as asked', () => {
    const { d } = ask(query('CB01.example.TEST', { type: 'A' }));
    expect(d.answers.map((a) => [a.name, a.data])).toEqual([['CB01.example.TEST', '10.0.0.2']]);
  });

  it('answers ANY with one synthesized HINFO (RFC 8482 §4.2), never every record set', () => {
    const { d } = ask(query(COMPONENT, { type: 'ANY' }), zoneOf(30));
    expect(d.answers.map((a) => [a.type, a.data])).toEqual([['HINFO', { cpu: 'RFC8482', os: '' }]]);
    expect(ask(query(`_tcp.${DOMAIN}`, { type: 'ANY' })).d.answers).toHaveLength(0);
    expect(ask(query(`nope.${DOMAIN}`, { type: 'ANY' })).d.rcode).toBe('NXDOMAIN');
  });
});

describe('malformed packets and other opcodes', () => {
  it('drops anything shorter than a header', () => {
    for (const len of [0, 1, 11]) expect(answerQuery(Buffer.alloc(len, 0x00), smallZone(), 'udp')).toBeNull();
  });

  it('drops responses, so no two servers answer each other for ever', () => {
    const response = answerQuery(query(COMPONENT), smallZone(), 'udp')!;
    expect(answerQuery(response, smallZone(), 'udp')).toBeNull();
    const bare = Buffer.alloc(12);
    bare.writeUInt16BE(0x8000, 2);
    expect(answerQuery(bare, smallZone(), 'tcp')).toBeNull();
  });

  it('answers FORMERR with the id when the question is cut short', () => {
    const q = query(COMPONENT, { id: 0x0a0b });
    for (const cut of [12, 20, q.length - 1]) {
      const { response, d } = ask(q.subarray(0, cut));
      expect([d.id, d.rcode, d.flag_qr, d.questions.length]).toEqual([0x0a0b, 'FORMERR', true, 0]);
      expect(response.length).toBe(12);
    }
  });

  it('answers FORMERR unless there is exactly one question', () => {
    const none = Buffer.alloc(12);
    none.writeUInt16BE(7, 0);
    expect(ask(none).d.rcode).toBe('FORMERR');
    const two = Buffer.from(query(COMPONENT));
    two.writeUInt16BE(2, 4);
    const both = Buffer.concat([two, query(SERVER).subarray(12)]);
    expect(ask(both).d.rcode).toBe('FORMERR');
  });

  it('answers FORMERR for a compression pointer in the question, which has nothing before it to point to', () => {
    const q = Buffer.concat([rawQuery([], 1, 1).subarray(0, 12), Buffer.from([0xc0, 0x04, 0, 1, 0, 1])]);
    expect(ask(q).d.rcode).toBe('FORMERR');
  });

  it('answers FORMERR, with an OPT record, for two OPT records (RFC 6891 §6.1.1, §7)', () => {
    const q = Buffer.from(query(COMPONENT, { edns: 1232 }));
    const optRecord = q.subarray(q.length - 11);
    q.writeUInt16BE(2, 10);
    const { d } = ask(Buffer.concat([q, optRecord]));
    expect([d.rcode, opt(d)?.type]).toEqual(['FORMERR', 'OPT']);
  });

  it('answers NOTIMP for opcodes other than QUERY, echoing the opcode', () => {
    for (const opcode of [1, 2, 4, 5]) {
      const q = Buffer.from(query(COMPONENT));
      q.writeUInt16BE((opcode << 11) | 0x0100, 2);
      const { response, d } = ask(q);
      expect([d.rcode, d.flag_qr, d.flag_aa]).toEqual(['NOTIMP', true, false]);
      expect((response.readUInt16BE(2) >> 11) & 0xf).toBe(opcode);
    }
  });

  it('never throws on random bytes, and answers only as a response within 512 bytes', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    let answered = 0;
    const zone = zoneOf(30);
    for (let i = 0; i < 2000; i++) {
      const packet = Buffer.from(Array.from({ length: Math.floor(random() * 80) }, () => Math.floor(random() * 256)));
      const response = answerQuery(packet, zone, 'udp');
      if (!response) continue;
      answered++;
      expect(response.readUInt16BE(2) & 0x8000).toBe(0x8000);
      expect(response.readUInt16BE(0)).toBe(packet.readUInt16BE(0));
      expect(response.length).toBeLessThanOrEqual(512);
    }
    expect(answered).toBeGreaterThan(0);
  });
});

describe('size limits and truncation (RFC 1035 §4.2.1, RFC 2181 §9, RFC 6891 §6.2)', () => {
  it('sets TC with the question and no records when 30 SRV records do not fit in 512 bytes', () => {
    const q = query(COMPONENT);
    const { response, d } = ask(q, zoneOf(30));
    expect([d.rcode, d.flag_tc, d.flag_aa, d.answers.length, d.additionals.length, d.authorities.length]).toEqual(['NOERROR', true, true, 0, 0, 0]);
    expect(d.questions[0]?.name).toBe(COMPONENT);
    expect(response.length).toBeLessThanOrEqual(512);
  });

  it('answers all 30 over TCP, with every target address', () => {
    const { d } = ask(query(COMPONENT), zoneOf(30), 'tcp');
    expect([d.flag_tc, d.answers.length, extras(d).length]).toEqual([false, 30, 30]);
  });

  it('answers in full within an EDNS buffer when the answer fits our 1232 bytes', () => {
    const { response, d } = ask(query(COMPONENT, { edns: 4096 }), zoneOf(10));
    expect([d.flag_tc, d.answers.length, extras(d).length]).toEqual([false, 10, 10]);
    expect(opt(d)?.udpPayloadSize).toBe(1232);
    expect(response.length).toBeGreaterThan(512);
    expect(response.length).toBeLessThanOrEqual(1232);
    expect(ask(query(COMPONENT), zoneOf(10)).d.flag_tc).toBe(true);
  });

  it('truncates within 1232 bytes however large a buffer is advertised', () => {
    const { response, d } = ask(query(COMPONENT, { edns: 65535 }), zoneOf(30));
    expect([d.flag_tc, d.answers.length, opt(d)?.type]).toEqual([true, 0, 'OPT']);
    expect(response.length).toBeLessThanOrEqual(1232);
  });

  it('treats an advertised buffer under 512 as 512 (RFC 6891 §6.2.5)', () => {
    const { response, d } = ask(query(COMPONENT, { edns: 100 }), zoneOf(5));
    expect([d.flag_tc, d.answers.length]).toEqual([false, 5]);
    expect(response.length).toBeGreaterThan(100);
    expect(response.length).toBeLessThanOrEqual(512);
  });

  it('leaves out additional addresses that do not fit, without setting TC', () => {
    const { response, d } = ask(query(COMPONENT), zoneOf(6));
    expect([d.flag_tc, d.answers.length]).toEqual([false, 6]);
    expect(extras(d).length).toBeLessThan(6);
    expect(response.length).toBeLessThanOrEqual(512);
  });

  it('never sends more than 512 bytes over UDP without EDNS, whatever is asked', () => {
    const zone = zoneOf(30);
    const names = [COMPONENT, SERVER, DOMAIN, `cb01.${DOMAIN}`, `nope.${DOMAIN}`, 'example.org', 'a'.repeat(63) + '.' + 'b'.repeat(63) + '.' + 'c'.repeat(63) + '.' + DOMAIN];
    for (const name of names) {
      for (const type of ['SRV', 'A', 'AAAA', 'SOA', 'ANY', 'TXT', 'NS'] as const) {
        expect(answerQuery(query(name, { type }), zone, 'udp')!.length).toBeLessThanOrEqual(512);
      }
    }
  });
});

describe('EDNS (RFC 6891)', () => {
  it('answers with an OPT record only when the query had one, copying DO (RFC 3225 §3)', () => {
    expect(opt(ask(query(COMPONENT)).d)).toBeUndefined();
    const withDo = opt(ask(query(COMPONENT, { edns: 1232, dnssecOk: true })).d);
    expect([withDo?.ednsVersion, withDo?.flag_do]).toEqual([0, true]);
    expect(opt(ask(query(COMPONENT, { edns: 1232 })).d)?.flag_do).toBe(false);
  });

  it('answers BADVERS to an EDNS version it does not speak (RFC 6891 §6.1.3)', () => {
    const { d } = ask(query(COMPONENT, { edns: 1232, ednsVersion: 1 }));
    const o = opt(d);
    // BADVERS is 16: 0 in the header's four bits, 1 in the OPT's upper eight.
    expect([d.rcode, o?.extendedRcode, o?.ednsVersion, d.answers.length]).toEqual(['NOERROR', 1, 0, 0]);
  });
});

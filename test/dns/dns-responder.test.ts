import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsResponder, type DnsListening } from '../../src/dns/dns-responder.js';
import { silentLogger } from '../../src/observability/logger.js';
import { buildZone } from '../../src/dns/zone.js';
import { dig } from './dig.js';
import { COMPONENT, DOMAIN, member, SERVER, SETTINGS, smallZone, zoneOf } from './dns-fixtures.js';

/** The responder as `dig` sees it, over UDP and over TCP, on 127.0.1.1. */

const ADDRESS = '127.0.1.1';

let responder: DnsResponder;
let server: DnsListening;

beforeAll(async () => {
  responder = new DnsResponder({ log: silentLogger() });
  [server] = (await responder.listen([{ address: ADDRESS, port: 0 }])) as [DnsListening];
  responder.setZone(smallZone());
});

afterAll(() => responder.close());

describe.each([
  { transport: 'UDP', flags: [] },
  { transport: 'TCP', flags: ['+tcp'] },
])('dig over $transport', ({ transport, flags }) => {
  it('gets one SRV record per live member for _xmpp-component._tcp, with the targets\' addresses', async () => {
    const r = await dig(server, [...flags, 'SRV', COMPONENT]);
    expect([r.status, r.transport, r.flags]).toEqual(['NOERROR', transport, ['qr', 'aa']]);
    expect(r.answer).toEqual([1, 2, 3].map((i) => [`${COMPONENT}.`, '5', 'IN', 'SRV', '0', '0', '5222', `cb0${i}.${DOMAIN}.`]));
    expect(r.additional).toEqual([
      [`cb01.${DOMAIN}.`, '5', 'IN', 'A', '10.0.0.2'],
      [`cb02.${DOMAIN}.`, '5', 'IN', 'A', '10.0.0.3'],
      [`cb03.${DOMAIN}.`, '5', 'IN', 'AAAA', '::1'],
    ]);
  });

  it('gets the federation port for _xmpp-server._tcp', async () => {
    const r = await dig(server, [...flags, 'SRV', SERVER]);
    expect(r.answer.map((a) => a[6])).toEqual(['5269', '5269', '5269']);
  });

  it('gets A for an IPv4 target and AAAA for an IPv6 one', async () => {
    expect((await dig(server, [...flags, 'A', `cb01.${DOMAIN}`])).answer).toEqual([[`cb01.${DOMAIN}.`, '5', 'IN', 'A', '10.0.0.2']]);
    expect((await dig(server, [...flags, 'AAAA', `cb03.${DOMAIN}`])).answer).toEqual([[`cb03.${DOMAIN}.`, '5', 'IN', 'AAAA', '::1']]);
  });

  it('gets NXDOMAIN with the SOA for a name under the domain that does not exist', async () => {
    const r = await dig(server, [...flags, 'A', `nope.${DOMAIN}`]);
    expect([r.status, r.flags, r.answer]).toEqual(['NXDOMAIN', ['qr', 'aa'], []]);
    expect(r.authority.map((a) => a.slice(0, 5))).toEqual([[`${DOMAIN}.`, '5', 'IN', 'SOA', `ns.${DOMAIN}.`]]);
  });

  it('gets NODATA with the SOA for a type the name does not have', async () => {
    for (const [type, name] of [['AAAA', `cb01.${DOMAIN}`], ['TXT', COMPONENT]]) {
      const r = await dig(server, [...flags, type!, name!]);
      expect([type, r.status, r.flags, r.answer, r.authority[0]?.[3]]).toEqual([type, 'NOERROR', ['qr', 'aa'], [], 'SOA']);
    }
  });

  it('gets REFUSED, without AA, for a name outside the domain', async () => {
    const r = await dig(server, [...flags, 'A', 'www.example.org']);
    expect([r.status, r.flags, r.answer]).toEqual(['REFUSED', ['qr'], []]);
  });

  it('gets the SOA of the apex', async () => {
    const r = await dig(server, [...flags, 'SOA', DOMAIN]);
    expect(r.answer.map((a) => [a[0], a[3], a[4], a[5], a[10]])).toEqual([[`${DOMAIN}.`, 'SOA', `ns.${DOMAIN}.`, `hostmaster.${DOMAIN}.`, '5']]);
  });

  it('matches names without regard to case', async () => {
    const r = await dig(server, [...flags, 'SRV', '_XMPP-Component._TCP.Example.TEST']);
    expect([r.status, r.answer.length, r.answer[0]?.[0]]).toEqual(['NOERROR', 3, '_XMPP-Component._TCP.Example.TEST.']);
  });
});

describe('a zone too large for 512 bytes', () => {
  let big: DnsResponder;
  let bigServer: DnsListening;

  beforeAll(async () => {
    big = new DnsResponder({ log: silentLogger() });
    [bigServer] = (await big.listen([{ address: '127.0.1.5', port: 0 }])) as [DnsListening];
    big.setZone(zoneOf(30));
  });

  afterAll(() => big.close());

  it('sets TC over UDP without EDNS, with no records', async () => {
    const r = await dig(bigServer, ['+noedns', '+ignore', 'SRV', COMPONENT]);
    expect([r.status, r.transport, r.flags, r.answer, r.additional]).toEqual(['NOERROR', 'UDP', ['qr', 'aa', 'tc'], [], []]);
  });

  it('makes dig retry over TCP, which gets every record', async () => {
    const r = await dig(bigServer, ['+noedns', 'SRV', COMPONENT]);
    expect(r.text).toContain('Truncated, retrying in TCP mode');
    expect([r.transport, r.flags, r.answer.length, r.additional.length]).toEqual(['TCP', ['qr', 'aa'], 30, 30]);
  });

  it('answers in full over UDP with EDNS when it fits the 1232 bytes we allow', async () => {
    big.setZone(zoneOf(10));
    const r = await dig(bigServer, ['+bufsize=4096', 'SRV', COMPONENT]);
    expect([r.transport, r.flags, r.answer.length, r.additional.length]).toEqual(['UDP', ['qr', 'aa'], 10, 10]);
    expect(r.text).toContain('udp: 1232');
    const plain = await dig(bigServer, ['+noedns', '+ignore', 'SRV', COMPONENT]);
    expect(plain.flags).toContain('tc');
  });
});

describe('setZone', () => {
  it('changes the answers at once: a member removed is gone from the next answer, and back with the next zone', async () => {
    const members = [member(1), member(2), member(3)];
    responder.setZone(buildZone(DOMAIN, SETTINGS, members));
    expect((await dig(server, ['SRV', COMPONENT])).answer).toHaveLength(3);

    responder.setZone(buildZone(DOMAIN, SETTINGS, [members[0]!, { ...members[1]!, live: false }, members[2]!]));
    const without = await dig(server, ['SRV', COMPONENT]);
    expect(without.answer.map((a) => a[7])).toEqual([`cb01.${DOMAIN}.`, `cb03.${DOMAIN}.`]);
    expect((await dig(server, ['A', `cb02.${DOMAIN}`])).status).toBe('NXDOMAIN');

    responder.setZone(buildZone(DOMAIN, SETTINGS, members));
    expect((await dig(server, ['SRV', COMPONENT])).answer).toHaveLength(3);
    responder.setZone(smallZone());
  });

  it('refuses every query with no zone (the responder disabled)', async () => {
    responder.setZone(null);
    const r = await dig(server, ['SRV', COMPONENT]);
    expect([r.status, r.flags]).toEqual(['REFUSED', ['qr']]);
    responder.setZone(smallZone());
    expect((await dig(server, ['SRV', COMPONENT])).status).toBe('NOERROR');
  });
});

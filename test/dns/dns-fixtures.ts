import dnsPacket, { type OptAnswer, type Packet, type Question } from 'dns-packet';
import { buildZone, type DnsSettings, type DnsZone, type ZoneMember } from '../../src/dns/zone.js';

/** Zones and queries for the responder's tests. */

export const DOMAIN = 'example.test';
export const COMPONENT = `_xmpp-component._tcp.${DOMAIN}`;
export const SERVER = `_xmpp-server._tcp.${DOMAIN}`;

export function member(i: number, overrides: Partial<ZoneMember> = {}): ZoneMember {
  const n = String(i).padStart(2, '0');
  return { id: `m${n}`, name: `cb${n}`, address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`, componentPort: 5222, serverPort: 5269, live: true, ...overrides };
}

export const SETTINGS: DnsSettings = { enabled: true, ttl: 5, records: {} };

/** `count` live members cb01..cbNN with IPv4 addresses. */
export function zoneOf(count: number, settings: DnsSettings = SETTINGS): DnsZone {
  return buildZone(DOMAIN, settings, Array.from({ length: count }, (_, i) => member(i + 1)));
}

/** Three members; cb03 has only an IPv6 address; one member is down. */
export function smallZone(): DnsZone {
  return buildZone(DOMAIN, SETTINGS, [
    member(1),
    member(2),
    member(3, { address: '::1' }),
    member(4, { live: false }),
  ]);
}

export interface QueryOptions {
  id?: number;
  /** dns-packet encodes ANY (255) though its types leave it out. */
  type?: Question['type'] | 'ANY';
  klass?: Question['class'];
  rd?: boolean;
  /** Advertise EDNS with this UDP payload size. */
  edns?: number;
  ednsVersion?: number;
  dnssecOk?: boolean;
}

export function query(name: string, options: QueryOptions = {}): Buffer {
  const packet: Packet = {
    type: 'query',
    id: options.id ?? 0x1234,
    flags: options.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: (options.type ?? 'SRV') as Question['type'], class: options.klass ?? 'IN' }],
  };
  if (options.edns !== undefined) {
    packet.additionals = [
      {
        name: '.',
        type: 'OPT',
        udpPayloadSize: options.edns,
        extendedRcode: 0,
        ednsVersion: options.ednsVersion ?? 0,
        flags: options.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
        flag_do: options.dnssecOk ?? false,
        options: [],
      },
    ];
  }
  return dnsPacket.encode(packet);
}

/** A query's question section built by hand: type and class as numbers, labels as raw bytes. */
export function rawQuery(labels: Buffer[], type: number, klass: number, id = 0x4242, flags = 0x0100): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  const name = Buffer.concat([...labels.flatMap((l) => [Buffer.from([l.length]), l]), Buffer.from([0])]);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(klass, 2);
  return Buffer.concat([header, name, tail]);
}

export interface Decoded {
  id: number;
  rcode: string;
  opcode: string;
  flag_qr: boolean;
  flag_aa: boolean;
  flag_tc: boolean;
  flag_rd: boolean;
  flag_ra: boolean;
  questions: Question[];
  answers: Rec[];
  authorities: Rec[];
  additionals: Rec[];
}

/**
 * A decoded record, loosely typed: dns-packet's Answer union puts OPT in
 * with the rest, so every test would narrow before reading `data`.
 */
export interface Rec {
  name: string;
  type: string;
  ttl: number;
  class: string;
  data: any;
}

export function decode(buf: Buffer): Decoded {
  return dnsPacket.decode(buf) as unknown as Decoded;
}

/** The additional records other than OPT. */
export function extras(d: Decoded): Rec[] {
  return d.additionals.filter((a) => a.type !== 'OPT');
}

export function opt(d: Decoded): OptAnswer | undefined {
  return d.additionals.find((a) => a.type === 'OPT') as unknown as OptAnswer | undefined;
}

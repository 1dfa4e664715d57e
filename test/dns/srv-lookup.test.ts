import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mulberry32 } from '../../cluster/raft/prng.js';
import { createResolver, lookupSrv, parseDnsServer, SrvLookupError, MAX_RERESOLVE_SECONDS, MIN_RERESOLVE_SECONDS } from '../../src/dns/srv-lookup.js';
import { startBind, type BindServer } from '../helpers/bind-server.js';

/** A call bridge's SRV lookup against a real BIND serving test zones. */

const ADDRESS = '127.0.2.1';

const ZONE = `$ORIGIN example.test.
$TTL 60
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
@ IN NS ns1
ns1 IN A ${ADDRESS}
_xmpp-component._tcp IN SRV 10 0 5223 node2
_xmpp-component._tcp IN SRV 0 0 5223 node1
_xmpp-component._tcp IN SRV 20 0 5222 node2
node1 30 IN A 127.0.2.5
node2 600 IN A 127.0.2.6
node2 600 IN AAAA ::1
; SRV records whose targets have no address records: one does not exist, one has only TXT.
_xmpp-component._tcp.noaddr IN SRV 0 0 5223 ghost.noaddr
_xmpp-component._tcp.noaddr IN SRV 1 0 5223 txtonly.noaddr
txtonly.noaddr IN TXT "no address here"
; Some targets without addresses among good ones.
_xmpp-component._tcp.partial IN SRV 0 0 5223 ghost.partial
_xmpp-component._tcp.partial IN SRV 1 0 5223 node1
; RFC 2782: "." = the service is decidedly not available.
_xmpp-component._tcp.closed IN SRV 0 0 0 .
; A name with no SRV.
nosrv IN A 127.0.2.7
; TTLs outside the re-resolve bounds.
_xmpp-component._tcp.fast IN SRV 0 0 5223 fast
fast 0 IN A 127.0.2.8
_xmpp-component._tcp.slow IN SRV 0 0 5223 slow
slow 86400 IN A 127.0.2.9
`;

let bind: BindServer;
beforeAll(async () => {
  bind = await startBind({ origin: 'example.test', zoneText: ZONE, address: ADDRESS });
});
afterAll(async () => {
  await bind?.stop();
});

function lookup(domain: string, seed = 1, now = () => 1_000_000) {
  const prng = new Mulberry32(seed);
  return lookupSrv(domain, { resolver: createResolver({ servers: [bind.server] }), random: () => prng.next(), now });
}

async function failure(p: Promise<unknown>): Promise<SrvLookupError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SrvLookupError);
  return err as SrvLookupError;
}

describe('SRV lookup against BIND', () => {
  it('orders targets by priority and gives each its A and AAAA addresses', async () => {
    const r = await lookup('example.test');
    expect(r.name).toBe('_xmpp-component._tcp.example.test');
    expect(r.targets.map((t) => [t.priority, t.target, t.port])).toEqual([
      [0, 'node1.example.test', 5223],
      [10, 'node2.example.test', 5223],
      [20, 'node2.example.test', 5222],
    ]);
    expect(r.targets[0]!.addresses).toEqual(['127.0.2.5']);
    expect(r.targets[1]!.addresses).toEqual(['127.0.2.6', '::1']);
    expect(r.unresolved).toEqual([]);
  });

  it('looks again after the smallest address TTL', async () => {
    const r = await lookup('example.test');
    expect(r.ttlSeconds).toBe(30);
    expect(r.expiresAt).toBe(1_000_000 + 30_000);
  });

  it(`keeps the re-resolve time within [${MIN_RERESOLVE_SECONDS} s, ${MAX_RERESOLVE_SECONDS} s]`, async () => {
    expect((await lookup('fast.example.test')).ttlSeconds).toBe(MIN_RERESOLVE_SECONDS);
    expect((await lookup('slow.example.test')).ttlSeconds).toBe(MAX_RERESOLVE_SECONDS);
  });

  it('leaves out targets without addresses and names them', async () => {
    const r = await lookup('partial.example.test');
    expect(r.targets.map((t) => t.target)).toEqual(['node1.example.test']);
    expect(r.unresolved).toEqual(['ghost.partial.example.test']);
  });

  it('says "No DNS A or AAAA records for ..." when no target has an address, a dns error', async () => {
    const err = await failure(lookup('noaddr.example.test'));
    expect(err.condition).toBe('no-address-records');
    expect(err.message).toBe('No DNS A or AAAA records for _xmpp-component._tcp.noaddr.example.test');
    expect(err.failureReason).toBe('dns error');
  });

  it('a domain without SRV records is a dns error', async () => {
    const err = await failure(lookup('nosrv.example.test'));
    expect(err.condition).toBe('no-srv-records');
    expect(['ENOTFOUND', 'ENODATA']).toContain(err.code);
    expect(err.failureReason).toBe('dns error');
    const missing = await failure(lookup('nowhere.example.test'));
    expect(missing.code).toBe('ENOTFOUND');
  });

  it('a single "." target means the service is not available (RFC 2782)', async () => {
    const err = await failure(lookup('closed.example.test'));
    expect(err.condition).toBe('service-not-available');
    expect(err.failureReason).toBe('dns error');
  });

  it('a resolver nobody answers on is a dns error, within the resolver timeout', async () => {
    // A UDP socket that reads and never answers: each try times out.
    const silent: Socket = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, ADDRESS, resolve));
    try {
      const resolver = createResolver({ servers: [`${ADDRESS}:${silent.address().port}`], timeoutMs: 200, tries: 1 });
      const err = await failure(lookupSrv('example.test', { resolver }));
      expect(err.condition).toBe('resolver-failure');
      expect(err.code).toBe('ETIMEOUT');
      expect(err.failureReason).toBe('dns error');
    } finally {
      silent.close();
    }
  });

  it('a resolver address where nothing listens is a dns error', async () => {
    const probe = createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, ADDRESS, resolve));
    const port = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const resolver = createResolver({ servers: [`${ADDRESS}:${port}`], timeoutMs: 500, tries: 1 });
    const err = await failure(lookupSrv('example.test', { resolver }));
    expect(err.condition).toBe('resolver-failure');
    expect(['ECONNREFUSED', 'ETIMEOUT']).toContain(err.code);
    expect(err.failureReason).toBe('dns error');
  });
});

describe('--dns <addr>[:<port>]', () => {
  it('takes IPv4 and IPv6 with or without a port', () => {
    expect(parseDnsServer('127.0.2.1')).toBe('127.0.2.1');
    expect(parseDnsServer('127.0.2.1:5300')).toBe('127.0.2.1:5300');
    expect(parseDnsServer('::1')).toBe('::1');
    expect(parseDnsServer('[::1]:5300')).toBe('[::1]:5300');
  });

  it('refuses names and bad ports, saying what it expects', () => {
    for (const bad of ['dns.example.test', '127.0.2.1:0', '127.0.2.1:70000', '127.0.2.1:', '[::1]:x']) {
      expect(() => parseDnsServer(bad)).toThrow(/expected an IP address with an optional port/);
    }
  });
});

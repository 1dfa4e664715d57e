import { createSocket, type Socket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mulberry32 } from '../../cluster/raft/prng.js';
import { createResolver } from '../../src/dns/srv-lookup.js';
import type { StaticRoute } from '../../src/s2s/federation-policy.js';
import { DEFAULT_S2S_PORT, parseTarget, peerAddresses, type PeerAddresses } from '../../src/s2s/peer-addresses.js';
import { startBind, type BindServer } from '../helpers/bind-server.js';

/**
 * Finding a federation peer against a real BIND: static routes first and
 * only, then `_xmpp-server._tcp` SRV in RFC 2782 order, then the domain's
 * own A/AAAA on 5269, with RFC 6120 §3.2's rules for when not to fall back.
 */

const BIND_ADDRESS = '127.0.5.1';
const FLAKY_ADDRESS = '127.0.5.2';

const ZONE = `$ORIGIN peers.test.
$TTL 60
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
@ IN NS ns1
ns1 IN A ${BIND_ADDRESS}
; SRV, given out of order; the domain's own A must not be used when SRV answers.
_xmpp-server._tcp.srv IN SRV 10 0 5270 b.srv
_xmpp-server._tcp.srv IN SRV 0 0 5269 a.srv
a.srv IN A 192.0.2.11
b.srv IN A 192.0.2.12
b.srv IN AAAA 2001:db8::12
srv IN A 192.0.2.99
; Two SRV targets naming the same server: one attempt.
_xmpp-server._tcp.twice IN SRV 0 0 5269 a.srv
_xmpp-server._tcp.twice IN SRV 1 0 5269 alias.twice
alias.twice IN A 192.0.2.11
; Only A and AAAA.
aonly IN A 192.0.2.13
aonly IN AAAA 2001:db8::13
; RFC 2782: "." = decidedly not available; its A must not be used.
_xmpp-server._tcp.closed IN SRV 0 0 0 .
closed IN A 192.0.2.14
; SRV targets without addresses; the domain's A must not be used (RFC 6120 §3.2.1 step 8).
_xmpp-server._tcp.ghosts IN SRV 0 0 5269 nowhere.ghosts
ghosts IN A 192.0.2.15
; A component SRV is not a server SRV: this falls back to A.
_xmpp-component._tcp.componly IN SRV 0 0 5223 componly
componly IN A 192.0.2.16
; Route hosts; "routed" also has SRV and A that routes must never fall back to.
peer1.routes IN A 192.0.2.17
peer2.routes IN A 192.0.2.18
peer2.routes IN AAAA 2001:db8::18
_xmpp-server._tcp.routed IN SRV 0 0 5269 a.srv
routed IN A 192.0.2.19
; nothing.peers.test: no records at all.
`;

let bind: BindServer;
beforeAll(async () => {
  bind = await startBind({ origin: 'peers.test', zoneText: ZONE, address: BIND_ADDRESS });
});
afterAll(async () => {
  await bind?.stop();
});

function resolver() {
  return createResolver({ servers: [bind.server], timeoutMs: 1000, tries: 2 });
}

function lookup(domain: string, routes: StaticRoute[] = [], seed = 1): Promise<PeerAddresses> {
  const prng = new Mulberry32(seed);
  return peerAddresses(domain, { resolver: resolver(), routes, random: () => prng.next() });
}

const triples = (r: PeerAddresses) => r.addresses.map((a) => `${a.via} ${a.host} ${a.address}:${a.port}`);

describe('RFC 6120 §3.2.1: _xmpp-server._tcp SRV first', () => {
  it('lists every target address in RFC 2782 priority order, IPv4 before IPv6, on the SRV ports', async () => {
    const r = await lookup('srv.peers.test');
    expect(r.source).toBe('srv');
    expect(triples(r)).toEqual(['srv a.srv.peers.test 192.0.2.11:5269', 'srv b.srv.peers.test 192.0.2.12:5270', 'srv b.srv.peers.test 2001:db8::12:5270']);
    expect(r.failure).toBeUndefined();
    expect(r.steps).toEqual([{ query: '_xmpp-server._tcp.srv.peers.test', type: 'SRV', result: 'answer' }]);
  });

  it('normalizes the domain: capitals and a trailing dot ask the same name', async () => {
    const r = await lookup('SRV.Peers.Test.');
    expect(r.domain).toBe('srv.peers.test');
    expect(triples(r)[0]).toBe('srv a.srv.peers.test 192.0.2.11:5269');
  });

  it('tries one server once, however many SRV targets name it', async () => {
    const r = await lookup('twice.peers.test');
    expect(triples(r)).toEqual(['srv a.srv.peers.test 192.0.2.11:5269']);
  });

  it('"." target: the service is not available, and the domain\'s A is not tried (RFC 2782)', async () => {
    const r = await lookup('closed.peers.test');
    expect(r.addresses).toEqual([]);
    expect(r.failure?.reason).toBe('service-not-available');
    expect(r.steps.map((s) => s.type)).toEqual(['SRV']);
  });

  it('SRV targets without addresses: no fallback to the domain\'s A (RFC 6120 §3.2.1 step 8)', async () => {
    const r = await lookup('ghosts.peers.test');
    expect(r.addresses).toEqual([]);
    expect(r.failure?.reason).toBe('srv-targets-unresolved');
    expect(r.steps.map((s) => s.type)).toEqual(['SRV']);
  });
});

describe('RFC 6120 §3.2.2: the domain\'s A/AAAA on 5269 when there is no SRV', () => {
  it('uses A then AAAA of the domain itself on 5269', async () => {
    const r = await lookup('aonly.peers.test');
    expect(r.source).toBe('fallback');
    expect(triples(r)).toEqual(['a aonly.peers.test 192.0.2.13:5269', 'a aonly.peers.test 2001:db8::13:5269']);
    expect(r.steps).toEqual([
      { query: '_xmpp-server._tcp.aonly.peers.test', type: 'SRV', result: 'none', code: 'ENOTFOUND' },
      { query: 'aonly.peers.test', type: 'A/AAAA', result: 'answer' },
    ]);
  });

  it('a component SRV is no server SRV: falls back to A', async () => {
    const r = await lookup('componly.peers.test');
    expect(triples(r)).toEqual(['a componly.peers.test 192.0.2.16:5269']);
  });

  it('a domain with neither SRV nor A/AAAA has no address: remote-server-not-found for its stanzas', async () => {
    const r = await lookup('nothing.peers.test');
    expect(r.addresses).toEqual([]);
    expect(r.failure?.reason).toBe('domain-unresolved');
    expect(r.steps.map((s) => `${s.type} ${s.result}`)).toEqual(['SRV none', 'A/AAAA none']);
  });

  it('an IP-literal domain is connected to as it is, without DNS', async () => {
    const r = await peerAddresses('192.0.2.50', { resolver: resolver() });
    expect(triples(r)).toEqual(['a 192.0.2.50 192.0.2.50:5269']);
    expect(r.steps).toEqual([]);
  });
});

describe('RFC 6120 §3.2.1 step 9: an SRV query without an answer falls back', () => {
  it('a silent DNS server: SRV and then A/AAAA are asked, both fail, no address', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, FLAKY_ADDRESS, resolve));
    try {
      const dead = createResolver({ servers: [`${FLAKY_ADDRESS}:${silent.address().port}`], timeoutMs: 200, tries: 1 });
      const r = await peerAddresses('srv.peers.test', { resolver: dead });
      expect(r.addresses).toEqual([]);
      expect(r.failure?.reason).toBe('resolver-failure');
      expect(r.steps).toEqual([
        { query: '_xmpp-server._tcp.srv.peers.test', type: 'SRV', result: 'failed', code: 'ETIMEOUT' },
        { query: 'srv.peers.test', type: 'A/AAAA', result: 'failed', code: 'ETIMEOUT' },
      ]);
    } finally {
      silent.close();
    }
  });

  it('SERVFAIL for SRV but an answer for A: the domain\'s A on 5269', async () => {
    // BIND gives no SERVFAIL for one type and answers for another on demand;
    // this server does, on a real socket, to the same c-ares client.
    const flaky = await servfailForSrv(FLAKY_ADDRESS, '192.0.2.60');
    try {
      const r = await peerAddresses('flaky.example', { resolver: createResolver({ servers: [flaky.server], timeoutMs: 1000, tries: 1 }) });
      expect(triples(r)).toEqual(['a flaky.example 192.0.2.60:5269']);
      expect(r.steps).toEqual([
        { query: '_xmpp-server._tcp.flaky.example', type: 'SRV', result: 'failed', code: 'ESERVFAIL' },
        { query: 'flaky.example', type: 'A/AAAA', result: 'answer' },
      ]);
    } finally {
      await flaky.close();
    }
  });
});

describe('static routes: first, all of them, and never DNS', () => {
  const ROUTES: StaticRoute[] = [
    { domain: 'other.example', targets: ['192.0.2.200:5269'] },
    { domain: 'Routed.Peers.Test', targets: ['127.0.5.20:5269', '[2001:db8::30]:5271', 'peer1.routes.peers.test:5270', 'peer2.routes.peers.test:5269'] },
  ];
  const ALL = [
    'route 127.0.5.20 127.0.5.20:5269',
    'route 2001:db8::30 2001:db8::30:5271',
    'route peer1.routes.peers.test 192.0.2.17:5270',
    'route peer2.routes.peers.test 192.0.2.18:5269',
    'route peer2.routes.peers.test 2001:db8::18:5269',
  ];

  it('uses every route of the domain (and no other domain\'s), not its SRV or A', async () => {
    const r = await lookup('routed.peers.test.', ROUTES);
    expect(r.source).toBe('routes');
    expect([...triples(r)].sort()).toEqual(ALL);
    expect(r.steps.every((s) => s.type === 'A/AAAA')).toBe(true);
  });

  it('keeps each route host\'s IPv4 before its IPv6 address', async () => {
    const t = triples(await lookup('routed.peers.test', ROUTES, 7));
    expect(t.indexOf('route peer2.routes.peers.test 192.0.2.18:5269')).toBe(t.indexOf('route peer2.routes.peers.test 2001:db8::18:5269') - 1);
  });

  it('orders equal-priority routes at random: the same seed replays, other seeds spread the first choice', async () => {
    const first = triples(await lookup('routed.peers.test', ROUTES, 42));
    expect(triples(await lookup('routed.peers.test', ROUTES, 42))).toEqual(first);
    const leaders = new Set<string>();
    for (let seed = 1; seed <= 24; seed++) leaders.add((await lookup('routed.peers.test', ROUTES, seed)).addresses[0]!.host);
    expect(leaders.size).toBeGreaterThanOrEqual(3);
  });

  it('never falls back to DNS when no route host resolves, even though the domain has SRV and A', async () => {
    const r = await lookup('routed.peers.test', [{ domain: 'routed.peers.test', targets: ['ghost.routes.peers.test:5269'] }]);
    expect(r.addresses).toEqual([]);
    expect(r.source).toBe('routes');
    expect(r.failure?.reason).toBe('routes-unresolved');
    expect(r.steps).toEqual([{ query: 'ghost.routes.peers.test', type: 'A/AAAA', result: 'none', code: 'ENOTFOUND' }]);
  });

  it('a route\'s IP address needs no lookup at all', async () => {
    const r = await lookup('other.example', ROUTES);
    expect(triples(r)).toEqual(['route 192.0.2.200 192.0.2.200:5269']);
    expect(r.steps).toEqual([]);
  });
});

describe('route targets', () => {
  it.each([
    ['peer.example:5270', { host: 'peer.example', port: 5270 }],
    ['Peer.Example.', { host: 'peer.example', port: DEFAULT_S2S_PORT }],
    ['192.0.2.1:5269', { host: '192.0.2.1', port: 5269 }],
    ['[2001:DB8::1]:5271', { host: '2001:db8::1', port: 5271 }],
    ['[2001:db8::1]', { host: '2001:db8::1', port: DEFAULT_S2S_PORT }],
    ['peer.example:0', undefined],
    ['peer.example:70000', undefined],
    ['2001:db8::1:5269', undefined],
    ['', undefined],
  ])('%s', (text, expected) => {
    expect(parseTarget(text)).toEqual(expected);
  });
});

/** A DNS server that answers SERVFAIL to SRV queries and `address` to A queries, NODATA to the rest. */
async function servfailForSrv(address: string, a: string): Promise<{ server: string; close(): Promise<void> }> {
  const socket: Socket = createSocket('udp4');
  socket.on('message', (msg, from) => {
    const query = dnsPacket.decode(msg);
    const question = query.questions?.[0];
    if (!question) return;
    const servfail = question.type === 'SRV';
    const answers = question.type === 'A' ? [{ type: 'A' as const, name: question.name, ttl: 60, data: a }] : [];
    const reply = dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (servfail ? 2 : 0),
      questions: [question],
      answers: servfail ? [] : answers,
    });
    socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  return { server: `${address}:${socket.address().port}`, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

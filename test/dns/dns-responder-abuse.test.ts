import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DnsResponder, type DnsListening, type DnsResponderOptions } from '../../src/dns/dns-responder.js';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { dig } from './dig.js';
import { COMPONENT, decode, query, smallZone } from './dns-fixtures.js';
import { framed, tcpClient, udpClient, type UdpClient } from './dns-sockets.js';

/**
 * What a responder does with junk, floods and odd TCP streams: it answers
 * FORMERR or nothing, limits one address without shutting out another, and
 * stays up for dig. The responder listens on 127.0.1.2; raw clients send
 * from 127.0.1.3 and 127.0.1.4.
 */

const RESPONDER = '127.0.1.2';
const CLIENT = '127.0.1.3';
const OTHER_CLIENT = '127.0.1.4';
const WAIT = { timeout: 10_000, interval: 10 };

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function start(options: Partial<DnsResponderOptions> = {}): Promise<{ responder: DnsResponder; server: DnsListening }> {
  const responder = new DnsResponder({ log: silentLogger(), ...options });
  open.push(responder);
  const [server] = await responder.listen([{ address: RESPONDER, port: 0 }]);
  responder.setZone(smallZone());
  return { responder, server: server! };
}

async function client(address = CLIENT): Promise<UdpClient> {
  const c = await udpClient(address);
  open.push(c);
  return c;
}

function ids(messages: Buffer[]): number[] {
  return messages.map((m) => m.readUInt16BE(0));
}

describe('malformed packets over UDP', () => {
  it('answers FORMERR or nothing, never a response packet, and still answers dig afterwards', async () => {
    const { responder, server } = await start();
    const c = await client();
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
    const junk = Array.from({ length: 5 }, (_, i) => {
      const packet = Buffer.from(Array.from({ length: 20 + i * 9 }, random));
      packet.writeUInt16BE(0x1000 + i, 0);
      return packet;
    });
    const headerOnly = Buffer.alloc(12);
    headerOnly.writeUInt16BE(0x7777, 0);
    headerOnly.writeUInt16BE(1, 4);
    const response = dnsPacket.encode({ type: 'response', id: 0x5555, flags: 0, questions: [{ name: COMPONENT, type: 'SRV' }] });
    const runt = Buffer.from([0x66, 0x66, 0, 0, 1]);

    for (const packet of [...junk, headerOnly, response, runt, query(COMPONENT, { id: 0x9999 })]) await c.send(packet, server);
    // The last query's answer comes after any answer to what was sent before it.
    await vi.waitFor(() => expect(ids(c.received)).toContain(0x9999), WAIT);

    const answers = c.received.map(decode);
    for (const a of answers) expect(a.flag_qr).toBe(true);
    expect(ids(c.received).every((id) => [0x1000, 0x1001, 0x1002, 0x1003, 0x1004, 0x7777, 0x9999].includes(id))).toBe(true);
    expect(answers.find((a) => a.id === 0x7777)?.rcode).toBe('FORMERR');
    expect(answers.find((a) => a.id === 0x9999)?.answers).toHaveLength(3);
    expect(responder.counters.dropped).toBeGreaterThanOrEqual(2);

    expect((await dig(server, ['SRV', COMPONENT])).status).toBe('NOERROR');
  });
});

describe('rate limiting per source address', () => {
  it('drops a flood from one address, logs it once per interval with a count, and still answers another address', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
    const { responder, server } = await start({ log, rateLimit: { queriesPerSecond: 5, burst: 20 }, rateLimitLogMs: 300 });
    const c = await client();
    const seen = () => responder.counters.answered + responder.counters.rateLimited + responder.counters.dropped;

    const total = 300;
    for (let sent = 0; sent < total; ) {
      // Batches the kernel's receive buffer holds, so none is lost before the responder counts it.
      for (let i = 0; i < 50; i++, sent++) await c.send(query(COMPONENT, { id: sent }), server);
      await vi.waitFor(() => expect(seen()).toBe(sent), WAIT);
    }
    await vi.waitFor(() => expect(c.received.length).toBe(responder.counters.answered), WAIT);

    expect(c.received.length).toBeGreaterThanOrEqual(20);
    expect(c.received.length).toBeLessThan(total);
    expect(responder.counters.rateLimited).toBe(total - c.received.length);

    const other = await dig(server, ['SRV', COMPONENT], OTHER_CLIENT);
    expect([other.status, other.answer.length]).toEqual(['NOERROR', 3]);

    const limited = () => lines.filter((l) => l.event === 'dns_rate_limited' && l.peer === CLIENT);
    await vi.waitFor(() => expect(limited().reduce((n, l) => n + (l.dropped as number), 0)).toBe(responder.counters.rateLimited), WAIT);
    expect(limited()[0]?.dropped).toBe(1);
    // One line per interval, not one per query.
    expect(limited().length).toBeLessThan(responder.counters.rateLimited / 10);
    expect(lines.some((l) => l.event === 'dns_rate_limited' && l.peer === OTHER_CLIENT)).toBe(false);
  });
});

describe('DNS over TCP (RFC 1035 §4.2.2, RFC 7766)', () => {
  it('answers two queries sent in one write, in order', async () => {
    const { server } = await start();
    const t = await tcpClient(server, CLIENT);
    await t.write(Buffer.concat([framed(query(COMPONENT, { id: 1 })), framed(query(`cb01.example.test`, { id: 2, type: 'A' }))]));
    await vi.waitFor(() => expect(t.messages).toHaveLength(2), WAIT);
    expect(t.messages.map(decode).map((d) => [d.id, d.answers.length])).toEqual([[1, 3], [2, 1]]);
    t.socket.destroy();
  });

  it('answers a query that arrives in pieces: split in two, and byte by byte', async () => {
    const { server } = await start();
    const t = await tcpClient(server, CLIENT);
    const one = framed(query(COMPONENT, { id: 3 }));
    await t.write(one.subarray(0, 5));
    await t.write(one.subarray(5));
    await vi.waitFor(() => expect(t.messages).toHaveLength(1), WAIT);
    const two = framed(query(COMPONENT, { id: 4 }));
    for (let i = 0; i < two.length; i++) await t.write(two.subarray(i, i + 1));
    await vi.waitFor(() => expect(t.messages).toHaveLength(2), WAIT);
    expect(ids(t.messages)).toEqual([3, 4]);
    t.socket.destroy();
  });

  it('answers FORMERR and keeps the connection when the frame holds a broken query', async () => {
    const { server } = await start();
    const t = await tcpClient(server, CLIENT);
    const headerOnly = Buffer.alloc(12);
    headerOnly.writeUInt16BE(0x7777, 0);
    headerOnly.writeUInt16BE(1, 4);
    await t.write(framed(headerOnly));
    await t.write(framed(query(COMPONENT, { id: 5 })));
    await vi.waitFor(() => expect(t.messages).toHaveLength(2), WAIT);
    expect(t.messages.map(decode).map((d) => [d.id, d.rcode])).toEqual([[0x7777, 'FORMERR'], [5, 'NOERROR']]);
    t.socket.destroy();
  });

  it('closes only the connection that sends a zero-length message, after answering what came before', async () => {
    const { server } = await start();
    const bystander = await tcpClient(server, OTHER_CLIENT);
    const t = await tcpClient(server, CLIENT);
    await t.write(Buffer.concat([framed(query(COMPONENT, { id: 6 })), Buffer.from([0, 0]), framed(query(COMPONENT, { id: 7 }))]));
    await t.closed;
    expect(ids(t.messages)).toEqual([6]);
    await bystander.write(framed(query(COMPONENT, { id: 8 })));
    await vi.waitFor(() => expect(ids(bystander.messages)).toEqual([8]), WAIT);
    bystander.socket.destroy();
  });

  it('closes a connection that sends a response packet, without answering it', async () => {
    const { responder, server } = await start();
    const t = await tcpClient(server, CLIENT);
    await t.write(framed(dnsPacket.encode({ type: 'response', id: 9, questions: [{ name: COMPONENT, type: 'SRV' }] })));
    await t.closed;
    expect(t.messages).toEqual([]);
    expect(responder.counters.dropped).toBe(1);
    expect((await dig(server, ['+tcp', 'SRV', COMPONENT])).status).toBe('NOERROR');
  });

  it('closes an idle connection', async () => {
    const { responder, server } = await start({ tcpIdleMs: 200 });
    const t = await tcpClient(server, CLIENT);
    await t.closed;
    await vi.waitFor(() => expect(responder.counters.tcpConnections).toBe(0), WAIT);
  });

  it('closes connections beyond maxTcpConnections as they arrive, and serves the others', async () => {
    const { responder, server } = await start({ maxTcpConnections: 2 });
    const first = await tcpClient(server, CLIENT);
    const second = await tcpClient(server, CLIENT);
    await vi.waitFor(() => expect(responder.counters.tcpConnections).toBe(2), WAIT);
    const third = await tcpClient(server, CLIENT);
    await third.closed;
    expect(responder.counters.tcpRefused).toBe(1);
    for (const [i, t] of [first, second].entries()) {
      await t.write(framed(query(COMPONENT, { id: 10 + i })));
      await vi.waitFor(() => expect(ids(t.messages)).toEqual([10 + i]), WAIT);
      t.socket.destroy();
    }
  });

  it('closes open connections when the responder closes', async () => {
    const { responder, server } = await start();
    const t = await tcpClient(server, CLIENT);
    await vi.waitFor(() => expect(responder.counters.tcpConnections).toBe(1), WAIT);
    await responder.close();
    await t.closed;
  });
});

describe('listen', () => {
  it('listens on every endpoint, UDP and TCP on the same port', async () => {
    const responder = new DnsResponder({ log: silentLogger() });
    open.push(responder);
    const bound = await responder.listen([
      { address: '127.0.1.6', port: 0 },
      { address: '127.0.1.7', port: 0 },
    ]);
    responder.setZone(smallZone());
    expect(bound.map((b) => [b.address, b.port === b.udpPort])).toEqual([
      ['127.0.1.6', true],
      ['127.0.1.7', true],
    ]);
    for (const b of bound) {
      expect((await dig(b, ['SRV', COMPONENT])).transport).toBe('UDP');
      expect((await dig(b, ['+tcp', 'SRV', COMPONENT])).transport).toBe('TCP');
    }
  });

  it('fails when the port is taken, and leaves nothing bound', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen({ host: '127.0.1.8', port: 0 }, resolve));
    open.push({ close: () => new Promise((resolve) => taken.close(() => resolve())) });
    const port = (taken.address() as net.AddressInfo).port;

    const responder = new DnsResponder({ log: silentLogger() });
    open.push(responder);
    await expect(responder.listen([{ address: '127.0.1.9', port: 0 }, { address: '127.0.1.8', port }])).rejects.toMatchObject({ code: 'EADDRINUSE' });

    // The UDP half at 127.0.1.8 was let go again: another socket can have it.
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: '127.0.1.8', port, exclusive: true }, () => resolve());
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
  });
});

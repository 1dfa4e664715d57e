import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CallBridge, type ReceivedMessage } from '../../src/bridge/call-bridge.js';
import { handshakeDigest } from '../../src/component/handshake.js';
import { nextEvent } from '../helpers/bridges.js';
import { Condition } from '../helpers/condition.js';
import { COMPONENT_HEADER, RawClient, streamErrorCondition, streamIdOf } from '../helpers/raw-client.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

/**
 * Floods of connections that open a stream and never authenticate, over
 * real sockets from several loopback addresses (all of 127/8 is loopback
 * on Linux, so each 127.x.y.z is a separate source address to the server).
 * Whatever the flood, a call bridge that completes its handshake promptly
 * gets in: past a cap, the oldest waiting connection is closed with
 * <resource-constraint/>, never the new one.
 */

const SERVER_HEADER = /<stream:stream[^>]*>/;
const HELD_LONG = { headerTimeoutMs: 120_000, handshakeTimeoutMs: 120_000 };
const MB = 1024 * 1024;

/** Idle connections that sent a stream header and wait; tells which the server closed. */
class Flood {
  readonly held = new Set<RawClient>();
  readonly evicted: RawClient[] = [];
  readonly closedOtherwise: RawClient[] = [];
  /** Each connection's source address (a closed socket no longer tells). */
  readonly from = new Map<RawClient, string>();
  private readonly closes = new Condition();

  constructor(private readonly port: number) {}

  /** Opens `n` connections from `localAddress`, `batch` at a time; resolves once each has the server's header. */
  async open(localAddress: string, n: number, batch = 50): Promise<void> {
    for (let done = 0; done < n; done += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, n - done) }, () => this.openOne(localAddress)));
    }
  }

  private async openOne(localAddress: string): Promise<void> {
    const c = await RawClient.connect(this.port, '127.0.0.1', localAddress);
    this.held.add(c);
    this.from.set(c, localAddress);
    void c.closed.then(() => {
      this.held.delete(c);
      (streamErrorCondition(c.received) === 'resource-constraint' ? this.evicted : this.closedOtherwise).push(c);
      this.closes.changed();
    });
    c.send(COMPONENT_HEADER('idle.example.test'));
    // An evicted one gets the header too: ours, then the error (RFC 6120 §4.9.1.2).
    await c.waitFor(SERVER_HEADER, 20_000);
  }

  /** Resolves once `count` connections in all were evicted. */
  untilEvicted(count: number, timeoutMs = 20_000): Promise<void> {
    return this.closes.until(() => this.evicted.length >= count, timeoutMs, () => `${this.evicted.length} of ${count} evictions; ${this.closedOtherwise.length} closed otherwise`);
  }

  heldFrom(localAddress: string): number {
    return [...this.held].filter((c) => this.from.get(c) === localAddress).length;
  }

  destroy(): void {
    for (const c of this.held) c.destroy();
  }
}

/** Connects call bridge `name` from `localAddress`, sends to the echoing peer and waits for the answer; returns the milliseconds taken. */
async function connectAndExchange(t: TestNode, name: string, localAddress: string): Promise<number> {
  const start = performance.now();
  const bridge = await CallBridge.connect({ name, secret: t.secrets[name]!, domain: 'example.test', host: '127.0.0.1', port: t.ports[0], localAddress });
  const answer = nextEvent<ReceivedMessage>(bridge);
  await bridge.sendMessage('peer.example.test', `hello from ${localAddress}`);
  expect((await answer).body).toBe(`hello from ${localAddress}`);
  const elapsed = performance.now() - start;
  await bridge.close();
  return elapsed;
}

function rssMb(): number {
  return process.memoryUsage().rss / MB;
}

/** The evicted ones got our header first, then <resource-constraint/>, then the footer. */
function expectProperClose(evicted: RawClient[]): void {
  for (const c of evicted) {
    expect(c.received.startsWith("<?xml version='1.0'?><stream:stream ")).toBe(true);
    expect(c.received.endsWith('</stream:stream>')).toBe(true);
  }
}

const bridgesFor = (addresses: string[]) => Object.fromEntries([['peer', 'secret-peer-1234567890'], ...addresses.map((_, i) => [`cb${i}`, `secret-cb${i}-1234567890`])]);

describe('which connection a full cap closes', () => {
  let t: TestNode;
  const clients: RawClient[] = [];
  const connectFrom = async (localAddress: string) => {
    const c = await RawClient.connect(t.ports[0], '127.0.0.1', localAddress);
    clients.push(c);
    return c;
  };
  const idleFrom = async (localAddress: string) => {
    const c = await connectFrom(localAddress);
    c.send(COMPONENT_HEADER('idle.example.test'));
    await c.waitFor(SERVER_HEADER);
    return c;
  };

  beforeAll(async () => {
    t = await startTestNode({
      callbridges: { cb1: 'secret-one-1234567890', cb2: 'secret-two-1234567890' },
      sessionOptions: HELD_LONG,
      // A failed handshake waits a minute for its answer: long enough to be evicted first.
      authThrottle: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
      preauthLimits: { perAddress: 32, total: 4096, logIntervalMs: 60_000 },
    });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('closes the oldest connection from the address with <resource-constraint/>, our header first, then the next oldest', async () => {
    // The oldest never sent a header, so the server has not sent its own either.
    const silent = await connectFrom('127.0.1.1');
    const others: RawClient[] = [];
    for (let i = 0; i < 31; i++) others.push(await idleFrom('127.0.1.1'));
    const newest = await idleFrom('127.0.1.1');
    const got = await silent.untilClosed();
    expect(streamErrorCondition(got)).toBe('resource-constraint');
    expect(got).toMatch(/^<\?xml version='1.0'\?><stream:stream [^>]*from='example.test'>/);
    expect(got.endsWith('</stream:stream>')).toBe(true);

    await idleFrom('127.0.1.1');
    const second = await others[0]!.untilClosed();
    expect(streamErrorCondition(second)).toBe('resource-constraint');
    // The one that already had our header gets no second one.
    expect(second.match(/<stream:stream /g)).toHaveLength(1);
    expect([...others.slice(1), newest].every((c) => !c.socket.destroyed && c.socket.readyState === 'open')).toBe(true);
    expect(t.log.find('too_many_unauthenticated')[0]).toMatchObject({ peer: '127.0.1.1', limit: 'address', evicted: 1 });
  });

  it('counts a handshake waiting out the auth throttle, and closes it like an idle one', async () => {
    const guess = await connectFrom('127.0.1.2');
    guess.send(COMPONENT_HEADER('cb1.example.test'));
    await guess.waitFor(SERVER_HEADER);
    guess.send(`<handshake>${handshakeDigest(streamIdOf(guess.received), 'wrong')}</handshake>`);
    await vi.waitFor(() => expect(t.log.lines.some((l) => l.event === 'component_auth_failure' && l.peer === '127.0.1.2')).toBe(true), { timeout: 5000 });
    for (let i = 0; i < 32; i++) await idleFrom('127.0.1.2');
    expect(streamErrorCondition(await guess.untilClosed())).toBe('resource-constraint');
  });

  it('does not count a call bridge that is online: it stays while idle ones come and go', async () => {
    const online = await CallBridge.connect({ name: 'cb1', secret: t.secrets.cb1!, domain: 'example.test', host: '127.0.0.1', port: t.ports[0], localAddress: '127.0.1.3' });
    const idle: RawClient[] = [];
    for (let i = 0; i < 32; i++) idle.push(await idleFrom('127.0.1.3'));
    await idleFrom('127.0.1.3');
    expect(streamErrorCondition(await idle[0]!.untilClosed())).toBe('resource-constraint');
    const other = await CallBridge.connect({ name: 'cb2', secret: t.secrets.cb2!, domain: 'example.test', host: '127.0.0.1', port: t.ports[1] });
    const at1 = nextEvent<ReceivedMessage>(online);
    await other.sendMessage('cb1.example.test', 'still here');
    expect((await at1).body).toBe('still here');
    await online.close();
    await other.close();
  });

  it('closes the oldest of all, whatever its address, when the total cap is reached', async () => {
    const small = await startTestNode({ sessionOptions: HELD_LONG, preauthLimits: { total: 40 } });
    try {
      const flood = new Flood(small.ports[0]);
      await flood.open('127.0.2.1', 20, 1);
      await flood.open('127.0.2.2', 20, 1);
      await flood.open('127.0.2.3', 1, 1);
      await flood.untilEvicted(1);
      // The first from 127.0.2.1 went; 127.0.2.2 lost none.
      expect(flood.from.get(flood.evicted[0]!)).toBe('127.0.2.1');
      expect([flood.heldFrom('127.0.2.1'), flood.heldFrom('127.0.2.2'), flood.heldFrom('127.0.2.3')]).toEqual([19, 20, 1]);
      expect(small.log.find('too_many_unauthenticated')[0]).toMatchObject({ peer: '127.0.2.1', limit: 'total' });
      flood.destroy();
    } finally {
      await small.close();
    }
  });
});

describe('a held flood never keeps a call bridge out', () => {
  const ONE = '127.0.3.1';
  const SEVERAL = Array.from({ length: 20 }, (_, i) => `127.0.4.${i + 1}`);
  const ROUNDS = 3;

  /**
   * Per address, ROUNDS times: a call bridge connects and exchanges a
   * message with the echoing peer. Where the flood fills the address's cap,
   * the bridge's connection pushes out exactly one idle connection, and a
   * new idle one tops the flood up again before the next round.
   */
  async function bridgesGetIn(t: TestNode, flood: Flood, addresses: string[], full: (address: string) => boolean): Promise<number[]> {
    const times: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, address] of addresses.entries()) {
        const wasFull = full(address);
        const evictedBefore = flood.evicted.length;
        times.push(await connectAndExchange(t, `cb${i}`, address));
        if (!wasFull) continue;
        await flood.untilEvicted(evictedBefore + 1);
        await flood.open(address, 1);
      }
    }
    return times;
  }

  function report(label: string, times: number[], rss: { before: number; held: number; after: number }, held: number, opened: number): void {
    const sorted = [...times].sort((a, b) => a - b);
    const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
    console.log(
      `${label}: ${opened} flood connections opened, ${held} held by the server; RSS ${rss.before.toFixed(0)} MB before, ${rss.held.toFixed(0)} MB held, ${rss.after.toFixed(0)} MB after the bridges; ` +
        `${times.length} call bridge connect+message: median ${pick(0.5)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms`,
    );
  }

  it('500 idle from one address and 500 over 20 more, default caps: a call bridge from each address gets in within 1 s, every time', async () => {
    const addresses = [ONE, ...SEVERAL];
    // The log interval outlasts the test, so the count of evictions shows whole when the node stops.
    const t = await startTestNode({ callbridges: bridgesFor(addresses), sessionOptions: HELD_LONG, preauthLimits: { logIntervalMs: 600_000 } });
    const peer = await CallBridge.connect({ name: 'peer', secret: t.secrets.peer!, domain: 'example.test', host: '127.0.0.1', port: t.ports[1], echo: true });
    const flood = new Flood(t.ports[0]);
    try {
      const before = rssMb();
      await flood.open(ONE, 500);
      for (const address of SEVERAL) await flood.open(address, 25);
      // 32 from the one address stay, the 468 older ones went; 25 from each of the others is under the cap.
      await flood.untilEvicted(468);
      expect(flood.closedOtherwise).toHaveLength(0);
      expect(flood.heldFrom(ONE)).toBe(32);
      for (const address of SEVERAL) expect(flood.heldFrom(address)).toBe(25);
      expectProperClose(flood.evicted);
      const held = rssMb();

      const times = await bridgesGetIn(t, flood, addresses, (a) => a === ONE);
      report('default caps', times, { before, held, after: rssMb() }, flood.held.size, 1000);
      for (const ms of times) expect(ms).toBeLessThan(1000);
      expect(flood.heldFrom(ONE)).toBe(32);
      expect(flood.closedOtherwise).toHaveLength(0);
      // Both ends of about 1000 sockets and 532 sessions: a generous bound, not a measurement.
      expect(held - before).toBeLessThan(256);
      // Not one line per eviction: one for the address when the flood began, the rest counted for later.
      expect(t.log.find('too_many_unauthenticated')).toHaveLength(1);
    } finally {
      flood.destroy();
      await peer.close();
      await t.close();
    }
    // 468 by the flood and one by each call bridge from the full address; the first had its own line.
    expect(t.log.find('too_many_unauthenticated').map((l) => l.evicted)).toEqual([1, 468 + ROUNDS - 1]);
  }, 120_000);

  it('500 idle over 20 addresses past a total cap of 200: a call bridge from each address gets in within 1 s, every time', async () => {
    const t = await startTestNode({ callbridges: bridgesFor(SEVERAL), sessionOptions: HELD_LONG, preauthLimits: { total: 200 } });
    const peer = await CallBridge.connect({ name: 'peer', secret: t.secrets.peer!, domain: 'example.test', host: '127.0.0.1', port: t.ports[1], echo: true });
    const flood = new Flood(t.ports[0]);
    try {
      const before = rssMb();
      for (const address of SEVERAL) await flood.open(address, 25);
      await flood.untilEvicted(300);
      expect(flood.closedOtherwise).toHaveLength(0);
      expect(flood.held.size).toBe(200);
      expectProperClose(flood.evicted);
      const held = rssMb();

      const times = await bridgesGetIn(t, flood, SEVERAL, () => true);
      report('total cap 200', times, { before, held, after: rssMb() }, flood.held.size, 500);
      for (const ms of times) expect(ms).toBeLessThan(1000);
      expect(flood.held.size).toBe(200);
      expect(flood.closedOtherwise).toHaveLength(0);
      expect(held - before).toBeLessThan(256);
    } finally {
      flood.destroy();
      await peer.close();
      await t.close();
    }
  }, 120_000);
});

import { describe, expect, it } from 'vitest';
import { flush, pongFor } from '../helpers/memory-s2s.js';
import { federation, ids, type Federation, message } from './federation-service-harness.js';

/**
 * A silent peer is noticed within 30 s by XEP-0199 pings and its stream
 * replaced, what it may have lost re-sent or bounced; idle streams close
 * (federation.md, "Where we go further"). Time is the manual clock's; the
 * peer's pongs arrive on its own stream to us between steps.
 */

const FROM = 'cb1.example.test';

/** Moves the clock on in steps, letting the peers answer between them. */
async function run(f: Federation, ms: number, step = 1000): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    f.net.clock.advance(Math.min(step, ms - t));
    await flush();
  }
}

describe('a peer that answers pings', () => {
  it('keeps its stream: our ping goes out after 10 s of silence, its pong comes back on its stream to us and is not routed', async () => {
    const f = federation();
    const peer = f.net.peer('other.test');
    f.send(message(FROM, 'user@other.test', 'm1'));
    await flush();
    await run(f, 120_000);
    const stream = peer.last!;
    expect(stream.isClosed).toBe(false);
    expect(f.net.connectsTo('other.test')).toBe(1);
    expect(stream.pings.length).toBeGreaterThanOrEqual(5);
    expect(stream.pings[0]).toMatchObject({ from: 'cb1.example.test', to: 'other.test' });
    expect(f.service.counters.pongs).toBe(stream.pings.length);
    expect(f.bridge.delivered).toEqual([]);
    expect(f.env.logs.events('peer-unresponsive')).toEqual([]);
  });

  it('a pong on the outgoing stream itself counts too', async () => {
    const f = federation();
    const peer = f.net.peer('other.test');
    peer.answersPings = false;
    f.send(message(FROM, 'user@other.test', 'm1'));
    await flush();
    await run(f, 10_000);
    peer.last!.emit(pongFor(peer.last!.pings[0]!));
    await run(f, 25_000);
    expect(peer.last!.isClosed).toBe(false);
    expect(f.bridge.delivered).toEqual([]);
  });

  it('any stanza from the remote domain shows it is alive', async () => {
    const f = federation();
    const peer = f.net.peer('other.test');
    peer.answersPings = false;
    f.send(message(FROM, 'user@other.test', 'm1'));
    await flush();
    await run(f, 15_000);
    peer.streamToUs().receive(message('user@other.test', FROM, 'in1'));
    await run(f, 20_000);
    expect(peer.streams[0]!.isClosed).toBe(false);
    expect(ids(f.bridge.delivered)).toEqual(['in1']);
  });
});

describe('a peer that stops answering', () => {
  it('is declared dead within 30 s: peer-unresponsive, closed (ping timeout), its unconfirmed stanzas re-sent on a new stream', async () => {
    const f = federation();
    const peer = f.net.peer('other.test');
    peer.answersPings = false;
    f.send(message(FROM, 'user@other.test', 'm1'));
    f.send(message(FROM, 'user@other.test', 'm2'));
    await flush();
    await run(f, 30_000);
    const [dead, fresh] = peer.streams;
    expect(dead!.closedWith).toEqual({ by: 'us', why: 'ping-timeout' });
    expect(f.env.logs.events('peer-unresponsive')).toEqual([
      expect.objectContaining({ domain: 'other.test', peer: dead!.peerAddress, direction: 'outgoing', node: 'cb-node1' }),
    ]);
    expect(f.env.logs.events('connection-closed')).toEqual([expect.objectContaining({ domain: 'other.test', reason: 'ping timeout' })]);
    expect(ids(fresh!.stanzas)).toEqual(['m1', 'm2']);
    expect(f.service.counters.resent).toBe(2);
    expect(f.bridge.delivered).toEqual([]);
    expect(dead!.afterClose).toEqual([]);
  });

  it('with stanzas flowing, an unanswered checkpoint ping declares it dead 20 s after it went out', async () => {
    const f = federation({ queueLimits: { maxStanzas: 4 } });
    const peer = f.net.peer('other.test');
    peer.answersPings = false;
    f.send(message(FROM, 'user@other.test', 'm1'));
    await flush();
    await run(f, 5_000);
    f.send(message(FROM, 'user@other.test', 'm2'));
    expect(peer.last!.pings.length).toBe(1);
    await run(f, 19_000);
    expect(peer.streams[0]!.isClosed).toBe(false);
    await run(f, 1_000);
    expect(peer.streams[0]!.closedWith).toEqual({ by: 'us', why: 'ping-timeout' });
    expect(f.env.logs.events('peer-unresponsive')).toEqual([expect.objectContaining({ domain: 'other.test', direction: 'outgoing' })]);
    expect(ids(peer.streams[1]!.stanzas)).toEqual(['m1', 'm2']);
  });

  it('a stanza lost on a second dead stream bounces once with <remote-server-timeout/>, and nothing reconnects for it', async () => {
    const f = federation();
    const peer = f.net.peer('other.test');
    peer.answersPings = false;
    f.send(message(FROM, 'user@other.test', 'm1'));
    await flush();
    await run(f, 60_000);
    expect(peer.streams.map((s) => s.isClosed)).toEqual([true, true]);
    expect(ids(f.bridge.delivered)).toEqual(['m1']);
    expect(f.bridge.conditions()).toEqual(['remote-server-timeout']);
    await run(f, 60_000);
    expect(f.net.connectsTo('other.test')).toBe(2);
  });

  it('what a pong confirmed is not sent again', async () => {
    const f = federation();
    const peer = f.net.peer('other.test');
    f.send(message(FROM, 'user@other.test', 'm1'));
    await flush();
    await run(f, 10_000);
    expect(f.service.counters.pongs).toBe(1);
    peer.answersPings = false;
    f.send(message(FROM, 'user@other.test', 'm2'));
    await run(f, 40_000);
    expect(peer.streams[0]!.closedWith).toEqual({ by: 'us', why: 'ping-timeout' });
    expect(ids(peer.streams[1]!.stanzas)).toEqual(['m2']);
  });

  it('a frozen peer that answers the dead stream\'s ping late read what came before it: that is not sent again', async () => {
    const f = federation();
    const peer = f.net.peer('other.test');
    peer.answersPings = false;
    f.send(message(FROM, 'user@other.test', 'm1'));
    f.send(message(FROM, 'user@other.test', 'm2'));
    await flush();
    // The new stream waits on the frozen peer (its socket accepts, nothing answers).
    peer.plan = { result: 'manual' };
    await run(f, 30_000);
    const dead = peer.streams[0]!;
    expect(dead.closedWith).toEqual({ by: 'us', why: 'ping-timeout' });
    f.send(message(FROM, 'user@other.test', 'm3'));
    await flush();
    // It runs again: it reads the dead socket, m1, m2 and our ping, and answers on its own stream to us.
    peer.streamToUs(FROM).receive(pongFor(dead.pings[0]!));
    await flush();
    f.net.manual[0]!.succeed();
    await flush();
    expect(ids(peer.streams[1]!.stanzas)).toEqual(['m3']);
    expect(f.bridge.delivered).toEqual([]);
  });

  it('a stream the peer closes, or whose socket breaks, has its unconfirmed stanzas re-sent on a new one', async () => {
    const f = federation();
    const peer = f.net.peer('other.test');
    f.send(message(FROM, 'user@other.test', 'm1'));
    await flush();
    peer.last!.peerClose();
    await flush();
    expect(ids(peer.last!.stanzas)).toEqual(['m1']);
    f.send(message(FROM, 'user@other.test', 'm2'));
    peer.last!.socketDrop();
    await flush();
    expect(peer.streams.length).toBe(3);
    // m1 was re-sent once already: a second loss bounces it; m2 gets its one re-send.
    expect(ids(peer.last!.stanzas)).toEqual(['m2']);
    expect(ids(f.bridge.delivered)).toEqual(['m1']);
    expect(f.env.logs.events('connection-closed').map((e) => e.reason)).toEqual(['peer closed', 'error']);
  });
});

describe('the copy of what was sent since the last pong', () => {
  it('asks for a checkpoint ping at half its bound, and the pong releases the copy: a later loss re-sends only newer stanzas', async () => {
    const f = federation({ queueLimits: { maxStanzas: 4 } });
    const peer = f.net.peer('other.test');
    f.send(message(FROM, 'user@other.test', 'm1'));
    await flush();
    f.send(message(FROM, 'user@other.test', 'm2'));
    expect(peer.last!.pings.length).toBe(1);
    await flush();
    expect(f.service.counters.pongs).toBe(1);
    f.send(message(FROM, 'user@other.test', 'm3'));
    peer.last!.socketDrop();
    await flush();
    expect(ids(peer.last!.stanzas)).toEqual(['m3']);
    expect(f.bridge.delivered).toEqual([]);
  });
});

/** The stream is up and the peer has confirmed what was sent on it (two stanzas: a checkpoint at half the window of 4). */
async function upAndConfirmed(f: ReturnType<typeof federation>, peer: ReturnType<ReturnType<typeof federation>['net']['peer']>): Promise<void> {
  f.send(message(FROM, 'user@other.test', 'a'));
  f.send(message(FROM, 'user@other.test', 'b'));
  await flush();
  expect(f.service.counters.pongs).toBe(1);
  expect(peer.last!.isClosed).toBe(false);
}

describe('a window of unconfirmed stanzas', () => {
  it('writes no more than its bound into a peer that has not answered: the rest waits, then flows when the checkpoint is answered', async () => {
    const f = federation({ queueLimits: { maxStanzas: 4 } });
    const peer = f.net.peer('other.test');
    await upAndConfirmed(f, peer);
    peer.answersPings = false;
    for (let i = 1; i <= 6; i++) f.send(message(FROM, 'user@other.test', `m${i}`));
    await flush();
    // m1..m4 fill the window; m5 and m6 wait behind it instead of going into a socket that may be dead.
    expect(ids(peer.last!.stanzas)).toEqual(['a', 'b', 'm1', 'm2', 'm3', 'm4']);
    const checkpoint = peer.last!.pings.at(-1)!;
    peer.streamToUs(FROM).receive(pongFor(checkpoint));
    await flush();
    expect(ids(peer.last!.stanzas)).toEqual(['a', 'b', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    expect(f.bridge.delivered).toEqual([]);
  });

  it('a frozen peer costs a window and a queue, never a stanza: declared dead, every one is bounced or sent again', async () => {
    const f = federation({ queueLimits: { maxStanzas: 4 } });
    const peer = f.net.peer('other.test');
    await upAndConfirmed(f, peer);
    peer.answersPings = false;
    for (let i = 1; i <= 12; i++) f.send(message(FROM, 'user@other.test', `m${i}`));
    await flush();
    await run(f, 30_000);
    const [dead, fresh] = peer.streams;
    expect(ids(dead!.stanzas)).toEqual(['a', 'b', 'm1', 'm2', 'm3', 'm4']);
    // The queue's bound bounced the oldest that waited; after the death the re-sent ones were the oldest again.
    expect(ids(f.bridge.delivered).sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'].sort());
    expect(f.bridge.conditions().every((c) => c === 'resource-constraint')).toBe(true);
    expect(ids(fresh!.stanzas)).toEqual(['m9', 'm10', 'm11', 'm12']);
  });
});

describe('idle streams', () => {
  it('an outgoing stream with no stanza for 600 s closes (idle) even though its pings are answered', async () => {
    const f = federation();
    const peer = f.net.peer('other.test');
    f.send(message(FROM, 'user@other.test', 'm1'));
    await flush();
    await run(f, 599_000, 5000);
    expect(peer.streams[0]!.isClosed).toBe(false);
    await run(f, 1000);
    expect(peer.streams[0]!.closedWith).toEqual({ by: 'us', why: 'idle' });
    expect(f.env.logs.events('connection-closed')).toEqual([expect.objectContaining({ domain: 'other.test', direction: 'outgoing', reason: 'idle' })]);
    expect(f.net.connectsTo('other.test')).toBe(1);
  });

  it('an incoming stream with no stanza for 600 s closes (idle); one with traffic stays', async () => {
    const f = federation({ liveness: { idleCloseMs: 600_000 } });
    const quiet = f.net.peer('other.test').streamToUs();
    const busy = f.net.peer('third.test').streamToUs();
    for (let t = 0; t < 12; t++) {
      f.net.clock.advance(50_000);
      busy.receive(message('user@third.test', FROM, `b${t}`));
    }
    expect(quiet.closedWith).toEqual({ by: 'us', why: 'idle' });
    expect(busy.isClosed).toBe(false);
    expect(f.env.logs.events('connection-closed')).toEqual([expect.objectContaining({ domain: 'other.test', direction: 'incoming', reason: 'idle' })]);
  });
});

import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SEND_HIGH_WATER, XmppStream } from '../../src/xmpp/xmpp-stream.js';

/**
 * When a stream stops reading its peer, over real loopback sockets: holds
 * compose, and a send queue over its mark holds the stream by itself.
 */

interface Pair {
  stream: XmppStream;
  /** The peer's end. */
  peer: Socket;
  elements: string[];
  /** Resolves at the next element the stream reads. */
  nextElement(): Promise<string>;
  /** Resolves at the next time the stream's socket drains. */
  nextDrain(): Promise<void>;
}

let server: Server | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.length = 0;
  if (server) await new Promise((resolve) => server!.close(resolve));
  server = undefined;
});

async function streamPair(): Promise<Pair> {
  server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const peer = connect({ port, host: '127.0.0.1' });
  await once(peer, 'connect');
  const [socket] = await accepted;
  sockets.push(peer, socket);
  const elements: string[] = [];
  const elementWaiters: Array<(raw: string) => void> = [];
  const drainWaiters: Array<() => void> = [];
  const stream = new XmppStream(
    socket,
    {
      streamStart: () => undefined,
      element: (_name, _attrs, raw) => {
        elements.push(raw);
        elementWaiters.shift()?.(raw);
      },
      closed: () => undefined,
      drained: () => drainWaiters.shift()?.(),
    },
    { maxStanzaSize: 64 * 1024, errorHeader: () => '<stream:stream>' },
  );
  peer.write(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>`);
  return {
    stream,
    peer,
    elements,
    nextElement: () => new Promise((resolve) => elementWaiters.push(resolve)),
    nextDrain: () => new Promise((resolve) => drainWaiters.push(resolve)),
  };
}

const CHUNK = `<message>${'x'.repeat(64 * 1024)}</message>`;

/**
 * Sends to a peer that does not read until the kernel's buffers are full and
 * more than the mark waits in the socket itself.
 */
async function fillSendQueue(stream: XmppStream): Promise<void> {
  for (let sent = 0; sent < 256 * SEND_HIGH_WATER; sent += CHUNK.length) {
    stream.send(CHUNK);
    await new Promise((resolve) => setImmediate(resolve));
    if (stream.socket.writableLength >= SEND_HIGH_WATER) return;
  }
  throw new Error('the send queue never went over its mark');
}

describe('XmppStream holds', () => {
  it('reads again only when every reason it was held for is released', async () => {
    const { stream, peer, nextElement } = await streamPair();
    const target1 = {};
    const target2 = {};
    stream.hold(target1);
    stream.hold(target2);
    stream.hold(target2);
    stream.release(target1);
    expect(stream.held).toBe(true);
    expect(stream.socket.isPaused()).toBe(true);
    stream.release(target2);
    expect(stream.held).toBe(false);
    expect(stream.socket.isPaused()).toBe(false);
    const read = nextElement();
    peer.write(`<message id='after'/>`);
    expect(await read).toBe(`<message id='after'/>`);
  });

  it('a send queue over its mark stops reading the peer until the peer has read it', async () => {
    const { stream, peer, nextElement, nextDrain } = await streamPair();
    peer.pause();
    await fillSendQueue(stream);
    const drained = nextDrain();
    expect(stream.held).toBe(true);
    expect(stream.socket.isPaused()).toBe(true);
    // The peer reads everything; the socket drains and the stream reads again.
    peer.resume();
    await drained;
    expect(stream.held).toBe(false);
    const read = nextElement();
    peer.write(`<message id='after'/>`);
    expect(await read).toBe(`<message id='after'/>`);
  });

  it('is not left held when the kernel takes an over-the-mark queue at once (Node then emits no drain)', async () => {
    const { stream, peer, nextDrain } = await streamPair();
    peer.on('data', () => undefined);
    const drained = nextDrain();
    let over = false;
    while (!over) over = !stream.send(CHUNK);
    expect(stream.held).toBe(true);
    await drained;
    expect(stream.held).toBe(false);
    expect(stream.socket.isPaused()).toBe(false);
  });

  it('a full queue and a hold for another route compose: reading resumes when both are clear, in either order', async () => {
    for (const order of ['drain first', 'release first'] as const) {
      const { stream, peer, nextDrain } = await streamPair();
      const target = {};
      peer.pause();
      stream.hold(target);
      await fillSendQueue(stream);
      const drained = nextDrain();
      if (order === 'drain first') {
        peer.resume();
        await drained;
        expect(stream.socket.isPaused()).toBe(true);
        stream.release(target);
      } else {
        stream.release(target);
        expect(stream.socket.isPaused()).toBe(true);
        peer.resume();
        await drained;
      }
      expect(stream.held).toBe(false);
      expect(stream.socket.isPaused()).toBe(false);
      peer.destroy();
    }
  });
});

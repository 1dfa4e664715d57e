import { connect, type Socket } from 'node:net';
import { handshakeDigest } from '../../src/component/handshake.js';
import { Condition } from './condition.js';

/**
 * A bare TCP peer for tests that must send what no XMPP library would
 * (bad XML, DOCTYPEs, wrong handshakes) and read exactly what came back.
 */
export class RawClient {
  received = '';
  readonly closed: Promise<void>;
  private readonly receivedMore = new Condition();

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.received += d;
      this.receivedMore.changed();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  /** `localAddress`: the source address, e.g. 127.0.0.7 (all of 127/8 is loopback on Linux). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, localAddress }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Resolves once `pattern` appears in what was received; rejects after `timeoutMs`. */
  async waitFor(pattern: string | RegExp, timeoutMs = 5000): Promise<string> {
    const test = () => (typeof pattern === 'string' ? this.received.includes(pattern) : pattern.test(this.received));
    await this.receivedMore.until(test, timeoutMs, () => `timed out waiting for ${pattern}; received: ${this.received.slice(0, 2000)}`);
    return this.received;
  }

  /** Waits for the server to close the connection; returns everything received. */
  async untilClosed(timeoutMs = 5000): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`connection still open; received: ${this.received.slice(0, 2000)}`)), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    return this.received;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export const COMPONENT_HEADER = (to: string) =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${to}'>`;

/** The stream id from the server's header. */
export function streamIdOf(received: string): string {
  const m = /<stream:stream[^>]*\sid='([^']+)'/.exec(received);
  if (!m) throw new Error(`no stream id in: ${received}`);
  return m[1]!;
}

/** The stream error condition in what was received, or null. */
export function streamErrorCondition(received: string): string | null {
  const m = /<stream:error><([a-z-]+) xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/.exec(received);
  return m ? m[1]! : null;
}

/** A raw peer that got as far as a completed handshake as call bridge `name` of `example.test`. */
export async function authenticatedRaw(port: number, name: string, secret: string): Promise<RawClient> {
  const c = await RawClient.connect(port);
  c.send(COMPONENT_HEADER(`${name}.example.test`));
  await c.waitFor(/<stream:stream[^>]*>/);
  c.send(`<handshake>${handshakeDigest(streamIdOf(c.received), secret)}</handshake>`);
  await c.waitFor('<handshake/>');
  return c;
}

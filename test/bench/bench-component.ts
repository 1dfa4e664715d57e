import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * A call bridge for benchmarks: raw TCP with pre-built stanzas, so the
 * client spends as little CPU as possible and the server is what gets
 * measured. Counts `</message>` in what it receives, across chunk edges.
 */

const END = '</message>';

export class BenchComponent {
  received = 0;
  onReceive: (count: number) => void = () => undefined;
  private tail = '';

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
  }

  /** Connects; with `auth`, opens an XEP-0114 stream and completes the handshake first. */
  static async connect(port: number, auth?: { address: string; secret: string }, host = '127.0.0.1'): Promise<BenchComponent> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ port, host }, () => resolve(s));
      s.once('error', reject);
    });
    socket.setEncoding('utf8');
    const c = new BenchComponent(socket);
    if (auth) await c.handshake(auth.address, auth.secret);
    socket.on('data', (d: string) => c.count(d));
    return c;
  }

  private handshake(address: string, secret: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let got = '';
      const onData = (d: string) => {
        got += d;
        const id = /id=['"]([^'"]+)['"]/.exec(got);
        if (id && !got.includes('<handshake')) {
          const digest = createHash('sha1').update(id[1]! + secret).digest('hex');
          this.socket.write(`<handshake>${digest}</handshake>`);
          got += '<handshake-sent>';
        }
        if (/<handshake\/>|<handshake><\/handshake>/.test(got)) {
          this.socket.off('data', onData);
          resolve();
        } else if (got.includes('stream:error')) reject(new Error(`handshake refused: ${got}`));
      };
      this.socket.on('data', onData);
      this.socket.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${address}'>`);
    });
  }

  private count(d: string): void {
    const text = this.tail + d;
    let n = 0;
    let i = text.indexOf(END);
    let last = -1;
    while (i !== -1) {
      n++;
      last = i;
      i = text.indexOf(END, i + END.length);
    }
    this.tail = text.slice(last === -1 ? Math.max(0, text.length - END.length) : last + END.length).slice(-END.length);
    if (n > 0) {
      this.received += n;
      this.onReceive(n);
    }
  }

  write(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }
}

export function stanza(i: number, from: string, to: string): string {
  return `<message from='${from}' to='${to}' type='chat' id='m${i}'><body>benchmark payload ${i}</body></message>`;
}

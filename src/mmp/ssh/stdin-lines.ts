import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';

/**
 * Lines from a channel's standard input, for exec mode and shells without a
 * terminal: `echo "$S" | ssh node 'xmpp callbridge add-secret cb1'`. Each
 * prompt takes the next line; at end of input it gets null.
 */
export class StdinLines {
  private readonly decoder = new StringDecoder('utf8');
  private buffered = '';
  private ended = false;
  private readonly waiting: ((line: string | null) => void)[] = [];

  constructor(
    stream: Readable,
    private readonly maxBuffered = 1024 * 1024,
  ) {
    stream.on('data', (chunk: Buffer) => {
      // Input nobody asks for is dropped beyond the limit rather than held forever.
      if (this.buffered.length < this.maxBuffered) this.buffered += this.decoder.write(chunk);
      this.deliver();
    });
    const finish = () => {
      if (this.ended) return;
      this.buffered += this.decoder.end();
      this.ended = true;
      this.deliver();
    };
    stream.on('end', finish);
    stream.on('close', finish);
  }

  /** The next line without its line end, or null once input has ended. */
  next(): Promise<string | null> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.deliver();
    });
  }

  private deliver(): void {
    while (this.waiting.length > 0) {
      const nl = this.buffered.indexOf('\n');
      if (nl >= 0) {
        const line = this.buffered.slice(0, nl).replace(/\r$/, '');
        this.buffered = this.buffered.slice(nl + 1);
        this.waiting.shift()!(line);
      } else if (this.ended) {
        // A last line without a line end still counts (printf '%s' "$S" | ssh ...).
        const line = this.buffered === '' ? null : this.buffered.replace(/\r$/, '');
        this.buffered = '';
        this.waiting.shift()!(line);
      } else {
        return;
      }
    }
  }
}

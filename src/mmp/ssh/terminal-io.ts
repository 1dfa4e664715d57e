import { StringDecoder } from 'node:string_decoder';
import type { Duplex } from 'node:stream';
import { LineEditor, type EditorEvent, type ReadOptions } from './line-editor.js';

const MAX_TYPE_AHEAD = 64 * 1024;

/**
 * A channel with a pseudo-terminal: the client's terminal is in raw mode, so
 * we echo, edit lines and translate line ends ourselves. Input typed while a
 * command runs is kept and edited once the next line is read (type-ahead).
 */
export class TerminalIO {
  private readonly decoder = new StringDecoder('utf8');
  private readonly editor: LineEditor;
  private queued = '';
  private reader: ((event: EditorEvent) => void) | undefined;
  private closed = false;

  constructor(
    private readonly channel: Duplex,
    columns: number,
  ) {
    this.editor = new LineEditor({ columns });
    channel.on('data', (chunk: Buffer) => {
      // Type-ahead is bounded: a paste of megabytes while a command runs is cut.
      if (this.queued.length < MAX_TYPE_AHEAD) this.queued += this.decoder.write(chunk);
      this.pump();
    });
    const close = () => {
      this.closed = true;
      this.finishRead({ type: 'eof' });
    };
    channel.on('end', close);
    channel.on('close', close);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Command output: '\n' becomes '\r\n' because no tty line discipline does it for us. */
  write(text: string): void {
    if (this.closed || text === '') return;
    this.channel.write(text.replace(/\r?\n/g, '\r\n'));
  }

  /** Reads one line; a closed channel reads as end of input. */
  read(prompt: string, options: ReadOptions): Promise<EditorEvent> {
    if (this.closed) return Promise.resolve({ type: 'eof' });
    return new Promise((resolve) => {
      this.reader = resolve;
      this.rawWrite(this.editor.start(prompt, options));
      this.pump();
    });
  }

  resize(columns: number): void {
    const redraw = this.editor.resize(columns);
    if (this.reader) this.rawWrite(redraw);
  }

  private pump(): void {
    while (this.reader && this.queued !== '') {
      const result = this.editor.feed(this.queued);
      this.queued = result.rest;
      this.rawWrite(result.output);
      if (result.event) this.finishRead(result.event);
    }
  }

  private finishRead(event: EditorEvent): void {
    const reader = this.reader;
    this.reader = undefined;
    reader?.(event);
  }

  private rawWrite(text: string): void {
    if (!this.closed && text !== '') this.channel.write(text);
  }
}

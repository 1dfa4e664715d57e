/**
 * The interactive shell's line editor, as a pure state machine: keystrokes in
 * (already decoded from UTF-8), screen output and at most one event out. The
 * SSH glue owns the channel; this file owns what a terminal user sees.
 *
 * Rendering follows linenoise's single-line mode: a line wider than the
 * terminal scrolls sideways, and any edit away from the end redraws the line
 * from the start of the row, which works on every VT100-like terminal.
 */

export type EditorEvent =
  /** Enter: the line as typed. */
  | { type: 'line'; text: string }
  /** Ctrl-C: the line is dropped. */
  | { type: 'cancel' }
  /** Ctrl-D on an empty line: the user is done. */
  | { type: 'eof' };

export interface FeedResult {
  /** Bytes to write to the terminal. */
  output: string;
  /** Set when the input completed a line, cancelled it or ended the session. */
  event?: EditorEvent;
  /** Input after the event, not yet consumed: feed it again once the event is handled. */
  rest: string;
}

export interface ReadOptions {
  /** false for secrets: nothing typed is shown. */
  echo: boolean;
  /** Whether the line is recorded and arrow keys browse earlier lines. */
  history: boolean;
}

const ESC = '\x1b';
const MAX_LINE = 4096;

export class LineEditor {
  private prompt = '';
  private buffer: string[] = [];
  private cursor = 0;
  private options: ReadOptions = { echo: true, history: true };
  private readonly history: string[] = [];
  private historyIndex = 0;
  private draft: string[] = [];
  /** An escape sequence split across two feeds. */
  private pendingEscape = '';
  private lastWasCR = false;
  private columns: number;
  private readonly historySize: number;

  constructor(options: { columns?: number; historySize?: number } = {}) {
    this.columns = clampColumns(options.columns ?? 80);
    this.historySize = options.historySize ?? 100;
  }

  /** Starts reading a line: returns the prompt to print. */
  start(prompt: string, options: ReadOptions = { echo: true, history: true }): string {
    this.prompt = prompt;
    this.options = options;
    this.buffer = [];
    this.cursor = 0;
    this.historyIndex = this.history.length;
    this.draft = [];
    return prompt;
  }

  /** The terminal changed width: redraw the line being edited. */
  resize(columns: number): string {
    this.columns = clampColumns(columns);
    return this.options.echo ? this.refresh() : '';
  }

  get historyEntries(): readonly string[] {
    return this.history;
  }

  feed(input: string): FeedResult {
    let output = '';
    const chars = Array.from(this.pendingEscape + input);
    this.pendingEscape = '';
    let i = 0;
    while (i < chars.length) {
      const c = chars[i]!;
      if (c === ESC) {
        const seq = readEscape(chars, i);
        if (seq === undefined) {
          // Incomplete: keep it for the next feed.
          this.pendingEscape = chars.slice(i).join('');
          return { output, rest: '' };
        }
        i = seq.end;
        output += this.escapeKey(seq.key);
        this.lastWasCR = false;
        continue;
      }
      i++;
      if (c === '\n' && this.lastWasCR) {
        // CR LF from a paste or a client in cooked mode: one Enter, not two.
        this.lastWasCR = false;
        continue;
      }
      this.lastWasCR = c === '\r';
      const step = this.key(c);
      output += step.output;
      if (step.event) return { output, event: step.event, rest: chars.slice(i).join('') };
    }
    return { output, rest: '' };
  }

  private key(c: string): { output: string; event?: EditorEvent } {
    switch (c) {
      case '\r':
      case '\n':
        return { output: '\r\n', event: { type: 'line', text: this.accept() } };
      case '\x03': // Ctrl-C
        this.clear();
        return { output: '^C\r\n', event: { type: 'cancel' } };
      case '\x04': // Ctrl-D: end of input on an empty line, else delete under the cursor
        if (this.buffer.length === 0) return { output: '\r\n', event: { type: 'eof' } };
        return { output: this.deleteAt(this.cursor) };
      case '\x7f':
      case '\b':
        return { output: this.cursor > 0 ? this.deleteAt(this.cursor - 1, true) : '' };
      case '\x15': // Ctrl-U: kill to the start of the line
        return { output: this.replace(this.buffer.slice(this.cursor), 0) };
      case '\x0b': // Ctrl-K: kill to the end
        return { output: this.replace(this.buffer.slice(0, this.cursor), this.cursor) };
      case '\x17': // Ctrl-W: kill the word before the cursor
        return { output: this.killWord() };
      case '\x01': // Ctrl-A
        return { output: this.moveTo(0) };
      case '\x05': // Ctrl-E
        return { output: this.moveTo(this.buffer.length) };
      case '\x02': // Ctrl-B
        return { output: this.moveTo(this.cursor - 1) };
      case '\x06': // Ctrl-F
        return { output: this.moveTo(this.cursor + 1) };
      case '\x10': // Ctrl-P
        return { output: this.browse(-1) };
      case '\x0e': // Ctrl-N
        return { output: this.browse(1) };
      case '\x0c': // Ctrl-L: clear the screen, keep the line
        return { output: '\x1b[H\x1b[2J' + (this.options.echo ? this.refresh() : '') };
      default:
        if (c < ' ' || c === '\x7f' || (c >= '\x80' && c < '\xa0')) return { output: '' }; // other controls: ignored
        return { output: this.insert(c) };
    }
  }

  private escapeKey(key: string): string {
    switch (key) {
      case 'up':
        return this.browse(-1);
      case 'down':
        return this.browse(1);
      case 'left':
        return this.moveTo(this.cursor - 1);
      case 'right':
        return this.moveTo(this.cursor + 1);
      case 'home':
        return this.moveTo(0);
      case 'end':
        return this.moveTo(this.buffer.length);
      case 'delete':
        return this.cursor < this.buffer.length ? this.deleteAt(this.cursor) : '';
      default:
        return '';
    }
  }

  private accept(): string {
    const text = this.buffer.join('');
    if (this.options.history && text.trim() !== '' && this.history[this.history.length - 1] !== text) {
      this.history.push(text);
      if (this.history.length > this.historySize) this.history.shift();
    }
    this.historyIndex = this.history.length;
    this.clear();
    return text;
  }

  /** A finished line is gone: input after it starts a new one even before start() is called. */
  private clear(): void {
    this.buffer = [];
    this.cursor = 0;
  }

  private insert(c: string): string {
    if (this.buffer.length >= MAX_LINE) return '\x07';
    this.buffer.splice(this.cursor, 0, c);
    this.cursor++;
    if (!this.options.echo) return '';
    // Typing at the end of a line that fits: just echo, as a cooked tty would.
    if (this.cursor === this.buffer.length && this.promptWidth() + this.buffer.length < this.columns) return c;
    return this.refresh();
  }

  private deleteAt(index: number, backwards = false): string {
    if (index < 0 || index >= this.buffer.length) return '';
    this.buffer.splice(index, 1);
    if (backwards) this.cursor--;
    if (!this.options.echo) return '';
    if (backwards && this.cursor === this.buffer.length && this.promptWidth() + this.buffer.length + 1 < this.columns) return '\b \b';
    return this.refresh();
  }

  private replace(buffer: string[], cursor: number): string {
    this.buffer = buffer;
    this.cursor = cursor;
    return this.options.echo ? this.refresh() : '';
  }

  private killWord(): string {
    let start = this.cursor;
    while (start > 0 && this.buffer[start - 1] === ' ') start--;
    while (start > 0 && this.buffer[start - 1] !== ' ') start--;
    const next = [...this.buffer.slice(0, start), ...this.buffer.slice(this.cursor)];
    return this.replace(next, start);
  }

  private moveTo(position: number): string {
    // Unseen text cannot be edited in the middle: with echo off the cursor stays at the end.
    if (!this.options.echo) return '';
    const target = Math.max(0, Math.min(this.buffer.length, position));
    if (target === this.cursor) return '';
    this.cursor = target;
    return this.refresh();
  }

  private browse(direction: -1 | 1): string {
    if (!this.options.history || !this.options.echo) return '';
    const next = this.historyIndex + direction;
    if (next < 0 || next > this.history.length) return '\x07';
    if (this.historyIndex === this.history.length) this.draft = this.buffer;
    this.historyIndex = next;
    this.buffer = next === this.history.length ? this.draft : Array.from(this.history[next]!);
    this.cursor = this.buffer.length;
    return this.refresh();
  }

  private promptWidth(): number {
    return Array.from(this.prompt).length;
  }

  /** Redraws prompt and the visible part of the line, then places the cursor. */
  private refresh(): string {
    const promptWidth = this.promptWidth();
    // One column stays free so the cursor never sits in the autowrap position.
    const room = Math.max(1, this.columns - 1 - promptWidth);
    const start = Math.max(0, this.cursor - room + 1);
    const visible = this.buffer.slice(start, start + room).join('');
    const column = promptWidth + this.cursor - start;
    return `\r${this.prompt}${visible}\x1b[0K\r${column > 0 ? `\x1b[${column}C` : ''}`;
  }
}

function clampColumns(columns: number): number {
  return Number.isInteger(columns) && columns >= 10 ? Math.min(columns, 1000) : 80;
}

/**
 * Parses the escape sequence at chars[i] (ECMA-48 CSI `ESC [ params final`,
 * or SS3 `ESC O x` that terminals send in application cursor mode).
 * Returns undefined while it is incomplete.
 */
function readEscape(chars: string[], i: number): { key: string; end: number } | undefined {
  const next = chars[i + 1];
  if (next === undefined) return undefined;
  if (next === 'O') {
    const final = chars[i + 2];
    if (final === undefined) return undefined;
    return { key: SS3_KEYS[final] ?? 'unknown', end: i + 3 };
  }
  if (next !== '[') return { key: 'unknown', end: i + 2 }; // Alt+key: ignored
  let j = i + 2;
  let params = '';
  while (j < chars.length && /[0-9;?]/.test(chars[j]!)) params += chars[j++];
  if (j >= chars.length) return undefined;
  const final = chars[j]!;
  const key = final === '~' ? (TILDE_KEYS[params.split(';')[0]!] ?? 'unknown') : (CSI_KEYS[final] ?? 'unknown');
  return { key, end: j + 1 };
}

const CSI_KEYS: Record<string, string> = { A: 'up', B: 'down', C: 'right', D: 'left', H: 'home', F: 'end' };
const SS3_KEYS: Record<string, string> = CSI_KEYS;
const TILDE_KEYS: Record<string, string> = { '1': 'home', '7': 'home', '4': 'end', '8': 'end', '3': 'delete' };

import { createInterface, type Interface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Terminal } from './command.js';

/**
 * A Terminal on this process's standard input and output, for
 * `xmpp-cluster mmp`: on a TTY it reads answers with echo off when asked;
 * from a pipe it reads one line per prompt (`echo "$S" | xmpp-cluster mmp ...`).
 */
export class StdioTerminal implements Terminal {
  private muted = false;
  private readonly rl: Interface;
  private readonly lines: string[] = [];
  private waiting: ((line: string | null) => void) | null = null;
  private closed = false;

  constructor() {
    const output = new Writable({
      write: (chunk, _enc, done) => {
        if (!this.muted) process.stdout.write(chunk);
        done();
      },
    });
    this.rl = createInterface({ input: process.stdin, output, terminal: process.stdin.isTTY === true });
    this.rl.on('line', (line) => {
      const w = this.waiting;
      this.waiting = null;
      if (w) w(line);
      else this.lines.push(line);
    });
    this.rl.on('close', () => {
      this.closed = true;
      const w = this.waiting;
      this.waiting = null;
      w?.(null);
    });
    this.rl.on('SIGINT', () => this.rl.close());
  }

  async prompt(question: string, { echo }: { echo: boolean }): Promise<string | null> {
    // From a pipe the question goes to standard error, as over SSH: standard output stays the result.
    (process.stdin.isTTY ? process.stdout : process.stderr).write(`${question}\n`);
    this.muted = !echo;
    try {
      return await this.readLine();
    } finally {
      if (!echo && process.stdin.isTTY) process.stdout.write('\n');
      this.muted = false;
    }
  }

  /** The next line typed, or null at end of input. */
  readLine(prompt?: string): Promise<string | null> {
    if (prompt !== undefined) {
      this.rl.setPrompt(prompt);
      this.rl.prompt();
    }
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  close(): void {
    this.rl.close();
  }
}

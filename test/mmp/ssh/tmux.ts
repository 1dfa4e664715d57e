import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TMUX, run } from './harness.js';

/**
 * A real terminal for the interactive tests: tmux runs the OpenSSH client in
 * a pseudo-terminal of a known size; we type with send-keys and read the
 * screen with capture-pane, as an operator in PuTTY would see it.
 */
export class TmuxTerminal {
  private readonly socket = `mmp-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  /** The client's exit status is written here by a wrapping shell: tmux's own pane status is racy. */
  private readonly statusFile = join(tmpdir(), `${this.socket}.status`);

  private tmux(args: string[]) {
    return run(TMUX, ['-L', this.socket, '-f', '/dev/null', ...args], { env: { TERM: 'xterm' } });
  }

  async start(command: string[], size = { cols: 100, rows: 30 }): Promise<void> {
    const wrapped = ['sh', '-c', `"$@"; echo $? > ${this.statusFile}; sleep 30`, 'sh', ...command];
    const r = await this.tmux(['new-session', '-d', '-s', 'mmp', '-x', String(size.cols), '-y', String(size.rows), ...wrapped]);
    if (r.code !== 0) throw new Error(`tmux new-session failed: ${r.stderr}`);
  }

  async resize(cols: number, rows: number): Promise<void> {
    await this.tmux(['resize-window', '-t', 'mmp', '-x', String(cols), '-y', String(rows)]);
  }

  /** Keys in tmux's names (Enter, C-c, Up, BSpace...). */
  async keys(...keys: string[]): Promise<void> {
    await this.tmux(['send-keys', '-t', 'mmp', ...keys]);
  }

  /** Literal text, typed as is. */
  async type(text: string): Promise<void> {
    await this.tmux(['send-keys', '-t', 'mmp', '-l', text]);
  }

  async screen(): Promise<string> {
    return (await this.tmux(['capture-pane', '-p', '-t', 'mmp', '-S', '-200'])).stdout;
  }

  /** Waits until the screen satisfies the predicate; fails with the screen after timeoutMs. */
  async waitFor(predicate: (screen: string) => boolean, what: string, timeoutMs = 8_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.screen();
      if (predicate(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${screen}`);
      await sleep(50);
    }
  }

  /** The client's exit status once it has exited, or undefined while it runs. */
  async exitStatus(): Promise<number | undefined> {
    const text = await readFile(this.statusFile, 'utf8').catch(() => '');
    return text.endsWith('\n') ? Number(text.trim()) : undefined;
  }

  /** Waits for the client to exit and returns its exit status. */
  async untilExited(timeoutMs = 5_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.exitStatus();
      if (status !== undefined) return status;
      if (Date.now() > deadline) throw new Error(`the client did not exit; screen:\n${await this.screen()}`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    await this.tmux(['kill-server']);
    await rm(this.statusFile, { force: true });
  }
}

/** Non-blank lines of the screen, right-trimmed. */
export function lines(screen: string): string[] {
  return screen.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
}

import type { ServerChannel } from 'ssh2';
import type { Terminal } from '../command.js';
import type { CommandRunner } from './command-runner.js';
import { StdinLines } from './stdin-lines.js';
import { TerminalIO } from './terminal-io.js';

const LEAVE = new Set(['exit', 'quit', 'logout']);

/**
 * The interactive MMP shell on a pseudo-terminal: `cb1> ` prompt, line
 * editing and history, prompts with echo off, Ctrl-C to drop a line, Ctrl-D
 * or `exit` to leave.
 */
export function runInteractiveShell(channel: ServerChannel, io: TerminalIO, runner: CommandRunner): Promise<void> {
  const terminal: Terminal = {
    async prompt(question, options) {
      io.write(question + '\n');
      const answer = await io.read('', { echo: options.echo, history: false });
      return answer.type === 'line' ? answer.text : null;
    },
  };
  return (async () => {
    for (;;) {
      const event = await io.read(`${runner.nodeName}> `, { echo: true, history: true });
      if (event.type === 'eof') break;
      if (event.type === 'cancel') continue;
      if (LEAVE.has(event.text.trim())) break;
      const result = await runner.run(event.text, terminal);
      io.write(result.output);
      if (io.isClosed) break;
    }
    finish(channel, 0);
  })();
}

/**
 * A shell without a terminal (`ssh -T node < script`, `echo cmd | ssh node`):
 * one command a line, no prompt and no echo; prompts take the next line.
 * Exits with the status of the last command, like `sh < script`.
 */
export function runScriptShell(channel: ServerChannel, runner: CommandRunner): Promise<void> {
  const lines = new StdinLines(channel);
  const terminal: Terminal = {
    async prompt(question) {
      channel.stderr.write(question + '\n');
      return lines.next();
    },
  };
  return (async () => {
    let status: number = 0;
    for (;;) {
      const line = await lines.next();
      if (line === null || LEAVE.has(line.trim())) break;
      const result = await runner.run(line, terminal);
      writeResult(channel, result.output, result.exitCode);
      status = result.exitCode;
    }
    finish(channel, status);
  })();
}

/** Success goes to standard output, an `Error:` line to standard error, so scripts can tell them apart. */
export function writeResult(channel: ServerChannel, output: string, exitCode: number): void {
  if (output === '') return;
  if (exitCode === 0) channel.write(output);
  else channel.stderr.write(output);
}

export function finish(channel: ServerChannel, status: number): void {
  try {
    channel.exit(status);
    channel.end();
  } catch {
    // The client went away first; nothing is left to tell it.
  }
}

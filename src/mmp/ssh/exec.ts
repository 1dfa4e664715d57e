import type { ServerChannel } from 'ssh2';
import type { Terminal } from '../command.js';
import type { CommandRunner } from './command-runner.js';
import { finish, writeResult } from './shell.js';
import { StdinLines } from './stdin-lines.js';
import type { TerminalIO } from './terminal-io.js';

/**
 * `ssh node 'xmpp cluster status'`: one command, its output, and its exit
 * status (0, 1, 2) as the exit status of ssh. Prompts read standard input
 * line by line and are never echoed; with `ssh -t` they read the terminal
 * with echo off instead.
 */
export async function runExec(channel: ServerChannel, command: string, runner: CommandRunner, io: TerminalIO | undefined): Promise<void> {
  if (io) {
    const terminal: Terminal = {
      async prompt(question, options) {
        io.write(question + '\n');
        const answer = await io.read('', { echo: options.echo, history: false });
        return answer.type === 'line' ? answer.text : null;
      },
    };
    const result = await runner.run(command, terminal);
    io.write(result.output);
    finish(channel, result.exitCode);
    return;
  }
  const lines = new StdinLines(channel);
  const terminal: Terminal = {
    async prompt(question) {
      // The question goes to standard error so that standard output stays the command's result.
      channel.stderr.write(question + '\n');
      return lines.next();
    },
  };
  const result = await runner.run(command, terminal);
  writeResult(channel, result.output, result.exitCode);
  finish(channel, result.exitCode);
}

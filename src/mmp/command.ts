/**
 * The contract between the MMP command interpreter and whatever carries it
 * (the SSH shell, exec mode, the local `xmpp-cluster mmp` CLI, tests).
 *
 * The interpreter is text in, text out: a line goes in, output and an exit
 * status come back. When a command needs an answer from the operator (a
 * secret, a confirmation) it asks through the Terminal, which the carrier
 * implements: the SSH shell reads a line with echo off, exec mode reads
 * standard input, tests answer from a script.
 */

/** 0 success, 1 failure, 2 usage error (reference/README.md). */
export type ExitCode = 0 | 1 | 2;

export type SessionMode = 'interactive' | 'exec';

export interface Terminal {
  /**
   * Prints `question` on its own line and reads one line of answer.
   * Resolves null when the operator cancels (Ctrl-C, end of input).
   */
  prompt(question: string, options: { echo: boolean }): Promise<string | null>;
}

export interface CommandResult {
  /** Text with '\n' line ends; ends with '\n' unless empty. */
  output: string;
  exitCode: ExitCode;
}

export interface CommandContext {
  /** Words after the command's own path, as typed. */
  args: string[];
  /** `--json` was given (and removed from args). */
  json: boolean;
  /** `--force` was given (and removed from args). */
  force: boolean;
  mode: SessionMode;
  /** The account that runs the command. */
  user: string;
  terminal: Terminal;
}

export interface CommandSpec {
  /** The words that select the command, e.g. ['xmpp', 'callbridge', 'add']. */
  path: string[];
  /** Syntax as help prints it, e.g. 'xmpp callbridge add <name>'. */
  usage: string;
  /** One line of explanation. */
  summary: string;
  /**
   * How many words may follow the path, [min, max]. Outside it the
   * interpreter answers with the usage line (or, for a group word such as
   * `xmpp`, an unknown-command line) without calling `run`.
   */
  args?: readonly [number, number];
  /** Returns the text to print (possibly empty); throws OperatorError (base/operator-error.ts) or UsageError. */
  run(ctx: CommandContext): Promise<string>;
}

/** Wrong arguments: printed as `Error: usage: <usage>`, exit 2. */
export class UsageError extends Error {
  constructor(readonly usage: string) {
    super(`usage: ${usage}`);
    this.name = 'UsageError';
  }
}

export interface CommandSession {
  /** Shown in the interactive prompt as `<nodeName>> `. */
  readonly nodeName: string;
  run(line: string, terminal: Terminal): Promise<CommandResult>;
}

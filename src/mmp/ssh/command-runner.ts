import type { Logger } from '../../observability/logger.js';
import type { CommandResult, CommandSession, SessionMode, Terminal } from '../command.js';
import { splitWords, type Interpreter } from '../interpreter.js';

/**
 * Runs one line through the interpreter for a logged-in user and records it.
 * The log names the command (its registered words) and the exit status, not
 * the line: an operator who types a password at the prompt by mistake must
 * not find it in the log.
 */
export interface CommandRunner {
  run(line: string, terminal: Terminal): Promise<CommandResult>;
  readonly nodeName: string;
}

export function commandRunner(options: {
  interpreter: Interpreter;
  nodeName: () => string;
  mode: SessionMode;
  user: string;
  address: string;
  logger: Logger;
}): CommandRunner {
  const { interpreter, logger, user, address, mode } = options;
  const session: CommandSession = interpreter.session({ nodeName: options.nodeName, mode, user });
  return {
    get nodeName() {
      return session.nodeName;
    },
    async run(line, terminal) {
      const result = await session.run(line, terminal);
      const command = commandName(interpreter, line);
      if (command !== undefined) logger.info({ event: 'command', user, address, mode, command, exitCode: result.exitCode }, 'MMP command');
      return result;
    },
  };
}

/** The registered words a line selects: `xmpp callbridge add`, `help`, or `<unknown>`; undefined for an empty line. */
export function commandName(interpreter: Interpreter, line: string): string | undefined {
  let words: string[];
  try {
    words = splitWords(line);
  } catch {
    return '<unparsable>';
  }
  if (words.length === 0) return undefined;
  if (words[0] === 'help') return 'help';
  let best: string[] | undefined;
  for (const c of interpreter.list()) {
    if (c.path.length <= words.length && c.path.every((w, i) => words[i] === w) && (!best || c.path.length > best.length)) best = c.path;
  }
  return best ? best.join(' ') : '<unknown>';
}

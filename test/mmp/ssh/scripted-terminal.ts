import { Interpreter } from '../../../src/mmp/interpreter.js';
import type { CommandResult, SessionMode, Terminal } from '../../../src/mmp/command.js';

/** A terminal that answers prompts from a script and records what was asked. */
export class ScriptedTerminal implements Terminal {
  readonly asked: { question: string; echo: boolean }[] = [];
  constructor(private readonly answers: (string | null)[] = []) {}
  async prompt(question: string, options: { echo: boolean }): Promise<string | null> {
    this.asked.push({ question, echo: options.echo });
    return this.answers.length > 0 ? this.answers.shift()! : null;
  }
}

export async function runLine(
  interpreter: Interpreter,
  line: string,
  options: { answers?: (string | null)[]; user?: string; mode?: SessionMode } = {},
): Promise<CommandResult & { terminal: ScriptedTerminal }> {
  const terminal = new ScriptedTerminal(options.answers);
  const result = await interpreter.run(line, terminal, options.mode ?? 'interactive', options.user ?? 'admin');
  return { ...result, terminal };
}

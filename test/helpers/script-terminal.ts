import type { Terminal } from '../../src/mmp/command.js';

/** A Terminal that answers prompts from a script and records what was asked. */
export class ScriptTerminal implements Terminal {
  readonly asked: Array<{ question: string; echo: boolean }> = [];
  constructor(private readonly answers: Array<string | null> = []) {}
  async prompt(question: string, options: { echo: boolean }): Promise<string | null> {
    this.asked.push({ question, echo: options.echo });
    if (this.answers.length === 0) throw new Error(`unexpected prompt: ${question}`);
    return this.answers.shift()!;
  }
}

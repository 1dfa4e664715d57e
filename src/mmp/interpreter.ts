import { OperatorError } from '../base/operator-error.js';
import {
  UsageError,
  type CommandResult,
  type CommandSession,
  type CommandSpec,
  type SessionMode,
  type Terminal,
} from './command.js';

/**
 * Finds the command a line names, runs it, and turns what it returns or
 * throws into output and an exit status. Knows nothing of SSH or files: the
 * commands reach the node through whatever they closed over.
 */
export class Interpreter {
  private readonly commands: CommandSpec[] = [];

  constructor(commands: Iterable<CommandSpec> = []) {
    for (const c of commands) this.add(c);
  }

  add(command: CommandSpec): void {
    const key = command.path.join(' ');
    if (this.commands.some((c) => c.path.join(' ') === key)) throw new Error(`command '${key}' registered twice`);
    this.commands.push(command);
  }

  list(): readonly CommandSpec[] {
    return this.commands;
  }

  session(options: { nodeName: string | (() => string); mode: SessionMode; user: string }): CommandSession {
    const name = options.nodeName;
    return {
      get nodeName() {
        return typeof name === 'function' ? name() : name;
      },
      run: (line, terminal) => this.run(line, terminal, options.mode, options.user),
    };
  }

  async run(line: string, terminal: Terminal, mode: SessionMode, user: string): Promise<CommandResult> {
    let words: string[];
    try {
      words = splitWords(line);
    } catch (err) {
      return failure((err as Error).message, 2);
    }
    if (words.length === 0) return { output: '', exitCode: 0 };
    if (words[0] === 'help') return { output: this.help(words.slice(1)), exitCode: 0 };

    const resolved = this.resolve(words);
    if ('exitCode' in resolved) return resolved;
    const { command, args, json, force } = resolved;
    try {
      const output = await command.run({ args, json, force, mode, user, terminal });
      return { output: withFinalNewline(output), exitCode: 0 };
    } catch (err) {
      if (err instanceof UsageError) return failure(err.message, 2);
      if (err instanceof OperatorError) return failure(err.message, 1, err.before);
      return failure(`internal error: ${(err as Error).message ?? String(err)}`, 1);
    }
  }

  /**
   * The usage check alone: undefined when the line names a command with an
   * acceptable number of words, else the `Error:` result `run` would give
   * (README's command lines are checked against it).
   */
  usageProblem(line: string): CommandResult | undefined {
    let words: string[];
    try {
      words = splitWords(line);
    } catch (err) {
      return failure((err as Error).message, 2);
    }
    if (words.length === 0 || words[0] === 'help') return undefined;
    const resolved = this.resolve(words);
    return 'exitCode' in resolved ? resolved : undefined;
  }

  /** The command the words name and its arguments, or the usage failure. */
  private resolve(words: string[]): { command: CommandSpec; args: string[]; json: boolean; force: boolean } | CommandResult {
    const command = this.match(words);
    if (!command) return this.unknown(words);
    const rest = words.slice(command.path.length);
    const json = rest.includes('--json');
    const force = rest.includes('--force');
    const args = rest.filter((w) => w !== '--json' && w !== '--force');
    if (command.args) {
      const [min, max] = command.args;
      if (args.length > max && this.isGroup(command)) return this.unknown(words);
      if (args.length < min || args.length > max) return failure(`usage: ${command.usage}`, 2);
    }
    return { command, args, json, force };
  }

  /** The longest registered path that prefixes the words. */
  private match(words: string[]): CommandSpec | undefined {
    let best: CommandSpec | undefined;
    for (const c of this.commands) {
      if (c.path.length > words.length) continue;
      if (c.path.every((w, i) => words[i] === w) && (!best || c.path.length > best.path.length)) best = c;
    }
    return best;
  }

  /** Other commands extend this one's path (`xmpp` and `xmpp callbridge add`). */
  private isGroup(command: CommandSpec): boolean {
    return this.commands.some((c) => c.path.length > command.path.length && command.path.every((w, i) => c.path[i] === w));
  }

  /** One line (reference: commands.md); inside a known group it points at that group's help. */
  private unknown(words: string[]): CommandResult {
    const group = this.commands.filter((c) => c.path[0] === words[0]);
    if (group.length > 0) {
      const prefix = longestKnownPrefix(group, words);
      return failure(`unknown command '${words.slice(0, prefix.length + 1).join(' ')}'; type help ${prefix.join(' ')}`, 2);
    }
    return failure(`unknown command '${words[0]}'; type help`, 2);
  }

  /** `help` lists the groups; `help <words>` the syntax of every command under them. */
  help(words: string[]): string {
    if (words.length === 0) {
      const groups = new Map<string, string[]>();
      for (const c of this.commands) {
        const g = c.path[0]!;
        groups.set(g, [...(groups.get(g) ?? []), c.path.slice(1).join(' ')]);
      }
      const lines = ['Commands (type help <command> for details):'];
      for (const [g, subs] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
        lines.push(`  ${g.padEnd(10)} ${groupSummary(g, subs)}`);
      }
      lines.push('  help       this list; help <command> shows its syntax');
      lines.push('  exit       leave the shell');
      return lines.join('\n') + '\n';
    }
    const matching = this.commands.filter((c) => words.every((w, i) => c.path[i] === w));
    if (matching.length === 0) return `Error: no command starts with '${words.join(' ')}'; type help\n`;
    const width = Math.min(60, Math.max(...matching.map((c) => c.usage.length)));
    return matching.map((c) => `${c.usage.padEnd(width)}  ${c.summary}`).join('\n') + '\n';
  }
}

const GROUP_SUMMARIES: Record<string, string> = {
  xmpp: 'XMPP server settings, call bridges, cluster, DNS and federation',
  pki: 'certificates and keys in the certificate folder',
  user: 'administrator accounts',
  passwd: 'change a password',
};

function groupSummary(group: string, subs: string[]): string {
  return GROUP_SUMMARIES[group] ?? subs.filter(Boolean).join(', ');
}

function longestKnownPrefix(commands: CommandSpec[], words: string[]): string[] {
  let n = 0;
  for (let i = 1; i <= words.length; i++) {
    if (commands.some((c) => c.path.length > i - 1 && words.slice(0, i).every((w, j) => c.path[j] === w))) n = i;
    else break;
  }
  return words.slice(0, Math.max(1, n));
}

function failure(message: string, exitCode: 1 | 2, before = ''): CommandResult {
  return { output: `${withFinalNewline(before)}Error: ${message}\n`, exitCode };
}

function withFinalNewline(s: string): string {
  return s === '' || s.endsWith('\n') ? s : s + '\n';
}

/**
 * Words are separated by spaces, as the MMP has them; a word may be put in
 * double quotes to hold spaces (a certificate subject, say).
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
    if (i >= n) break;
    if (line[i] === '"') {
      const end = line.indexOf('"', i + 1);
      if (end === -1) throw new Error('unterminated quote');
      words.push(line.slice(i + 1, end));
      i = end + 1;
    } else {
      let j = i;
      while (j < n && line[j] !== ' ' && line[j] !== '\t') j++;
      words.push(line.slice(i, j));
      i = j;
    }
  }
  return words;
}

/**
 * A reader for the Dockerfile instructions the packaging tests check: the
 * form Docker's parser gives them (comments dropped, `\` continuations
 * joined, one instruction a line), grouped into stages by FROM. Enough for
 * our own Dockerfile; not a general parser (no heredocs, no escape directive).
 */
export interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

export interface Stage {
  readonly base: string;
  readonly name: string | null;
  readonly instructions: readonly Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (pending === '' && /^\s*#/.test(line)) continue;
    if (pending !== '' && /^\s*#/.test(line)) continue; // a comment inside a continuation is skipped too
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const joined = (pending + line).trim();
    pending = '';
    if (joined !== '') lines.push(joined);
  }
  const stages: { base: string; name: string | null; instructions: Instruction[] }[] = [];
  for (const line of lines) {
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.replace(/\s+/g, ' ').trim();
    if (keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`FROM ${args}: not understood`);
      stages.push({ base: from[1]!, name: from[2] ?? null, instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) {
      if (keyword === 'ARG') continue;
      throw new Error(`${keyword} before the first FROM`);
    }
    stage.instructions.push({ keyword, args });
  }
  return stages;
}

/** COPY/ADD's flags (--from=build, --chown=...) and its sources; the last word is the destination. */
export function copySources(args: string): { from: string | null; sources: string[]; destination: string } {
  let words: string[];
  const json = args.replace(/^(--\S+\s+)*/, '');
  const flags = args.slice(0, args.length - json.length).trim().split(/\s+/).filter(Boolean);
  if (json.startsWith('[')) words = JSON.parse(json) as string[];
  else words = json.split(' ');
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length) ?? null;
  return { from, sources: words.slice(0, -1), destination: words[words.length - 1]! };
}

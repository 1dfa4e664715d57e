import { splitWords } from '../../src/mmp/interpreter.js';

/**
 * README's operator's guide, read as a script. The blocks it marks with
 * `<!-- guide -->` (run once, as written) or `<!-- guide: each host -->`
 * (written for xmpp1 at 192.0.2.11, run for each host with its name and
 * address) are transcripts:
 *
 *   xmpp1> <command>        an MMP command on node xmpp1 (ssh)
 *   $ <command>             a command on the workstation (openssl, sftp, dig, curl)
 *   sftp> <command>         a command of the sftp session opened by the `$ sftp` line above
 *   ExecStart=... node ...  the node's command line (a systemd drop-in)
 *   anything else           what the command above answers; `<name>` matches anything
 *
 * The test runs them in README's order, so a guide that drifts from what the
 * MMP accepts fails it.
 */

export const GUIDE_HEADING = "## Operator's guide: three nodes on three hosts";
/** The runbook's marked blocks run after the guide's, on the cluster it built. */
export const RUNBOOK_HEADING = '## Runbook';
export const GUIDE_HOSTS = ['xmpp1', 'xmpp2', 'xmpp3'] as const;
/** README's addresses are 192.0.2.11-13 (RFC 5737 documentation addresses). */
export const GUIDE_NETWORK = '192.0.2.';

export type GuideStep =
  | { kind: 'start'; host: string; args: string[] }
  | { kind: 'mmp'; host: string; command: string; expect: string[] }
  | { kind: 'shell'; argv: string[]; expect: string[] }
  | { kind: 'sftp'; address: string; batch: string[] };

export interface GuideBlock {
  eachHost: boolean;
  lines: string[];
}

/** The marked blocks of one section (the guide's by default), in order. */
export function guideBlocks(readme: string, heading = GUIDE_HEADING): GuideBlock[] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no "${heading}" section`);
  const next = readme.indexOf('\n## ', start + heading.length);
  const section = readme.slice(start, next < 0 ? undefined : next);
  const blocks: GuideBlock[] = [];
  const marker = /<!-- guide(: each host)? -->\n```[a-z]*\n([\s\S]*?)\n```/g;
  for (const m of section.matchAll(marker)) blocks.push({ eachHost: m[1] !== undefined, lines: m[2]!.split('\n') });
  return blocks;
}

/** xmpp1 → xmppN, 192.0.2.11 → 192.0.2.1N: a block written for the first host, for host N (1-based). */
export function forHost(line: string, n: number): string {
  return line.replaceAll('xmpp1', `xmpp${n}`).replaceAll(`${GUIDE_NETWORK}11`, `${GUIDE_NETWORK}${10 + n}`);
}

/** Strips a trailing `# comment` from a command line. */
function command(text: string): string {
  return text.replace(/\s+#\s.*$/, '').trim();
}

/** The steps of one block's lines (already adapted to their host). */
export function guideSteps(lines: readonly string[]): GuideStep[] {
  const steps: GuideStep[] = [];
  const last = () => steps.at(-1);
  for (const line of lines) {
    if (line.trim() === '' || line === '[Service]' || line === 'ExecStart=') continue;
    const prompt = /^(xmpp\d)> (.*)$/.exec(line);
    if (prompt) {
      steps.push({ kind: 'mmp', host: prompt[1]!, command: command(prompt[2]!), expect: [] });
      continue;
    }
    const start = /^ExecStart=\S+ \S+cli\.js node (.*)$/.exec(line);
    if (start) {
      const args = splitWords(start[1]!);
      const name = args[args.indexOf('--name') + 1];
      if (!name) throw new Error(`guide: ${line}: no --name`);
      steps.push({ kind: 'start', host: name, args });
      continue;
    }
    if (line.startsWith('$ ')) {
      const argv = splitWords(command(line.slice(2)));
      if (argv[0] === 'sftp') {
        const target = /^admin@(.+)$/.exec(argv.at(-1) ?? '');
        if (!target) throw new Error(`guide: ${line}: expected sftp -P 2222 admin@<address>`);
        steps.push({ kind: 'sftp', address: target[1]!, batch: [] });
      } else {
        steps.push({ kind: 'shell', argv, expect: [] });
      }
      continue;
    }
    const step = last();
    if (line.startsWith('sftp> ')) {
      if (step?.kind !== 'sftp') throw new Error(`guide: ${line}: an sftp command without a $ sftp line before it`);
      step.batch.push(command(line.slice(6)));
      continue;
    }
    if (!step || step.kind === 'sftp' || step.kind === 'start') throw new Error(`guide: "${line}" is output, but no command before it prints any`);
    step.expect.push(line);
  }
  return steps;
}

/** Every step of the guide (or of the runbook), each-host blocks repeated for xmpp1, xmpp2, xmpp3. */
export function guideScript(readme: string, heading = GUIDE_HEADING): GuideStep[] {
  return guideBlocks(readme, heading).flatMap((b) => (b.eachHost ? GUIDE_HOSTS.flatMap((_, i) => guideSteps(b.lines.map((l) => forHost(l, i + 1)))) : guideSteps(b.lines)));
}

/**
 * Whether `actual` holds the `expected` lines in order (others may come
 * between); `<name>` in an expected line matches any text, and what it
 * matched is returned under that name (the `<secret>` of `xmpp callbridge add`).
 */
export function matchOutput(expected: readonly string[], actual: string): { ok: true; captured: Record<string, string> } | { ok: false; missing: string } {
  const lines = actual.replace(/\n$/, '').split('\n');
  const captured: Record<string, string> = {};
  let at = 0;
  for (const want of expected) {
    const names: string[] = [];
    const pattern = new RegExp(
      `^${want
        .split(/(<[a-z-]+>)/)
        .map((part) => {
          const name = /^<([a-z-]+)>$/.exec(part)?.[1];
          if (name) {
            names.push(name);
            return '(.+?)';
          }
          return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        })
        .join('')}$`,
    );
    let found = false;
    while (at < lines.length) {
      const m = pattern.exec(lines[at++]!);
      if (m) {
        names.forEach((n, i) => (captured[n] = m[i + 1]!));
        found = true;
        break;
      }
    }
    if (!found) return { ok: false, missing: want };
  }
  return { ok: true, captured };
}

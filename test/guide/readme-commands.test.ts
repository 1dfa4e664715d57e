import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeInterpreter } from '../../src/mmp/node-commands.js';
import type { Interpreter } from '../../src/mmp/interpreter.js';
import { splitWords } from '../../src/mmp/interpreter.js';
import { UserStore } from '../../src/mmp/users.js';
import { XmppNode } from '../../src/node/xmpp-node.js';
import { NodeMetrics } from '../../src/process/node-metrics.js';
import { parseSubjectWords } from '../../src/pki/subject.js';
import { LogCapture, tempDir } from '../helpers/test-node.js';

/**
 * README against the code, for what the guide test does not run: every MMP
 * command line README shows (`cb1> ...`, `xmpp3> ...`, `ssh ... '<command>'`)
 * passes the interpreter's usage check (a known command, words in number),
 * `pki csr` attributes parse, and the metrics table lists exactly the
 * metrics a node registers.
 */

let readme: string;
let node: XmppNode;
let mmp: Interpreter;

beforeAll(async () => {
  readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const dataDir = await tempDir('readme-');
  node = await XmppNode.open({ dataDir, name: 'cb1', address: '127.0.18.30', log: new LogCapture().logger, serve: false });
  mmp = nodeInterpreter(node, { users: await UserStore.open(dataDir) });
});
afterAll(async () => node?.close());

/** `cb1> xmpp cluster trust abhiall.cer   # a comment` in fenced blocks, and `ssh -p 2222 admin@host 'xmpp status'` anywhere. */
function readmeCommands(text: string): string[] {
  const commands: string[] = [];
  for (const block of text.matchAll(/^ *```[a-z]*\n([\s\S]*?)^ *```/gm)) {
    for (const line of block[1]!.split('\n')) {
      const m = /^ *([A-Za-z][\w-]*)> (.+)$/.exec(line);
      if (m && m[1] !== 'sftp') commands.push(m[2]!.replace(/\s+#\s.*$/, '').trim());
    }
  }
  for (const m of text.matchAll(/ssh -p \d+ admin@\S+ '([^']+)'/g)) commands.push(m[1]!);
  return commands;
}

describe("README's command lines", () => {
  it('are every one a command the MMP accepts, with the number of words it takes', () => {
    const commands = readmeCommands(readme);
    expect(commands.length).toBeGreaterThan(40);
    const refused = commands.map((c) => ({ command: c, problem: mmp.usageProblem(c)?.output })).filter((r) => r.problem !== undefined);
    expect(refused).toEqual([]);
  });

  it('named in prose (`xmpp cluster remove xmpp3`) are known commands, spelled as the MMP has them', () => {
    // Concrete spans only: syntax forms hold <placeholders>, [options] or | alternatives.
    const spans = [...readme.matchAll(/`((?:xmpp|pki|user|passwd)(?: [^`<>|[\]]*)?)`/g)].map((m) => m[1]!.replace(/ \.\.\.$/, '').trim());
    expect(spans.length).toBeGreaterThan(80);
    // A group's name (`xmpp cluster`, `pki`) names the group, not a command.
    const isGroup = (c: string) => mmp.list().some((spec) => c.split(' ').every((w, i) => spec.path[i] === w));
    const unknown = spans
      .filter((c) => !isGroup(c))
      .map((c) => ({ command: c, problem: mmp.usageProblem(c)?.output }))
      .filter((r) => r.problem?.includes('unknown command'));
    expect(unknown).toEqual([]);
  });

  it('give pki csr and pki selfsigned attributes that parse', () => {
    const pki = readmeCommands(readme).filter((c) => /^pki (csr|selfsigned) /.test(c));
    expect(pki.length).toBeGreaterThanOrEqual(2);
    for (const c of pki) {
      const [, , basename, ...attributes] = splitWords(c);
      if (attributes.some((a) => a.includes('<'))) continue; // the syntax line, not an example
      expect({ c, basename: /^[\w-]+$/.test(basename!) }).toEqual({ c, basename: true });
      expect(() => parseSubjectWords(attributes), c).not.toThrow();
    }
  });

  it('the usage check itself refuses an unknown command and a wrong number of words', () => {
    expect(mmp.usageProblem('xmpp cluster joinn 192.0.2.11')?.exitCode).toBe(2);
    expect(mmp.usageProblem('xmpp cluster join')?.output).toBe('Error: usage: xmpp cluster join <cluster>[:<port>]\n');
    expect(mmp.usageProblem('xmpp cluster join 192.0.2.11')).toBeUndefined();
  });
});

describe("README's metrics table", () => {
  it('lists exactly the xmpp_cluster_ metrics a node registers', async () => {
    const section = readme.slice(readme.indexOf('## Metrics and health'), readme.indexOf('\n## ', readme.indexOf('## Metrics and health') + 5));
    const listed = new Set<string>();
    for (const row of section.matchAll(/^\| (`xmpp_cluster_[^|]+)\|/gm)) for (const name of row[1]!.matchAll(/`(xmpp_cluster_\w+)`/g)) listed.add(name[1]!);
    const metrics = new NodeMetrics(node);
    try {
      const registered = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('xmpp_cluster_')));
      expect([...listed].sort()).toEqual([...registered].sort());
    } finally {
      metrics.close();
    }
  });
});

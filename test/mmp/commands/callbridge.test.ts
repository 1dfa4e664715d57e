import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeInterpreter } from '../../../src/mmp/node-commands.js';
import type { Interpreter } from '../../../src/mmp/interpreter.js';
import { XmppNode } from '../../../src/node/xmpp-node.js';
import { ScriptTerminal } from '../../helpers/script-terminal.js';
import { LogCapture, tempDir } from '../../helpers/test-node.js';

/** `xmpp callbridge ...` with the reference's exact words and layouts (reference/commands.md). */

let node: XmppNode;
let mmp: Interpreter;
const run = (line: string, answers: Array<string | null> = [], mode: 'interactive' | 'exec' = 'interactive') =>
  mmp.run(line, new ScriptTerminal(answers), mode, 'admin');

beforeEach(async () => {
  node = await XmppNode.open({ dataDir: await tempDir(), name: 'cb1', address: '127.0.0.1', log: new LogCapture().logger, serve: false });
  mmp = nodeInterpreter(node);
  await run('xmpp domain tptac9.com');
});
afterEach(async () => node.close());

describe('xmpp callbridge add', () => {
  it('prints the success line and a generated secret of 20 letters and digits', async () => {
    const r = await run('xmpp callbridge add cb1');
    expect(r.exitCode).toBe(0);
    expect(r.output).toMatch(/^Successfully added callbridge\.\nSecret: [A-Za-z0-9]{20}\n$/);
    expect(node.configuration().callbridge('cb1')?.secret).toBe(r.output.split('Secret: ')[1]!.trim());
  });

  it('refuses a name that exists, or is not a DNS label, with one Error line and no change', async () => {
    await run('xmpp callbridge add cb1');
    const before = node.configuration().callbridges();
    expect(await run('xmpp callbridge add cb1')).toEqual({ output: 'Error: callbridge cb1 already exists; del it first to change its secret\n', exitCode: 1 });
    expect(await run('xmpp callbridge add CB1')).toMatchObject({ exitCode: 1 });
    for (const bad of ['-cb', 'cb_1', 'a.b', 'x'.repeat(64)]) {
      const r = await run(`xmpp callbridge add ${bad}`);
      expect(r.exitCode).toBe(1);
      expect(r.output).toMatch(/^Error: '.*' is not a valid callbridge name: [^\n]*\n$/);
    }
    expect(node.configuration().callbridges()).toEqual(before);
  });

  it('answers missing or extra words with the usage line', async () => {
    expect(await run('xmpp callbridge add')).toEqual({ output: 'Error: usage: xmpp callbridge add <name>\n', exitCode: 2 });
    expect(await run('xmpp callbridge add a b')).toEqual({ output: 'Error: usage: xmpp callbridge add <name>\n', exitCode: 2 });
  });
});

describe('xmpp callbridge add-secret', () => {
  it('prompts "Enter callbridge secret" with echo off and stores what was typed', async () => {
    const terminal = new ScriptTerminal(['kvgP1SRzWVabhiPVAb1']);
    const r = await mmp.run('xmpp callbridge add-secret cb2', terminal, 'interactive', 'admin');
    expect(r).toEqual({ output: 'Successfully added callbridge.\n', exitCode: 0 });
    expect(terminal.asked).toEqual([{ question: 'Enter callbridge secret', echo: false }]);
    expect(node.configuration().callbridge('cb2')?.secret).toBe('kvgP1SRzWVabhiPVAb1');
  });

  it('refuses an empty secret, one with spaces, and a cancelled prompt, changing nothing', async () => {
    expect((await run('xmpp callbridge add-secret cb2', [''])).output).toBe('Error: the secret is empty\n');
    expect((await run('xmpp callbridge add-secret cb2', ['two words'])).output).toBe('Error: the secret may not contain spaces or control characters\n');
    expect((await run('xmpp callbridge add-secret cb2', [null])).output).toBe('Error: no secret given; nothing was changed\n');
    expect(node.configuration().callbridges()).toEqual([]);
  });

  it('refuses an existing name before asking for a secret', async () => {
    await run('xmpp callbridge add cb2');
    const terminal = new ScriptTerminal([]);
    const r = await mmp.run('xmpp callbridge add-secret cb2', terminal, 'interactive', 'admin');
    expect(r.exitCode).toBe(1);
    expect(terminal.asked).toEqual([]);
  });
});

describe('xmpp callbridge list and del', () => {
  it('lists every call bridge sorted by name in the seed layout', async () => {
    await run('xmpp callbridge add-secret cb2', ['uBiLLdIU8vVQgj86CAb1']);
    await run('xmpp callbridge add-secret cb1', ['kvgP1SRzWVabhiPVAb1']);
    await run('xmpp callbridge add-secret cb3', ['RITmSh4smhLYguGpAb1']);
    const r = await run('xmpp callbridge list');
    expect(r.output).toBe(
      [
        '***',
        'Callbridge : cb1',
        'Domain     : tptac9.com',
        'Secret     : kvgP1SRzWVabhiPVAb1',
        '***',
        'Callbridge : cb2',
        'Domain     : tptac9.com',
        'Secret     : uBiLLdIU8vVQgj86CAb1',
        '***',
        'Callbridge : cb3',
        'Domain     : tptac9.com',
        'Secret     : RITmSh4smhLYguGpAb1',
        '',
      ].join('\n'),
    );
    const asJson = JSON.parse((await run('xmpp callbridge list --json')).output);
    expect(asJson[0]).toEqual({ callbridge: 'cb1', domain: 'tptac9.com', secret: 'kvgP1SRzWVabhiPVAb1' });
  });

  it('says so when the registry is empty', async () => {
    expect((await run('xmpp callbridge list')).output).toBe('No callbridges configured.\n');
  });

  it('deletes a call bridge, and names one that does not exist', async () => {
    await run('xmpp callbridge add cb1');
    expect(await run('xmpp callbridge del cb1')).toEqual({ output: '', exitCode: 0 });
    expect(await run('xmpp callbridge del cb1')).toEqual({ output: 'Error: no callbridge named cb1\n', exitCode: 1 });
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, PASSWORD_ONLY, SSH, SSHPASS, TMUX, requireBinaries, sshOptions, startTestNode, type TestNode } from './harness.js';
import { TmuxTerminal, lines } from './tmux.js';

let node: TestNode;
let term: TmuxTerminal | undefined;

beforeAll(async () => {
  requireBinaries(SSH, SSHPASS, TMUX);
  node = await startTestNode();
});
afterAll(async () => node?.stop());
afterEach(async () => {
  await term?.stop();
  term = undefined;
});

async function login(): Promise<TmuxTerminal> {
  const t = new TmuxTerminal();
  await t.start(['env', `SSHPASS=${ADMIN_PASSWORD}`, SSHPASS, '-e', SSH, '-tt', ...sshOptions(node.server.port, PASSWORD_ONLY), 'admin@127.0.0.1']);
  await t.waitFor((s) => lines(s).at(-1) === 'cb1>', 'the first prompt');
  return t;
}

/** How many prompts the screen shows: one per line typed, plus the current one. */
const prompts = (screen: string) => lines(screen).filter((l) => l.startsWith('cb1>')).length;

describe('interactive shell in a real terminal (OpenSSH client in tmux)', () => {
  it('shows the cb1> prompt, runs commands, reads secrets with echo off and leaves on exit', async () => {
    term = await login();
    await term.type('pki list');
    await term.keys('Enter');
    let screen = await term.waitFor((s) => s.includes('User supplied certificates and keys:') && lines(s).at(-1) === 'cb1>', 'pki list output');
    expect(lines(screen)).toEqual(['cb1> pki list', 'User supplied certificates and keys:', 'cb1>']);

    await term.type('user add bob admin');
    await term.keys('Enter');
    await term.waitFor((s) => lines(s).at(-1) === 'Please enter new password:', 'the first password prompt');
    await term.type('typed-secret-77');
    await term.keys('Enter');
    await term.waitFor((s) => lines(s).at(-1) === 'Please enter new password again:', 'the second password prompt');
    await term.type('typed-secret-77');
    await term.keys('Enter');
    screen = await term.waitFor((s) => prompts(s) === 3, 'the prompt after user add');
    expect(screen).not.toContain('typed-secret-77');
    expect(lines(screen).slice(2)).toEqual(['cb1> user add bob admin', 'Please enter new password:', 'Please enter new password again:', 'cb1>']);
    expect(await node.users.verify('bob', 'typed-secret-77')).toBe(true);

    await term.type('exit');
    await term.keys('Enter');
    expect(await term.untilExited()).toBe(0);
  });

  it('Ctrl-C drops the line being typed and cancels a prompt; nothing is run or changed', async () => {
    term = await login();
    await term.type('pki list');
    await term.keys('C-c');
    let screen = await term.waitFor((s) => prompts(s) === 2 && s.includes('^C'), 'a fresh prompt after Ctrl-C');
    expect(lines(screen)).toEqual(['cb1> pki list^C', 'cb1>']);

    await term.type('user add carol admin');
    await term.keys('Enter');
    await term.waitFor((s) => lines(s).at(-1) === 'Please enter new password:', 'the password prompt');
    await term.type('half-typed');
    await term.keys('C-c');
    screen = await term.waitFor((s) => prompts(s) === 3, 'the prompt after a cancelled secret');
    expect(lines(screen).slice(1)).toEqual(['cb1> user add carol admin', 'Please enter new password:', '^C', 'Error: cancelled; nothing was changed', 'cb1>']);
    expect(screen).not.toContain('half-typed');
    expect(node.users.has('carol')).toBe(false);
  });

  it('edits lines: backspace, left arrow and insert, Ctrl-U, up-arrow history; Ctrl-D leaves', async () => {
    term = await login();
    await term.type('pki listx');
    await term.keys('BSpace', 'Enter');
    await term.waitFor((s) => prompts(s) === 2, 'pki list after backspace');

    await term.type('pki lst');
    await term.keys('Left', 'Left');
    await term.type('i');
    await term.keys('Enter');
    let screen = await term.waitFor((s) => prompts(s) === 3, 'pki list after inserting with the cursor');
    expect(lines(screen).filter((l) => l === 'User supplied certificates and keys:')).toHaveLength(2);

    await term.type('garbage that is cleared');
    await term.keys('C-u');
    await term.type('help pki');
    await term.keys('Enter');
    screen = await term.waitFor((s) => prompts(s) === 4 && s.includes('pki match'), 'help after Ctrl-U');
    expect(screen).toContain('cb1> help pki');
    expect(screen).not.toContain('garbage');
    expect(screen).toMatch(/pki csr <basename> CN:<name>/);

    await term.keys('Up', 'Up', 'Down');
    screen = await term.waitFor((s) => lines(s).at(-1) === 'cb1> help pki', 'history recall of the last line');
    await term.keys('C-u', 'C-d');
    expect(await term.untilExited()).toBe(0);
  });

  it('exec mode with ssh -t reads a prompt from the terminal with echo off and exits with the status', async () => {
    term = new TmuxTerminal();
    await term.start(['env', `SSHPASS=${ADMIN_PASSWORD}`, SSHPASS, '-e', SSH, '-tt', ...sshOptions(node.server.port, PASSWORD_ONLY), 'admin@127.0.0.1', 'user add dave admin']);
    await term.waitFor((s) => lines(s).at(-1) === 'Please enter new password:', 'the first prompt');
    await term.type('daves-secret-1');
    await term.keys('Enter');
    await term.waitFor((s) => lines(s).at(-1) === 'Please enter new password again:', 'the second prompt');
    await term.type('daves-secret-2');
    await term.keys('Enter');
    expect(await term.untilExited()).toBe(1);
    const screen = await term.screen();
    expect(lines(screen)[0]).toBe('Please enter new password:');
    expect(screen).toContain('Error: the passwords do not match; nothing was changed');
    expect(screen).not.toMatch(/daves-secret/);
    expect(node.users.has('dave')).toBe(false);
  });

  it('redraws the line being edited when the terminal is resized', async () => {
    term = new TmuxTerminal();
    await term.start(['env', `SSHPASS=${ADMIN_PASSWORD}`, SSHPASS, '-e', SSH, '-tt', ...sshOptions(node.server.port, PASSWORD_ONLY), 'admin@127.0.0.1'], { cols: 30, rows: 10 });
    await term.waitFor((s) => lines(s).at(-1) === 'cb1>', 'the prompt');
    await term.type('pki csr abhiall CN:tptac9.com subAltName:cb1.tptac9.com');
    // 30 columns: the line scrolls sideways, its start is out of view.
    let screen = await term.waitFor((s) => (lines(s).at(-1) ?? '').endsWith('cb1.tptac9.com'), 'the scrolled line');
    expect(lines(screen).at(-1)).not.toContain('pki csr');
    await term.resize(120, 10);
    screen = await term.waitFor((s) => lines(s).at(-1) === 'cb1> pki csr abhiall CN:tptac9.com subAltName:cb1.tptac9.com', 'the whole line after resizing');
    await term.keys('C-u', 'C-d');
    expect(await term.untilExited()).toBe(0);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSH, SSHPASS, requireBinaries, sshExec, startTestNode, type TestNode } from './harness.js';

let node: TestNode;

beforeAll(async () => {
  requireBinaries(SSH, SSHPASS);
  node = await startTestNode();
});
afterAll(async () => node?.stop());

describe('exec mode: ssh node <command>', () => {
  it('exits 0 and prints the output on standard output when the command succeeds', async () => {
    const r = await sshExec(node, 'help pki');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^pki list \[--json\]\s+list the files/);
    expect(r.stderr).toBe('');
  });

  it('exits 1 with one Error line on standard error when the command fails', async () => {
    const r = await sshExec(node, 'pki inspect missing.cer');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: missing.cer does not exist in the certificate folder; upload it by SFTP first (pki list shows what is there)\n');
  });

  it('exits 2 for an unknown command and for wrong arguments', async () => {
    const unknown = await sshExec(node, 'frobnicate now');
    expect(unknown).toMatchObject({ code: 2, stdout: '', stderr: "Error: unknown command 'frobnicate'; type help\n" });
    const usage = await sshExec(node, 'pki match only-one');
    expect(usage).toMatchObject({ code: 2, stderr: 'Error: usage: pki match <key> <cert>\n' });
  });

  it('answers prompts from standard input, never echoing them (user add)', async () => {
    const r = await sshExec(node, 'user add bob admin', { input: 'bobs-password-1\nbobs-password-1\n' });
    expect(r).toMatchObject({ code: 0, stdout: '' });
    // The questions go to standard error so that standard output stays the command's own.
    expect(r.stderr).toBe('Please enter new password:\nPlease enter new password again:\n');
    expect(r.stdout + r.stderr).not.toContain('bobs-password-1');
    expect(await node.users.verify('bob', 'bobs-password-1')).toBe(true);
    const asBob = await sshExec(node, 'user list', { user: 'bob', password: 'bobs-password-1' });
    expect(asBob).toMatchObject({ code: 0, stdout: 'User   Role\nadmin  admin\nbob    admin\n' });
  });

  it('treats end of input at a prompt as cancel, and changes nothing', async () => {
    const r = await sshExec(node, 'user add carol admin', { input: 'only-once-123\n' });
    expect(r).toMatchObject({ code: 1, stderr: 'Please enter new password:\nPlease enter new password again:\nError: cancelled; nothing was changed\n' });
    expect(node.users.has('carol')).toBe(false);
  });

  it('passwd asks for the current password, then the new one twice', async () => {
    const wrong = await sshExec(node, 'passwd', { user: 'bob', password: 'bobs-password-1', input: 'not-it\nnew-password-2\nnew-password-2\n' });
    expect(wrong).toMatchObject({ code: 1, stderr: 'Enter current password:\nError: the current password is wrong; nothing was changed\n' });
    const right = await sshExec(node, 'passwd', { user: 'bob', password: 'bobs-password-1', input: 'bobs-password-1\nnew-password-2\nnew-password-2\n' });
    expect(right.code).toBe(0);
    expect((await sshExec(node, 'pki list', { user: 'bob', password: 'new-password-2' })).code).toBe(0);
  });

  it('runs a script piped into a shell without a terminal, one command a line', async () => {
    const r = await sshExec(node, undefined, { input: 'pki list\nuser list\n', extra: ['-T'] });
    expect(r).toMatchObject({ code: 0, stdout: 'User supplied certificates and keys:\nUser   Role\nadmin  admin\nbob    admin\n' });
    const failing = await sshExec(node, undefined, { input: 'pki list\nno-such-command\n', extra: ['-T'] });
    expect(failing.code).toBe(2);
    expect(failing.stderr).toBe("Error: unknown command 'no-such-command'; type help\n");
  });

  it('logs each command by its name and exit status, not the typed line', async () => {
    await sshExec(node, 'my-password-typed-by-mistake');
    const commands = node.logs.map((l) => JSON.parse(l)).filter((l) => l.event === 'command');
    expect(commands).toEqual(expect.arrayContaining([expect.objectContaining({ module: 'mmp.ssh', user: 'admin', command: 'pki inspect', exitCode: 1, mode: 'exec' })]));
    expect(commands.at(-1)).toMatchObject({ command: '<unknown>', exitCode: 2 });
    expect(node.logs.join('\n')).not.toContain('my-password-typed-by-mistake');
    expect(node.logs.join('\n')).not.toContain('bobs-password-1');
  });
});

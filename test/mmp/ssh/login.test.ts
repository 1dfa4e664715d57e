import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, SSH, SSHPASS, requireBinaries, sshExec, startTestNode, type TestNode } from './harness.js';

let node: TestNode;

beforeAll(async () => {
  requireBinaries(SSH, SSHPASS);
  node = await startTestNode();
});
afterAll(async () => node?.stop());

describe('SSH login', () => {
  it('logs in with the admin password and runs a command', async () => {
    const r = await sshExec(node, 'pki list');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('User supplied certificates and keys:\n');
  });

  it('refuses a wrong password, logs user and address but never the password', async () => {
    const r = await sshExec(node, 'pki list', { password: 'wrong-password-here' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Permission denied/);
    const failed = node.logs.map((l) => JSON.parse(l)).filter((l) => l.event === 'login-failed');
    expect(failed).toEqual([expect.objectContaining({ module: 'mmp.ssh', user: 'admin', address: '127.0.0.1', method: 'password' })]);
    expect(node.logs.join('\n')).not.toContain('wrong-password-here');
    expect(node.logs.join('\n')).not.toContain(ADMIN_PASSWORD);
  });
});

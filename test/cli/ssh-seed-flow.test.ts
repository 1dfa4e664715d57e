
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { startNode, type RunningNode } from '../../src/process/node-process.js';
import { PASSWORD_ONLY, requireBinaries, run, sshOptions, SFTP, SSH, SSHPASS } from '../mmp/ssh/harness.js';
import { LogCapture, tempDir } from '../helpers/test-node.js';

/**
 * The CMS guide's single-node steps (seeds 002 and 004), typed over SSH with
 * the real OpenSSH client into a whole node, then a call bridge connecting
 * with the secret the operator was given.
 */

const PASSWORD = 'seed-flow-password';
let running: RunningNode;
let workDir: string;

const ssh = (command: string, input?: string) =>
  run(SSHPASS, ['-e', SSH, ...sshOptions(running.ssh!.port, PASSWORD_ONLY), 'admin@127.0.0.1', command], { input, env: { SSHPASS: PASSWORD } });

beforeAll(async () => {
  requireBinaries(SSH, SFTP, SSHPASS);
  workDir = await tempDir('seed-flow-');
  running = await startNode({
    dataDir: join(workDir, 'node'),
    name: 'cb1',
    address: '127.0.0.1',
    componentPorts: [0, 0],
    log: new LogCapture().logger,
    ssh: { host: '127.0.0.1', port: 0 },
    adminPassword: PASSWORD,
  });
});

afterAll(async () => running?.close());

describe("the CMS guide's steps over SSH", () => {
  let cb1Secret = '';

  it('takes a certificate by SFTP and lists it with pki list', async () => {
    const local = join(workDir, 'certall.cer');
    const made = await ssh('pki selfsigned abhiall CN:tptac9.com subAltName:cb1.tptac9.com,cb2.tptac9.com,cb3');
    expect(made.code).toBe(0);
    const fetched = await run(SSHPASS, ['-e', SFTP, ...sshOptions(running.ssh!.port, [...PASSWORD_ONLY, '-o', 'BatchMode=no']).map((a) => (a === '-p' ? '-P' : a)), '-b', '-', 'admin@127.0.0.1'], {
      input: `get abhiall.crt ${local}\nput ${local} certall.cer\n`,
      env: { SSHPASS: PASSWORD },
    });
    expect(fetched.code).toBe(0);
    const list = await ssh('pki list');
    expect(list.stdout.split('\n')).toEqual(expect.arrayContaining(['User supplied certificates and keys:', 'abhiall.key', 'abhiall.crt', 'certall.cer']));
  });

  it('configures the node word for word, each command answering with nothing', async () => {
    for (const command of ['xmpp domain tptac9.com', 'xmpp listen a', 'xmpp certs abhiall.key abhiall.crt certall.cer']) {
      const r = await ssh(command);
      expect({ command, code: r.code, out: r.stdout }).toEqual({ command, code: 0, out: '' });
    }
  });

  it('adds call bridges: add prints the secret, add-secret reads it from standard input', async () => {
    const add = await ssh('xmpp callbridge add cb1');
    expect(add.code).toBe(0);
    const m = /^Successfully added callbridge\.\nSecret: ([A-Za-z0-9]{20})\n$/.exec(add.stdout);
    expect(m).not.toBeNull();
    cb1Secret = m![1]!;
    const addSecret = await ssh('xmpp callbridge add-secret cb2', 'uBiLLdIU8vVQgj86CAb1\n');
    // The question goes to standard error, so that standard output stays the result.
    expect(addSecret).toMatchObject({ code: 0, stdout: 'Successfully added callbridge.\n', stderr: 'Enter callbridge secret\n' });
    const again = await ssh('xmpp callbridge add cb1');
    expect(again).toMatchObject({ code: 1, stdout: '', stderr: 'Error: callbridge cb1 already exists; del it first to change its secret\n' });
  });

  it('lists them in the layout of the guide, line by line', async () => {
    const list = await ssh('xmpp callbridge list');
    expect(list.stdout.split('\n')).toEqual([
      '***',
      'Callbridge : cb1',
      'Domain     : tptac9.com',
      `Secret     : ${cb1Secret}`,
      '***',
      'Callbridge : cb2',
      'Domain     : tptac9.com',
      'Secret     : uBiLLdIU8vVQgj86CAb1',
      '',
    ]);
  });

  it('enables the server; a call bridge connects with the secret it was given; xmpp status shows it', async () => {
    expect((await ssh('xmpp enable')).code).toBe(0);
    const shown = await ssh('xmpp');
    expect(shown.stdout).toContain('STATUS               : XMPP server running\n');
    expect(shown.stdout).toContain('CA Bundle file       : certall.cer\n');
    const st = running.node.serviceState();
    const port = st.state === 'running' ? st.bindings[0]!.port : 0;
    const bridge = await CallBridge.connect({ name: 'cb1', secret: cb1Secret, domain: 'tptac9.com', host: '127.0.0.1', port, bareName: true });
    try {
      const status = await ssh('xmpp status');
      expect(status.stdout).toMatch(/\ncb1\.tptac9\.com {2}127\.0\.0\.1:\d+ +cb1 /);
    } finally {
      await bridge.close();
    }
  });

  it('answers cluster status with the reference line while clustering is not enabled, and unknown words with help', async () => {
    expect(await ssh('xmpp cluster status')).toMatchObject({ code: 1, stderr: 'Error: clustering is not enabled on this node (xmpp cluster enable)\n' });
    expect(await ssh('xmpp callbridge frob')).toMatchObject({ code: 2, stderr: "Error: unknown command 'xmpp callbridge frob'; type help xmpp callbridge\n" });
  });
});


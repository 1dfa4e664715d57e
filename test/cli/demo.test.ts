import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, CliProcess, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/test-node.js';

/**
 * What a new operator does after reading the README: `npm start`, two
 * simulated call bridges from the command line, and MMP commands on the
 * running node. Everything runs as separate processes over real sockets.
 */

let dataDir: string;
let demo: CliProcess;
let secrets: Record<string, string>;

beforeAll(async () => {
  assertBuilt();
  dataDir = await tempDir('xmpp-demo-');
  demo = new CliProcess(['start', '--data-dir', dataDir]);
  await demo.waitForOutput(/Operate the node/);
  secrets = Object.fromEntries([...demo.stdout.matchAll(/(cb\d)\.example\.test {2}secret ([A-Za-z0-9]{20})/g)].map((m) => [m[1]!, m[2]!]));
});

afterAll(async () => {
  await demo?.stop();
});

describe('npm start', () => {
  it('prints both demo call bridges and the ports 5222 and 5223 on 127.0.0.1', () => {
    expect(Object.keys(secrets).sort()).toEqual(['cb1', 'cb2']);
    expect(demo.stdout).toContain('Component ports: 127.0.0.1:5222 127.0.0.1:5223');
    expect(demo.stdout).toContain('Domain         : example.test');
  });

  it('lets two xmpp-cluster bridge processes exchange messages through it', async () => {
    const echo = new CliProcess(['bridge', '--name', 'cb1', '--secret', secrets.cb1!, '--domain', 'example.test', '--server', '127.0.0.1:5222', '--echo']);
    try {
      await waitFor(async () => (await runCli(['mmp', '--data-dir', dataDir, 'xmpp status'])).stdout.includes('cb1.example.test'));
      const sender = await runCli(['bridge', '--name', 'cb2', '--secret', secrets.cb2!, '--domain', 'example.test', '--server', '127.0.0.1:5223', '--send', 'cb1.example.test', '--count', '3', '--expect', '3']);
      expect(sender.code).toBe(0);
      const replies = sender.stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(replies.map((r) => r.body)).toEqual(['hello 1', 'hello 2', 'hello 3']);
      expect(replies[0]).toMatchObject({ from: 'cb1.example.test', to: 'cb2.example.test' });
    } finally {
      await echo.stop();
    }
  });

  it('refuses a bridge with the wrong secret, in the words of the CMS log', async () => {
    const r = await runCli(['bridge', '--name', 'cb1', '--secret', 'wrong', '--domain', 'example.test', '--server', '127.0.0.1:5222', '--send', 'cb2.example.test']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('XMPP connection failed to connect to 127.0.0.1 due to authentication failure');
  });
});

describe('xmpp-cluster mmp on the running node', () => {
  it('runs commands through the control socket with the right exit codes', async () => {
    const list = await runCli(['mmp', '--data-dir', dataDir, 'xmpp callbridge list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`***\nCallbridge : cb1\nDomain     : example.test\nSecret     : ${secrets.cb1}\n`);
    expect((await runCli(['mmp', '--data-dir', dataDir, 'xmpp callbridge del nosuch'])).code).toBe(1);
    expect((await runCli(['mmp', '--data-dir', dataDir, 'xmpp nosuch'])).code).toBe(2);
  });

  it('reads the add-secret answer from standard input, and the new call bridge can connect at once', async () => {
    const r = await runCli(['mmp', '--data-dir', dataDir, 'xmpp callbridge add-secret cb3'], { input: 'kvgP1SRzWVabhiPVAb1\n' });
    expect(r.stdout).toBe('Successfully added callbridge.\n');
    expect(r.stderr).toBe('Enter callbridge secret\n');
    expect(r.code).toBe(0);
    const sender = await runCli(['bridge', '--name', 'cb3', '--secret', 'kvgP1SRzWVabhiPVAb1', '--domain', 'example.test', '--server', '127.0.0.1:5222', '--send', 'cb1.example.test']);
    expect(sender.code).toBe(0);
  });

  it('closes call bridges with <system-shutdown/> when the node stops', async () => {
    const bridge = new CliProcess(['bridge', '--name', 'cb2', '--secret', secrets.cb2!, '--domain', 'example.test', '--server', '127.0.0.1:5222']);
    await waitFor(async () => bridge.stderr.includes('connected as cb2.example.test'));
    expect(await demo.stop()).toBe(0);
    expect(await bridge.exited).toBe(0);
    expect(bridge.stderr).toContain('XMPP component connection disconnected due to failure reason: "system-shutdown"');
  });
});

describe('xmpp-cluster mmp on a stopped node', () => {
  it('edits the data directory directly, under the node lock', async () => {
    expect((await runCli(['mmp', '--data-dir', dataDir, 'xmpp callbridge add cb9'])).code).toBe(0);
    const shown = await runCli(['mmp', '--data-dir', dataDir, 'xmpp']);
    expect(shown.stdout).toContain('Domain               : example.test\n');
    expect(shown.stdout).toContain('STATUS               : XMPP server not running: the node process is not running\n');
    expect((await runCli(['mmp', '--data-dir', dataDir, 'xmpp callbridge list'])).stdout).toContain('Callbridge : cb9');
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

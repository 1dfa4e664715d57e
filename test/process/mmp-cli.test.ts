import { createConnection, createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { dataDirLayout } from '../../src/node/data-dir.js';
import { XmppNode } from '../../src/node/xmpp-node.js';
import { assertBuilt, CliProcess, runCli } from '../helpers/cli.js';
import { LogCapture, tempDir } from '../helpers/test-node.js';

/**
 * `xmpp-cluster mmp` as an operator runs it on the node's machine: whatever
 * state the data directory is in, a failure is one `Error:` line and a
 * non-zero exit, never a stack trace.
 */

const open = (dataDir: string) => XmppNode.open({ dataDir, name: 'xmpp1', address: '127.0.0.1', log: new LogCapture().logger, serve: false });

/** Exactly one line, an `Error:` line. */
function expectOneErrorLine(stderr: string): void {
  expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);
  expect(stderr).toMatch(/^Error: /);
  expect(stderr).not.toMatch(/\n\s+at /);
}

/** A node killed with -9: its lock is gone with it, its mmp.sock stays behind. */
async function killedNode(dataDir: string): Promise<void> {
  const node = new CliProcess(['node', '--data-dir', dataDir, '--component-ports', '0,0', '--no-ssh']);
  await node.waitForOutput(/"event":"node_started"/, 20_000, 'stderr');
  node.child.kill('SIGKILL');
  await node.exited;
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
}

describe('xmpp-cluster mmp', () => {
  it('edits the data directory of a node killed with -9, past its stale control socket', async () => {
    assertBuilt();
    const dataDir = await tempDir();
    await killedNode(dataDir);
    const r = await runCli(['mmp', '--data-dir', dataDir, 'xmpp domain example.test']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect((await runCli(['mmp', '--data-dir', dataDir, 'xmpp'])).stdout).toContain('Domain               : example.test\n');
  });

  it('waits --wait seconds for a holder that does not answer, then says who holds the directory, in one line', async () => {
    const dataDir = await tempDir();
    await killedNode(dataDir);
    // A process holds the lock without answering on the (stale) control socket, as a node that is starting does.
    const holder = await open(dataDir);
    try {
      const started = Date.now();
      const r = await runCli(['mmp', '--data-dir', dataDir, '--wait', '1', 'xmpp']);
      expect(r.code).toBe(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expectOneErrorLine(r.stderr);
      expect(r.stderr).toBe(
        `Error: the data directory ${dataDir} is held by pid ${process.pid}, which does not answer on its control socket; if a node is starting there, try again when it has started\n`,
      );
    } finally {
      await holder.close();
    }
  });

  it('runs the command once the starting node answers', async () => {
    const dataDir = await tempDir();
    const holder = await open(dataDir);
    const node = new CliProcess(['node', '--data-dir', dataDir, '--component-ports', '0,0', '--no-ssh']);
    try {
      await node.waitForOutput(/"event":"data_dir_lock_wait"/, 20_000, 'stderr');
      // The command starts while the node waits for the lock, and is answered by the node once it runs.
      const pending = runCli(['mmp', '--data-dir', dataDir, 'xmpp callbridge add cb1']);
      await holder.close();
      const r = await pending;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^Successfully added callbridge\.\nSecret: [A-Za-z0-9]{20}\n$/);
      expect((await runCli(['mmp', '--data-dir', dataDir, 'xmpp callbridge list'])).stdout).toContain('Callbridge : cb1');
    } finally {
      await node.stop('SIGKILL');
    }
  });

  it('reports a node that closes the control socket before answering in one line', async () => {
    const dataDir = await tempDir();
    const holder = await open(dataDir);
    // A node that dies under the command: it takes the connection and drops it.
    const dying = createServer((socket) => socket.destroy());
    await listen(dying, dataDirLayout(dataDir).controlSocket);
    try {
      const r = await runCli(['mmp', '--data-dir', dataDir, 'xmpp callbridge add cb1']);
      expect(r.code).toBe(1);
      expectOneErrorLine(r.stderr);
      // Which of the two the client sees depends on whether the reset comes before or after its write.
      expect(r.stderr).toMatch(/^Error: (the node closed the control socket before answering|the connection to the node failed \((ECONNRESET|EPIPE)\)); the command (may or may not have been applied|was not sent)\n$/);
    } finally {
      await new Promise<void>((resolve) => dying.close(() => resolve()));
      await holder.close();
    }
  });

  it('keeps the node up when clients drop the control socket in the middle of their commands', async () => {
    const dataDir = await tempDir();
    const node = new CliProcess(['node', '--data-dir', dataDir, '--component-ports', '0,0', '--no-ssh']);
    try {
      await node.waitForOutput(/"event":"node_started"/, 20_000, 'stderr');
      for (let i = 0; i < 20; i++) {
        const socket = createConnection(dataDirLayout(dataDir).controlSocket);
        socket.on('error', () => undefined);
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        socket.write(JSON.stringify({ run: `xmpp callbridge add dropped${i}`, mode: 'exec' }) + '\n');
        socket.destroy();
      }
      const r = await runCli(['mmp', '--data-dir', dataDir, 'xmpp callbridge list']);
      expect(r.code, r.stderr).toBe(0);
      expect(node.child.exitCode).toBeNull();
      expect(node.stderr).not.toContain('"event":"crashed"');
    } finally {
      await node.stop('SIGKILL');
    }
  });

  it('refuses a bad --wait in one line', async () => {
    const r = await runCli(['mmp', '--data-dir', await tempDir(), '--wait', 'soon', 'xmpp']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: --wait soon: expected a number of seconds such as 15\n');
  });
});

import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataDirLayout } from '../../src/node/data-dir.js';
import { XmppNode } from '../../src/node/xmpp-node.js';
import { assertBuilt, CliProcess } from '../helpers/cli.js';
import { LogCapture, tempDir } from '../helpers/test-node.js';

/** One process per data directory, held by the kernel for as long as the process lives. */

const open = (dataDir: string, log = new LogCapture()) => XmppNode.open({ dataDir, name: 'xmpp1', address: '127.0.0.1', componentPorts: [0, 0], log: log.logger, serve: false });

/** Runs `acquireLock` of the built tree in another process; resolves with what it printed. */
function lockFromAnotherProcess(dataDir: string, waitMs: number): Promise<string> {
  assertBuilt();
  const lockModule = new URL('../../dist/src/node/lock.js', import.meta.url).href;
  const script = `
    const { acquireLock } = await import(${JSON.stringify(lockModule)});
    try { await acquireLock(${JSON.stringify(dataDir)}, ${JSON.stringify(dataDirLayout(dataDir).lock)}, { waitMs: ${waitMs} }); console.log('acquired'); }
    catch (err) { console.log(err.name + ': ' + err.message); }`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => resolve(out.trim()));
  });
}

describe('the data-directory lock', () => {
  it('keeps a second process out while the first holds it, naming the holder', async () => {
    const dataDir = await tempDir();
    const node = await open(dataDir);
    expect(await readFile(dataDirLayout(dataDir).lock, 'utf8')).toBe(`${process.pid}\n`);
    expect(await lockFromAnotherProcess(dataDir, 0)).toBe(`DataDirInUseError: the data directory is in use by another process (pid ${process.pid}); stop it first`);
    await node.close();
    expect(await lockFromAnotherProcess(dataDir, 0)).toBe('acquired');
  });

  it('is free the moment its holder is killed with -9, whatever node.lock still says', async () => {
    const dataDir = await tempDir();
    const holder = new CliProcess(['node', '--data-dir', dataDir, '--component-ports', '0,0', '--no-ssh']);
    await holder.waitForOutput(/"event":"node_started"/, 20_000, 'stderr');
    holder.child.kill('SIGKILL');
    await holder.exited;
    expect(await readFile(dataDirLayout(dataDir).lock, 'utf8')).toBe(`${holder.child.pid}\n`);
    const node = await open(dataDir);
    await node.close();
  });

  it('makes a starting node wait for a short-lived holder (an offline mmp edit), and says so in its log', async () => {
    const dataDir = await tempDir();
    const offline = await open(dataDir);
    const node = new CliProcess(['node', '--data-dir', dataDir, '--component-ports', '0,0', '--no-ssh']);
    try {
      await node.waitForOutput(/"event":"data_dir_lock_wait"/, 20_000, 'stderr');
      expect(node.stderr).toContain(`"holder":${process.pid}`);
      await offline.close();
      await node.waitForOutput(/"event":"node_started"/, 20_000, 'stderr');
      expect(node.stderr).toContain('"event":"data_dir_lock_acquired"');
    } finally {
      await node.stop('SIGKILL');
    }
  });

  it('removes the temporary files of interrupted writes at start, and nothing else', async () => {
    const dataDir = await tempDir();
    const first = await open(dataDir);
    await first.addCallbridge('cb1', 'kept-secret-1234567890');
    await first.close();
    const leftovers = ['.callbridges.json.0123456789ab.tmp', '.settings.json.a1b2c3d4e5f6.tmp', 'certs/.cb1.key.00112233aabb.tmp'];
    for (const f of leftovers) await writeFile(join(dataDir, f), '{"callbridges":[{"name":"x","secret":"leaked"}]}');
    await writeFile(join(dataDir, '.operator-notes.tmp'), 'not ours');
    const log = new LogCapture();
    const node = await open(dataDir, log);
    const files = [...(await readdir(dataDir)), ...(await readdir(join(dataDir, 'certs'))).map((f) => `certs/${f}`)];
    for (const f of leftovers) expect(files).not.toContain(f);
    expect(files).toContain('.operator-notes.tmp');
    expect([...((log.find('interrupted_writes_removed')[0]?.files as string[]) ?? [])].sort()).toEqual([...leftovers].sort());
    expect(node.configuration().callbridge('cb1')?.secret).toBe('kept-secret-1234567890');
    await node.close();
  });
});

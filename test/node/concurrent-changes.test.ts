import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { runThroughControlSocket } from '../../src/mmp/control-socket.js';
import type { CommandResult, Terminal } from '../../src/mmp/command.js';
import { dataDirLayout } from '../../src/node/data-dir.js';
import { XmppNode } from '../../src/node/xmpp-node.js';
import { startNode, type RunningNode } from '../../src/process/node-process.js';
import { assertBuilt, CliProcess } from '../helpers/cli.js';
import { LogCapture, tempDir } from '../helpers/test-node.js';
import { ADMIN_PASSWORD, SSH, SSHPASS, requireBinaries, sshExec } from '../mmp/ssh/harness.js';

/**
 * Operators who type at the same time, over the local control socket and
 * over SSH, must each get what they were told: every change that printed
 * success is on disk afterwards, and nothing that was refused or never asked.
 */

const answering = (answer: string | null): Terminal => ({ prompt: async () => answer });
const control = (dataDir: string, line: string, answer: string | null = null): Promise<CommandResult> =>
  runThroughControlSocket(dataDirLayout(dataDir).controlSocket, line, answering(answer), 'exec');

/** The secret an acknowledged `xmpp callbridge add` printed. */
function printedSecret(output: string): string {
  const m = /^Successfully added callbridge\.\nSecret: ([A-Za-z0-9]+)\n$/.exec(output);
  if (!m) throw new Error(`not an acknowledged add: ${JSON.stringify(output)}`);
  return m[1]!;
}

async function onDisk(dataDir: string): Promise<Record<string, string>> {
  const node = await XmppNode.open({ dataDir, name: 'check', address: '127.0.0.1', log: new LogCapture().logger, serve: false });
  try {
    return Object.fromEntries(node.configuration().callbridges().map((c) => [c.name, c.secret]));
  } finally {
    await node.close();
  }
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('concurrent operator changes', () => {
  it('keeps every acknowledged add and del from 50 commands over the control socket and 20 over SSH exec, and nothing else', async () => {
    requireBinaries(SSH, SSHPASS);
    const dataDir = await tempDir();
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const log = new LogCapture();
    let running: RunningNode | undefined = await startNode({
      dataDir,
      name: 'cb1',
      address: '127.0.0.1',
      componentPorts: [0, 0],
      log: log.logger,
      ssh: { host: '127.0.0.1', port: 0 },
      adminPassword: ADMIN_PASSWORD,
    });
    cleanup.push(async () => running?.close());
    await running.node.setDomain('example.test');
    const expected: Record<string, string> = {};
    for (let i = 0; i < 35; i++) {
      expected[`old${i}`] = `old-secret-${i}-abcdefghij`;
      await running.node.addCallbridge(`old${i}`, expected[`old${i}`]!);
    }
    const ssh = { server: { port: running.ssh!.port } };

    const adds = Array.from({ length: 25 }, (_, i) => control(dataDir, `xmpp callbridge add new${i}`).then((r) => ({ name: `new${i}`, r })));
    const dels = Array.from({ length: 25 }, (_, i) => control(dataDir, `xmpp callbridge del old${i}`).then((r) => ({ name: `old${i}`, r })));
    const sshAdds = Array.from({ length: 5 }, (_, i) => sshExec(ssh, `xmpp callbridge add ssh${i}`).then((r) => ({ name: `ssh${i}`, r })));
    const sshSecrets = Array.from({ length: 5 }, (_, i) =>
      sshExec(ssh, `xmpp callbridge add-secret given${i}`, { input: `given-secret-${i}-abcdefghij\n` }).then((r) => ({ name: `given${i}`, r })),
    );
    const sshDels = Array.from({ length: 10 }, (_, i) => sshExec(ssh, `xmpp callbridge del old${25 + i}`).then((r) => ({ name: `old${25 + i}`, r })));
    // A duplicate of a name being added at the same moment: exactly one of the two may win.
    const twins = [control(dataDir, 'xmpp callbridge add twin'), control(dataDir, 'xmpp callbridge add twin')];

    for (const { name, r } of await Promise.all(adds)) {
      expect(r.exitCode, r.output).toBe(0);
      expected[name] = printedSecret(r.output);
    }
    for (const { name, r } of await Promise.all(sshAdds)) {
      expect(r.code, r.stderr).toBe(0);
      expected[name] = printedSecret(r.stdout);
    }
    for (const { name, r } of await Promise.all(sshSecrets)) {
      expect(r.code, r.stderr).toBe(0);
      expected[name] = `given-secret-${name.slice(5)}-abcdefghij`;
    }
    const delCodes = [...(await Promise.all(dels)).map(({ name, r }) => ({ name, code: r.exitCode })), ...(await Promise.all(sshDels)).map(({ name, r }) => ({ name, code: r.code }))];
    for (const { name, code } of delCodes) {
      expect(code, name).toBe(0);
      delete expected[name];
    }
    const twinResults = await Promise.all(twins);
    expect(twinResults.map((r) => r.exitCode).sort()).toEqual([0, 1]);
    expect(twinResults.find((r) => r.exitCode === 1)!.output).toBe('Error: callbridge twin already exists; del it first to change its secret\n');
    expected.twin = printedSecret(twinResults.find((r) => r.exitCode === 0)!.output);

    const listed = await control(dataDir, 'xmpp callbridge list --json');
    const live = Object.fromEntries((JSON.parse(listed.output) as Array<{ callbridge: string; secret: string }>).map((c) => [c.callbridge, c.secret]));
    expect(live).toEqual(expected);

    await running.close();
    running = undefined;
    expect(await onDisk(dataDir)).toEqual(expected);
  });

  it('keeps every acknowledged add through kill -9 while two operators add at once', async () => {
    assertBuilt();
    const dataDir = await tempDir();
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const acknowledged = new Map<string, string>();
    const attempted = new Set<string>();
    let serial = 0;

    for (let round = 0; round < 3; round++) {
      const node = new CliProcess(['node', '--data-dir', dataDir, '--name', 'cb1', '--address', '127.0.0.1', '--component-ports', '0,0', '--no-ssh']);
      cleanup.push(async () => void (await node.stop('SIGKILL')));
      await node.waitForOutput(/"event":"node_started"/, 20_000, 'stderr');
      if (round === 0) expect((await control(dataDir, 'xmpp domain example.test')).exitCode).toBe(0);

      // Two operators, each with several commands in flight, until the kill.
      let killed = false;
      const operator = async (who: string) => {
        while (!killed) {
          const name = `${who}${serial++}`;
          attempted.add(name);
          const r = await control(dataDir, `xmpp callbridge add ${name}`).catch(() => null);
          if (r === null) return; // the node died under this command: not acknowledged
          expect(r.exitCode, r.output).toBe(0);
          acknowledged.set(name, printedSecret(r.output));
          if (!killed && acknowledged.size >= (round + 1) * 60) {
            // Killed while the other operators' commands are in flight.
            killed = true;
            node.child.kill('SIGKILL');
          }
        }
      };
      await Promise.all([operator('a'), operator('a'), operator('a'), operator('b'), operator('b'), operator('b')]);
      await node.exited;
    }

    const kept = await onDisk(dataDir);
    for (const [name, secret] of acknowledged) expect(kept[name], `acknowledged ${name} lost`).toBe(secret);
    for (const name of Object.keys(kept)) expect(attempted.has(name), `${name} was never asked for`).toBe(true);
    expect(acknowledged.size).toBeGreaterThanOrEqual(180);
  });
});

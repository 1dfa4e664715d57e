import { cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { encodeBackup } from '../../src/node/backup-format.js';
import { assertBuilt, CliProcess, runCli } from '../helpers/cli.js';
import { makeCertificate } from '../helpers/cluster-setup.js';
import { tempDir } from '../helpers/test-node.js';

/**
 * `xmpp-cluster backup` of a running node process and `xmpp-cluster restore`
 * into a new data directory, as an operator runs them: the restored node
 * starts with the call bridges, settings, accounts and keys of the first, and
 * a call bridge connects to it with its old secret.
 */

const DOMAIN = 'example.test';
const ADMIN_PASSWORD = 'backup admin password';
const TIMEOUT_MS = 90_000;
let root: string;
const running: CliProcess[] = [];

beforeAll(async () => {
  assertBuilt();
  root = await tempDir('xmpp-backup-');
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function startNode(dataDir: string, name: string, address: string): Promise<CliProcess> {
  const p = new CliProcess(
    ['node', '--data-dir', dataDir, '--name', name, '--address', address, '--component-ports', '5222,5223', '--ssh-port', '2222', '--cluster-port', '5999'],
    { XMPP_CLUSTER_ADMIN_PASSWORD: ADMIN_PASSWORD },
  );
  running.push(p);
  await p.waitForOutput(/"event":"node_started"/, 20_000, 'stderr');
  return p;
}

async function mmp(dataDir: string, command: string): Promise<string> {
  const r = await runCli(['mmp', '--data-dir', dataDir, command]);
  expect({ command, code: r.code, stderr: r.stderr }).toEqual({ command, code: 0, stderr: '' });
  return r.stdout;
}

/** Bounded polling of an MMP command until its output matches. */
async function mmpUntil(dataDir: string, command: string, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await mmp(dataDir, command);
    if (pattern.test(out)) return out;
    if (Date.now() > deadline) throw new Error(`${command}: no ${pattern} in ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function backup(dataDir: string, out: string): Promise<{ stdout: string; stderr: string }> {
  const r = await runCli(['backup', '--data-dir', dataDir, '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  expect(statSync(out).mode & 0o777).toBe(0o600);
  return r;
}

async function restore(dataDir: string, from: string, ...extra: string[]): Promise<string> {
  const r = await runCli(['restore', '--data-dir', dataDir, '--from', from, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

async function bridgeConnects(name: string, secret: string, host: string): Promise<void> {
  const bridge = await CallBridge.connect({ name, secret, domain: DOMAIN, host, port: 5222 });
  await bridge.close();
}

/** The secret is in the backup file (it must be), and in no log line or command output about it. */
function expectNoSecretOutside(secret: string, texts: string[]): void {
  for (const t of texts) expect(t).not.toContain(secret);
}

describe('backup and restore', () => {
  it('restores a standalone node: its registry, settings and accounts, and the call bridge connects with its secret', async () => {
    const first = join(root, 'standalone-1');
    const node = await startNode(first, 'xmpp1', '127.0.12.2');
    await mmp(first, `xmpp domain ${DOMAIN}`);
    await mmp(first, 'xmpp listen a');
    const secret = /Secret: (\S+)/.exec(await mmp(first, 'xmpp callbridge add cb1'))![1]!;
    await mmp(first, 'xmpp enable');
    await bridgeConnects('cb1', secret, '127.0.12.2');
    const before = { list: await mmp(first, 'xmpp callbridge list'), xmpp: await mmp(first, 'xmpp') };

    const file = join(root, 'standalone.backup');
    const taken = await backup(first, file);
    expect(taken.stdout).toMatch(/^Backup of xmpp1 \(standalone\) written to /);
    const content = readFileSync(file, 'utf8');
    expect(JSON.parse(content)).toMatchObject({ format: 'xmpp-cluster-backup', version: 1, node: { name: 'xmpp1' }, cluster: null });
    expect(Buffer.from(JSON.parse(content).files['callbridges.json'], 'base64').toString()).toContain(secret);
    expect(node.stderr).toMatch(/"event":"backup_taken"/);
    await node.stop();

    const second = join(root, 'standalone-2');
    expect(await restore(second, file)).toBe(`Restored xmpp1 into ${second} as a standalone node\n`);
    expect(statSync(second).mode & 0o777).toBe(0o700);
    for (const f of ['settings.json', 'callbridges.json', 'identity.json', 'users.json']) {
      expect(statSync(join(second, f)).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(second, f))).toEqual(readFileSync(join(first, f)));
    }
    const restored = await startNode(second, 'xmpp1', '127.0.12.3');
    expect(await mmp(second, 'xmpp callbridge list')).toBe(before.list);
    const xmpp = await mmp(second, 'xmpp');
    expect(xmpp).toBe(before.xmpp);
    expect(xmpp).toMatch(/^Domain\s*: example\.test$/m);
    expect(xmpp).toMatch(/^Enabled\s*: true$/m);
    await bridgeConnects('cb1', secret, '127.0.12.3');
    expectNoSecretOutside(secret, [node.stderr, node.stdout, taken.stdout, taken.stderr, restored.stderr]);
  }, TIMEOUT_MS);

  it('restores a cluster member as a one-member cluster with the applied state, led by itself where it now runs', async () => {
    const certs = join(root, 'pki');
    mkdirSync(certs);
    await makeCertificate(certs, 'node', ['127.0.12.5', '127.0.12.6']);
    const first = join(root, 'member-1');
    mkdirSync(join(first, 'certs'), { recursive: true, mode: 0o700 });
    for (const f of ['node.key', 'node.cer']) cpSync(join(certs, f), join(first, 'certs', f));
    const node = await startNode(first, 'cb1', '127.0.12.5');
    for (const c of [`xmpp domain ${DOMAIN}`, 'xmpp listen a', 'xmpp certs node.key node.cer', 'xmpp cluster trust node.cer']) await mmp(first, c);
    const secret = /Secret: (\S+)/.exec(await mmp(first, 'xmpp callbridge add cb1'))![1]!;
    for (const c of ['xmpp cluster enable', 'xmpp cluster initialize', 'xmpp enable']) await mmp(first, c);
    // Added once clustered: it is in the replicated state only, not in callbridges.json.
    const secret2 = /Secret: (\S+)/.exec(await mmp(first, 'xmpp callbridge add cb2'))![1]!;
    await mmpUntil(first, 'xmpp cluster status', /^127\.0\.12\.5:5222 \(Leader\)$/m);

    const file = join(root, 'member.backup');
    const taken = await backup(first, file);
    expect(taken.stdout).toMatch(/^Backup of cb1 \(cluster state at index \d+\) written to /);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(JSON.parse(doc.cluster.state).callbridges.map((c: [string, string]) => c[0]).sort()).toEqual(['cb1', 'cb2']);
    await node.stop();

    const second = join(root, 'member-2');
    expect(await restore(second, file, '--address', '127.0.12.6')).toMatch(/as a one-member cluster \(state at index \d+; cluster link 127\.0\.12\.6:5999\)\n$/);
    const restored = await startNode(second, 'cb1', '127.0.12.6');
    const status = await mmpUntil(second, 'xmpp cluster status', /^State: LEADER$/m);
    expect(status).toMatch(/List of peers\n127\.0\.12\.6:5222 \(Leader\)\n/);
    const list = await mmp(second, 'xmpp callbridge list');
    expect(list).toContain(`Callbridge : cb1\nDomain     : ${DOMAIN}\nSecret     : ${secret}`);
    expect(list).toContain(`Callbridge : cb2\nDomain     : ${DOMAIN}\nSecret     : ${secret2}`);
    expect(await mmp(second, 'xmpp')).toMatch(/^Clustered\s*: true$/m);
    await bridgeConnects('cb1', secret, '127.0.12.6');
    await bridgeConnects('cb2', secret2, '127.0.12.6');
    expectNoSecretOutside(secret2, [node.stderr, taken.stdout, taken.stderr, restored.stderr]);
  }, TIMEOUT_MS);

  it('refuses to restore over a data directory that is not empty, and a backup of no running node', async () => {
    const used = join(root, 'used');
    mkdirSync(used);
    writeFileSync(join(used, 'something'), 'x');
    const file = join(root, 'empty.backup');
    writeFileSync(file, encodeBackup({ createdAt: new Date().toISOString(), node: { name: 'x', id: 'x' }, files: {}, cluster: null }), { mode: 0o600 });
    const r = await runCli(['restore', '--data-dir', used, '--from', file]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: `Error: ${used} is not empty: restore seeds a new data directory only\n` });
    const b = await runCli(['backup', '--data-dir', join(root, 'nobody'), '--out', join(root, 'none.backup')]);
    expect(b.code).toBe(1);
    expect(b.stderr).toBe(`Error: no node is running on ${join(root, 'nobody')}: a backup is taken of a running node (a stopped node's data directory can be copied as it is)\n`);
  });
});

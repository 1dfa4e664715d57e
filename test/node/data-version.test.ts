import { cpSync, existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStorage } from '../../cluster/raft/storage/file-storage.js';
import { FORMAT_FILE, STORAGE_VERSION } from '../../cluster/raft/storage/format-file.js';
import { SNAPSHOT_FILE } from '../../cluster/raft/storage/snapshot-file.js';
import { stateOfStoredSnapshot } from '../../cluster/member/raft-member-options.js';
import { STATE_VERSION } from '../../cluster/state/index.js';
import { UserStore } from '../../src/mmp/users.js';
import { dataDirLayout } from '../../src/node/data-dir.js';
import { XmppNode } from '../../src/node/xmpp-node.js';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { LogCapture, tempDir } from '../helpers/test-node.js';

/**
 * The data directory's formats carry versions: a node refuses a file written
 * by a newer release with one line naming it, its version and the newest this
 * release reads, and reads an older one, giving what it lacks its defaults.
 */

const ADDRESS = '127.0.12.1';
const SECRET = 'version-test-secret-1234';
let template: string;
let nodeId: string;
const dirs: string[] = [];

beforeAll(async () => {
  assertBuilt();
  template = await tempDir('xmpp-version-');
  dirs.push(template);
  const node = await XmppNode.open({ dataDir: template, name: 'xmpp1', address: ADDRESS, componentPorts: [0, 0], log: new LogCapture().logger, serve: false });
  nodeId = node.identity.id;
  await node.setDomain('example.test');
  await node.addCallbridge('cb1', SECRET);
  await node.close();
  await (await UserStore.open(template)).ensureInitialAdmin('version-admin-pw');
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function copyOfTemplate(): Promise<string> {
  const dir = await tempDir('xmpp-version-');
  dirs.push(dir);
  cpSync(template, dir, { recursive: true });
  return dir;
}

function bumpVersion(path: string, version: number): void {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  writeFileSync(path, JSON.stringify({ ...doc, version }), { mode: 0o600 });
}

/** A raft folder holding a snapshot whose cluster state is `state` (this node the one voter). */
function raftWithState(dataDir: string, state: Record<string, unknown>): string {
  const dir = join(dataDir, 'raft');
  const storage = FileStorage.open({ dir });
  storage.save({
    snapshot: { metadata: { index: 5, term: 1, confState: { voters: [nodeId], learners: [] } }, data: new TextEncoder().encode(JSON.stringify(state)) },
    entries: [],
    hardState: { term: 1, vote: '', commit: 5 },
  });
  storage.close();
  return dir;
}

const V2_STATE = {
  version: 2,
  domain: 'old.example.test',
  callbridges: [['cb1', SECRET]],
  trust: { kind: 'insecure-lab' },
  federation: {
    enabled: false,
    dialbackSecret: null,
    securityMode: 'required',
    clientCertsRequired: false,
    saslExternal: { incoming: true, outgoing: true },
    privacyMode: 'allow',
    allow: [],
    deny: [],
    routes: [],
  },
  members: [],
  clients: [],
  applyCounter: 3,
};

/** Starts a node process on `dataDir`; it must stop at once with one Error line. */
async function refusedStart(dataDir: string): Promise<string> {
  const r = await runCli(['node', '--data-dir', dataDir, '--name', 'xmpp1', '--address', ADDRESS, '--no-ssh', '--component-ports', '0,0'], { timeoutMs: 20_000 });
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines, 'one line, no stack trace').toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

const newerLine = (path: string, found: number, newest: number) =>
  `Error: ${path} has format version ${found}, written by a newer release; this release reads versions up to ${newest}. Run the newer release on this data directory, or restore a backup taken with this one`;

describe('a data directory written by a newer release', () => {
  for (const file of ['settings', 'callbridges', 'identity'] as const) {
    it(`is refused when ${file}.json is newer: one line naming the file, its version and ours`, async () => {
      const dir = await copyOfTemplate();
      const path = dataDirLayout(dir)[file];
      bumpVersion(path, 7);
      expect(await refusedStart(dir)).toBe(newerLine(path, 7, 1));
    });
  }

  it('is refused when users.json is newer', async () => {
    const dir = await copyOfTemplate();
    bumpVersion(join(dir, 'users.json'), 2);
    expect(await refusedStart(dir)).toBe(newerLine(join(dir, 'users.json'), 2, 1));
  });

  it('is refused when the Raft storage folder has a newer layout', async () => {
    const dir = await copyOfTemplate();
    const raft = raftWithState(dir, { ...V2_STATE, version: STATE_VERSION, dns: { enabled: false, ttl: 5, records: [] } });
    bumpVersion(join(raft, FORMAT_FILE), STORAGE_VERSION + 1);
    expect(await refusedStart(dir)).toBe(newerLine(join(raft, FORMAT_FILE), STORAGE_VERSION + 1, STORAGE_VERSION));
  });

  it('is refused when the Raft snapshot file is newer', async () => {
    const dir = await copyOfTemplate();
    const raft = raftWithState(dir, { ...V2_STATE, version: STATE_VERSION, dns: { enabled: false, ttl: 5, records: [] } });
    const bytes = readFileSync(join(raft, SNAPSHOT_FILE));
    bytes.writeUInt8(2, 4); // the layout version byte after "RSNP"
    writeFileSync(join(raft, SNAPSHOT_FILE), bytes);
    expect(await refusedStart(dir)).toBe(newerLine(join(raft, SNAPSHOT_FILE), 2, 1));
  });

  it('is refused when the cluster state in the snapshot is newer, before any cluster link opens', async () => {
    const dir = await copyOfTemplate();
    const raft = raftWithState(dir, { ...V2_STATE, version: STATE_VERSION + 1 });
    expect(await refusedStart(dir)).toBe(newerLine(`cluster state in ${join(raft, SNAPSHOT_FILE)}`, STATE_VERSION + 1, STATE_VERSION));
  });
});

describe('a data directory written by an older release', () => {
  it('reads settings.json without the fields later releases added (trust, dns, dnsListen), with their defaults', async () => {
    const dir = await copyOfTemplate();
    const path = dataDirLayout(dir).settings;
    const { trust: _t, dns: _d, dnsListen: _l, ...older } = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    writeFileSync(path, JSON.stringify(older), { mode: 0o600 });
    const xmpp = await runCli(['mmp', '--data-dir', dir, 'xmpp']);
    expect(xmpp.code, xmpp.stderr).toBe(0);
    expect(xmpp.stdout).toMatch(/Domain\s*:\s*example\.test/);
    const dns = await runCli(['mmp', '--data-dir', dir, 'xmpp dns']);
    expect(dns.code, dns.stderr).toBe(0);
    expect(dns.stdout).toMatch(/^Enabled\s*:\s*false$/m);
    expect(dns.stdout).toMatch(/^TTL\s*:\s*5$/m);
  });

  it('reads a Raft folder from before format.json (layout 1) and records its version', async () => {
    const dir = await copyOfTemplate();
    const raft = raftWithState(dir, V2_STATE);
    unlinkSync(join(raft, FORMAT_FILE));
    const storage = FileStorage.open({ dir: raft });
    expect(storage.initialState().confState.voters).toEqual([nodeId]);
    expect(storage.snapshot().metadata.index).toBe(5);
    storage.close();
    expect(JSON.parse(readFileSync(join(raft, FORMAT_FILE), 'utf8'))).toEqual({ version: STORAGE_VERSION });
  });

  it('migrates a version 2 cluster state snapshot to version 3: the xmpp dns settings it lacked take their defaults', async () => {
    const dir = await copyOfTemplate();
    const storage = FileStorage.open({ dir: raftWithState(dir, V2_STATE) });
    const state = stateOfStoredSnapshot(storage, join(dir, 'raft'));
    storage.close();
    expect(state.domain()).toBe('old.example.test');
    expect(state.callbridges()).toEqual([{ name: 'cb1', secret: SECRET }]);
    expect(state.dns()).toMatchObject({ enabled: false, ttl: 5 });
    expect(JSON.parse(new TextDecoder().decode(state.snapshot())).version).toBe(STATE_VERSION);
    expect(existsSync(join(dir, 'raft', SNAPSHOT_FILE))).toBe(true);
  });
});

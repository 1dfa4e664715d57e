import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { dataDirLayout } from '../../src/node/data-dir.js';
import { runOnStartingNode } from '../../src/process/demo-nodes.js';
import { startNode, type RunningNode } from '../../src/process/node-process.js';
import { WRONG_LOGIN } from '../../src/process/status-page/status-login.js';
import { ensureLoopbackAddress } from '../helpers/bind-server.js';
import { Chromium, type ChromiumPage } from '../helpers/chromium.js';
import { untilAnswer } from '../helpers/http-get.js';
import { cookieOf, httpRequest, postLogin } from '../helpers/http-request.js';
import { LogCapture, tempDir } from '../helpers/test-node.js';

/**
 * Three whole nodes (startNode) on 127.0.17.11-13 built into a cluster by
 * the operator's commands, call bridges cb1 and cb2 connected to the two
 * followers and cb3 registered but offline. Headless Chromium opens the
 * first node's status page, is refused a wrong password, logs in, and the
 * members and call bridges it shows are those of `xmpp cluster status`,
 * `xmpp callbridge list` and `xmpp status` run through that node's MMP; the
 * chart draws the stanzas sent between the bridges. The screenshot stays in
 * test-artifacts/.
 */

const ADDRESSES = ['127.0.17.11', '127.0.17.12', '127.0.17.13'];
const DOMAIN = 'example.test';
const PASSWORD = 'status-page-admin-0123';
const TIMEOUT_MS = 120_000;
const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../test-artifacts');
const secretOf = (name: string) => `${name}-status-secret-0123456789`;

interface Member {
  name: string;
  address: string;
  dataDir: string;
  running: RunningNode;
  base: string;
}

let root: string;
let members: Member[];
let browser: Chromium | undefined;
let page: ChromiumPage;
const bridges: CallBridge[] = [];
const mmp = (m: Member, line: string, answers: string[] = []) => runOnStartingNode(m.dataDir, line, { name: m.name, answers, exited: () => undefined });

beforeAll(async () => {
  for (const a of ADDRESSES) await ensureLoopbackAddress(a);
  root = await tempDir('status-browser-');
  members = [];
  for (const [i, address] of ADDRESSES.entries()) {
    const name = `m${i + 1}`;
    const dataDir = join(root, name);
    const running = await startNode({ dataDir, name, address, componentPorts: [0], log: new LogCapture().logger, ssh: null, metrics: { host: address, port: 0 } });
    // Admin accounts are each node's own (users.json in its data directory), as for SSH.
    await running.users.ensureInitialAdmin(PASSWORD);
    members.push({ name, address, dataDir, running, base: running.http!.url });
  }
  const [first, ...others] = members as [Member, ...Member[]];
  await mmp(first, `pki selfsigned lab CN:${DOMAIN} subjectAltName:${ADDRESSES.join(',')}`);
  for (const m of others) for (const f of ['lab.key', 'lab.crt']) await copyFile(join(dataDirLayout(first.dataDir).certs, f), join(dataDirLayout(m.dataDir).certs, f));
  const settings = [`xmpp domain ${DOMAIN}`, 'xmpp listen a', 'xmpp certs lab.key lab.crt', 'xmpp cluster trust lab.crt'];
  for (const line of settings) await mmp(first, line);
  for (const name of ['cb1', 'cb2', 'cb3']) await mmp(first, `xmpp callbridge add-secret ${name}`, [secretOf(name)]);
  for (const line of ['xmpp cluster enable', 'xmpp cluster initialize', 'xmpp enable']) await mmp(first, line);
  for (const m of others) {
    for (const line of settings) await mmp(m, line);
    for (const line of ['xmpp cluster enable', 'xmpp enable', `xmpp cluster join ${first.address}`]) await mmp(m, line);
  }
  // The first node initialized the cluster and leads it until something fails: the bridges go to the other two.
  await untilAnswer(() => mmp(first, 'xmpp cluster status'), (out) => out.startsWith('State: LEADER') && /m2 +follower/.test(out) && /m3 +follower/.test(out), 30_000, 'm1 leads m2 and m3');
  for (const [i, m] of others.entries()) {
    const s = m.running.node.serviceState();
    if (s.state !== 'running') throw new Error(`${m.name} does not serve`);
    const name = `cb${i + 1}`;
    bridges.push(await CallBridge.connect({ name, secret: secretOf(name), domain: DOMAIN, host: m.address, port: s.bindings[0]!.port }));
  }
  browser = await Chromium.launch();
  page = await browser.newPage();
}, TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  for (const b of bridges) await b.close();
  for (const m of members ?? []) await m.running.close();
  if (root) await rm(root, { recursive: true, force: true });
});

/** `xmpp cluster status` as an operator reads it: this node, then each peer's row of the table. */
function parseClusterStatus(text: string): { state: string; self: { name: string; endpoint: string }; peers: Array<{ endpoint: string; name: string; role: string }>; leader: string } {
  const state = /^State: (\S+)/m.exec(text)![1]!;
  const self = /^This node +: (\S+) (\S+)$/m.exec(text)!;
  const leader = /^(\S+) \(Leader\)$/m.exec(text)![1]!;
  const table = text.slice(text.indexOf('\nPeer ') + 1).split('\n').slice(1).filter(Boolean);
  const peers = table.map((line) => {
    const [endpoint, name, role] = line.split(/ {2,}/);
    return { endpoint: endpoint!, name: name!, role: role! };
  });
  return { state, self: { name: self[1]!, endpoint: self[2]! }, peers, leader };
}

/** `xmpp status`'s session table: component address to node name. */
function parseSessions(text: string): Map<string, string> {
  const at = text.indexOf('\nComponent ');
  const rows = at === -1 ? [] : text.slice(at + 1).split('\n').slice(1).filter(Boolean);
  return new Map(rows.map((line) => line.split(/ {2,}/)).map(([address, , node]) => [address!, node!]));
}

const MEMBERS_JS = `[...document.querySelectorAll('#members tr[data-member]')].map((tr) => Object.fromEntries([...tr.cells].map((td) => [td.dataset.key, td.textContent])))`;
const BRIDGES_JS = `[...document.querySelectorAll('#callbridges tr[data-callbridge]')].map((tr) => Object.fromEntries([...tr.cells].map((td) => [td.dataset.key, td.textContent])))`;

describe('the status page in headless Chromium', () => {
  it('refuses a wrong password in the login form, and the page itself before any login', async () => {
    const [first] = members as [Member];
    await page.navigate(`${first.base}/`);
    expect(await page.evaluate<string>('location.pathname')).toBe('/login');
    await page.loadAfter(`document.getElementById('user').value = 'admin'; document.getElementById('password').value = 'wrong-password-123'; document.getElementById('submit').click()`);
    expect(await page.evaluate<string>('location.pathname')).toBe('/login');
    expect(await page.evaluate<string>(`document.getElementById('login-error').textContent`)).toBe(WRONG_LOGIN);
    expect(await page.evaluate<string>('document.cookie')).toBe('');
  });

  it('logs in and shows the members of `xmpp cluster status` and the call bridges of `xmpp callbridge list` on the nodes `xmpp status` names', async () => {
    const [first] = members as [Member];
    await page.loadAfter(`document.getElementById('user').value = 'admin'; document.getElementById('password').value = ${JSON.stringify(PASSWORD)}; document.getElementById('submit').click()`);
    expect(await page.evaluate<string>('location.pathname')).toBe('/');
    // HttpOnly: the page's own script cannot read the session cookie.
    expect(await page.evaluate<string>('document.cookie')).toBe('');

    type Row = Record<string, string>;
    const shown = await page.until<{ members: Row[]; bridges: Row[] }>(
      `({ members: ${MEMBERS_JS}, bridges: ${BRIDGES_JS} })`,
      (v) => v.members.length === 3 && v.members.every((m) => m.lastContact !== 'never') && v.bridges.length === 3 && v.bridges.filter((b) => b.node !== 'not connected').length === 2,
      'three members and two connected call bridges on the page',
    );
    const status = parseClusterStatus(await mmp(first, 'xmpp cluster status'));
    const expected = [
      { name: status.self.name, endpoint: status.self.endpoint, role: `${status.state.toLowerCase()} (this node)` },
      ...status.peers.map((p) => ({ name: p.name, endpoint: p.endpoint, role: p.role })),
    ].sort((a, b) => a.name.localeCompare(b.name));
    expect(shown.members.map((m) => ({ name: m.name, endpoint: m.endpoint, role: m.role }))).toEqual(expected);
    expect(shown.members.find((m) => m.role.startsWith('leader'))!.endpoint).toBe(status.leader);
    for (const m of shown.members.filter((x) => x.name !== status.self.name)) expect(m.lastContact).toMatch(/^\d+(\.\d)? s ago$/);

    const list = await mmp(first, 'xmpp callbridge list');
    const names = [...list.matchAll(/^Callbridge +: (\S+)$/gm)].map((x) => x[1]!);
    expect(shown.bridges.map((b) => b.name)).toEqual(names);
    const sessions = parseSessions(await mmp(first, 'xmpp status'));
    expect(sessions.size).toBe(2);
    for (const b of shown.bridges) {
      if (b.node === 'not connected') expect(sessions.has(`${b.name}.${DOMAIN}`)).toBe(false);
      else expect({ address: b.address, node: b.node }).toEqual({ address: `${b.name}.${DOMAIN}`, node: sessions.get(b.address!) });
    }
    expect(shown.bridges.find((b) => b.name === 'cb1')!.node).toBe('m2');
    expect(shown.bridges.find((b) => b.name === 'cb3')!.node).toBe('not connected');
    // The registry's secrets are `callbridge list`'s, never the page's.
    const text = await page.evaluate<string>('document.documentElement.outerHTML');
    for (const n of names) expect(text).not.toContain(secretOf(n));
  });

  it('charts the stanzas between the call bridges, and keeps a screenshot', async () => {
    const [cb1, cb2] = bridges as [CallBridge, CallBridge];
    let received = 0;
    cb2.on('message', () => received++);
    const N = 50;
    for (let i = 0; i < N; i++) await cb1.sendMessage(`cb2.${DOMAIN}`, `m${i}`);
    await untilAnswer(async () => received, (n) => n >= N, 20_000, `${N} messages at cb2`);
    // The leader routes each stanza: its chart's "routed" line rises above zero.
    const peak = await page.until<number>(`Number(document.getElementById('chart').dataset.routedPeak)`, (n) => n > 0, 'the chart showing stanzas routed');
    // At most the N stanzas in one interval of about a second; a timer may fire a millisecond early (999 ms: 50.05/s).
    expect(peak).toBeLessThanOrEqual(N * 1.05);
    expect(await page.evaluate<number>(`document.querySelectorAll('#chart polyline.routed').length`)).toBe(1);
    const axis = await page.evaluate<string[]>(`[...document.querySelectorAll('#chart text')].map((t) => t.textContent)`);
    const times = axis.filter((t) => !/^\d+(\.\d+)?$/.test(t));
    expect(times[0]).toBe('now');
    expect(times.length).toBeGreaterThan(3);
    for (const t of times.slice(1)) expect(t).toMatch(/^-\d+ (s|min)$/);
    await mkdir(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'status-page-cluster.png');
    const png = await page.screenshot();
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    await writeFile(file, png);
    console.log(`status page screenshot: ${file}`);
  });

  it('logs out: the page goes back to the login form', async () => {
    await page.loadAfter(`document.getElementById('logout').click()`);
    expect(await page.evaluate<string>('location.pathname')).toBe('/login');
    await page.navigate(`${members[0]!.base}/`);
    expect(await page.evaluate<string>('location.pathname')).toBe('/login');
  });
});

describe("a follower's status.json", () => {
  it('lists the same members and leader as its `xmpp cluster status --json`', async () => {
    const follower = members[2]!;
    const cookie = cookieOf(await postLogin(follower.base, 'admin', PASSWORD));
    const snap = JSON.parse((await httpRequest(`${follower.base}/status.json`, { headers: { Cookie: cookie } })).body);
    const cli = JSON.parse(await mmp(follower, 'xmpp cluster status --json'));
    const pick = (m: { name: string; endpoint: string; role: string; leader: boolean; self: boolean }) => ({ name: m.name, endpoint: m.endpoint, role: m.role, leader: m.leader, self: m.self });
    expect(snap.cluster.members.map(pick)).toEqual(cli.members.map(pick));
    expect(snap.cluster.state).toBe(cli.state);
    expect(snap.node).toBe('m3');
    expect(snap.callbridges.map((b: { name: string; node: string | null }) => `${b.name}@${b.node}`)).toEqual(['cb1@m2', 'cb2@m3', 'cb3@null']);
  });
});

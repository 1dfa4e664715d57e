import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { dataDirLayout } from '../../src/node/data-dir.js';
import { runOnStartingNode } from '../../src/process/demo-nodes.js';
import { startNode, type RunningNode } from '../../src/process/node-process.js';
import { ensureLoopbackAddress } from '../helpers/bind-server.js';
import { httpGet, scrape, untilAnswer } from '../helpers/http-get.js';
import { valueOf, type PromFamily } from '../helpers/prometheus-text.js';
import { LogCapture, tempDir } from '../helpers/test-node.js';

/**
 * Three whole nodes (startNode) on 127.0.11.2-4 built into a cluster by the
 * operator's commands: each serves its own metrics and probes. The Raft
 * metrics agree with the cluster, stanzas between call bridges on two
 * followers show as forwarded on each and routed on the leader, and readyz
 * turns 503 on the last member once the other two are stopped.
 */

const ADDRESSES = ['127.0.11.2', '127.0.11.3', '127.0.11.4'];
const DOMAIN = 'example.test';
const TIMEOUT_MS = 90_000;

interface Member {
  name: string;
  address: string;
  dataDir: string;
  running: RunningNode | undefined;
  base: string;
}

let root: string;
let members: Member[];
const bridges: CallBridge[] = [];
const mmp = (m: Member, line: string, answers: string[] = []) => runOnStartingNode(m.dataDir, line, { name: m.name, answers, exited: () => undefined });

beforeAll(async () => {
  for (const a of ADDRESSES) await ensureLoopbackAddress(a);
  root = await tempDir('http-cluster-');
  members = [];
  for (const [i, address] of ADDRESSES.entries()) {
    const name = `m${i + 1}`;
    const dataDir = join(root, name);
    const running = await startNode({
      dataDir,
      name,
      address,
      componentPorts: [0],
      log: new LogCapture().logger,
      ssh: null,
      metrics: { host: address, port: 0 },
    });
    members.push({ name, address, dataDir, running, base: running.http!.url });
  }
  const [first, ...others] = members as [Member, ...Member[]];
  await mmp(first, `pki selfsigned lab CN:${DOMAIN} subjectAltName:${ADDRESSES.join(',')}`);
  for (const m of others) for (const f of ['lab.key', 'lab.crt']) await copyFile(join(dataDirLayout(first.dataDir).certs, f), join(dataDirLayout(m.dataDir).certs, f));
  const settings = [`xmpp domain ${DOMAIN}`, 'xmpp listen a', 'xmpp certs lab.key lab.crt', 'xmpp cluster trust lab.crt'];
  for (const line of settings) await mmp(first, line);
  for (const name of ['cb1', 'cb2']) await mmp(first, `xmpp callbridge add-secret ${name}`, [`${name}-cluster-secret-0123456789`]);
  for (const line of ['xmpp cluster enable', 'xmpp cluster initialize', 'xmpp enable']) await mmp(first, line);
  for (const m of others) {
    for (const line of settings) await mmp(m, line);
    for (const line of ['xmpp cluster enable', 'xmpp enable', `xmpp cluster join ${first.address}`]) await mmp(m, line);
  }
}, TIMEOUT_MS);

afterAll(async () => {
  for (const b of bridges) await b.close();
  for (const m of members ?? []) await m.running?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

const isLeader = (f: Map<string, PromFamily>) => valueOf(f, 'xmpp_cluster_raft_role', { role: 'leader' }) === 1;

/** Every running member's scrape, once they agree on one leader and one term. */
async function agreed(running: Member[]): Promise<Map<string, PromFamily>[]> {
  return untilAnswer(
    () => Promise.all(running.map((m) => scrape(m.base))),
    (all) => all.filter(isLeader).length === 1 && new Set(all.map((f) => valueOf(f, 'xmpp_cluster_raft_term'))).size === 1 && all.every((f) => valueOf(f, 'xmpp_cluster_raft_leader_known') === 1),
    20_000,
    'one leader and one term on every member',
  );
}

function portOf(m: Member): number {
  const s = m.running!.node.serviceState();
  if (s.state !== 'running') throw new Error(`${m.name} does not serve`);
  return s.bindings[0]!.port;
}

describe('a three-node cluster, each node with its own metrics listener', () => {
  it('is ready on every member, and the Raft metrics agree: one leader, one term, every peer link up by name', async () => {
    for (const m of members) await untilAnswer(() => httpGet(`${m.base}/readyz`), (r) => r.status === 200, 20_000, `${m.name} ready`);
    const all = await agreed(members);
    for (const [i, f] of all.entries()) {
      expect(valueOf(f, 'xmpp_cluster_raft_member')).toBe(1);
      expect(valueOf(f, 'xmpp_cluster_raft_commit_index')).toBeGreaterThan(0);
      expect(valueOf(f, 'xmpp_cluster_raft_applied_index')).toBeLessThanOrEqual(valueOf(f, 'xmpp_cluster_raft_commit_index')!);
      const roles = f.get('xmpp_cluster_raft_role')!.samples.map((s) => `${s.labels.role}=${s.value}`).sort();
      expect(roles).toHaveLength(3);
      expect(roles.filter((r) => r.endsWith('=1'))).toHaveLength(1);
      const peers = f.get('xmpp_cluster_peer_up')!.samples.map((s) => `${s.labels.peer} ${s.value}`).sort();
      expect(peers).toEqual(members.filter((_, j) => j !== i).map((m) => `${m.name} 1`));
    }
    const json = JSON.parse((await httpGet(`${members[1]!.base}/readyz?format=json`)).body);
    expect(json).toMatchObject({ status: 'ok', xmpp: 'running', clusterMember: true });
    expect(members.map((m) => m.name)).toContain(json.leader);
  });

  it('times the proposal of an operator change made on a follower', async () => {
    const all = await agreed(members);
    const follower = members[all.findIndex((f) => !isLeader(f))]!;
    const count = (f: Map<string, PromFamily>) => valueOf(f, 'xmpp_cluster_raft_proposal_duration_seconds_count', { result: 'applied' }) ?? 0;
    const before = count(await scrape(follower.base));
    await mmp(follower, 'xmpp callbridge add cb9');
    const after = await scrape(follower.base);
    expect(count(after)).toBe(before + 1);
    expect(valueOf(after, 'xmpp_cluster_raft_proposal_duration_seconds_bucket', { result: 'applied', le: '+Inf' })).toBe(before + 1);
  });

  it('counts stanzas between bridges on two followers as forwarded out and in on each, and routed once on the leader', async () => {
    const all = await agreed(members);
    const leader = members[all.findIndex(isLeader)]!;
    const [a, b] = members.filter((m) => m !== leader) as [Member, Member];
    const cb1 = await CallBridge.connect({ name: 'cb1', secret: 'cb1-cluster-secret-0123456789', domain: DOMAIN, host: a.address, port: portOf(a) });
    bridges.push(cb1);
    const cb2 = await CallBridge.connect({ name: 'cb2', secret: 'cb2-cluster-secret-0123456789', domain: DOMAIN, host: b.address, port: portOf(b) });
    bridges.push(cb2);
    // The leader knows cb2's session once a stanza to it arrives: wait for the first one, then count from there.
    await untilAnswer(
      async () => {
        const got = new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), 1000);
          cb2.once('message', () => (clearTimeout(t), resolve(true)));
        });
        await cb1.sendMessage(`cb2.${DOMAIN}`, 'warm-up');
        return got;
      },
      (ok) => ok,
      20_000,
      'a first stanza from cb1 to cb2',
    );
    const [la, lb, ll] = await Promise.all([a, b, leader].map((m) => scrape(m.base)));
    const N = 20;
    let received = 0;
    const all20 = new Promise<void>((resolve) => cb2.on('message', () => ++received === N && resolve()));
    for (let i = 0; i < N; i++) await cb1.sendMessage(`cb2.${DOMAIN}`, `m${i}`);
    await all20;
    const [pa, pb, pl] = await Promise.all([a, b, leader].map((m) => scrape(m.base)));
    const d = (after: Map<string, PromFamily>, before: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}) => (valueOf(after, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);
    expect(d(pl, ll, 'xmpp_cluster_stanzas_routed_total')).toBe(N);
    expect(d(pa, la, 'xmpp_cluster_stanzas_routed_total')).toBe(0);
    expect(d(pa, la, 'xmpp_cluster_stanzas_forwarded_total', { direction: 'out' })).toBeGreaterThanOrEqual(N);
    expect(d(pb, lb, 'xmpp_cluster_stanzas_forwarded_total', { direction: 'in' })).toBeGreaterThanOrEqual(N);
    expect(d(pl, ll, 'xmpp_cluster_stanzas_forwarded_total', { direction: 'in' })).toBeGreaterThanOrEqual(N);
    expect(d(pl, ll, 'xmpp_cluster_stanzas_forwarded_total', { direction: 'out' })).toBeGreaterThanOrEqual(N);
    expect(valueOf(pa, 'xmpp_cluster_component_sessions')).toBe(1);
    expect(valueOf(pb, 'xmpp_cluster_component_sessions')).toBe(1);
    expect(valueOf(pl, 'xmpp_cluster_component_sessions')).toBe(0);
  });

  it('counts a leader change on the survivors when the leader stops, and readyz is 503 on the last member without a leader', async () => {
    for (const b of bridges.splice(0)) await b.close();
    const all = await agreed(members);
    const leader = members[all.findIndex(isLeader)]!;
    await leader.running!.close();
    leader.running = undefined;
    const survivors = members.filter((m) => m !== leader);
    const after = await agreed(survivors);
    for (const f of after) expect(valueOf(f, 'xmpp_cluster_raft_leader_changes_total')).toBeGreaterThanOrEqual(1);
    for (const f of after) expect(f.get('xmpp_cluster_peer_up')!.samples.find((s) => s.labels.peer === leader.name)?.value).toBe(0);

    const [gone, last] = survivors as [Member, Member];
    await gone.running!.close();
    gone.running = undefined;
    const text = await untilAnswer(() => httpGet(`${last.base}/readyz`), (r) => r.status === 503, 20_000, `${last.name} not ready`);
    expect(text.body).toBe('this cluster member knows no leader (no quorum)\n');
    const json = JSON.parse((await httpGet(`${last.base}/readyz?format=json`)).body);
    expect(json).toMatchObject({ status: 'unavailable', xmpp: 'running', clusterMember: true, leader: null });
    // Alive all the same: liveness is not readiness.
    expect((await httpGet(`${last.base}/healthz`)).status).toBe(200);
    expect(valueOf(await scrape(last.base), 'xmpp_cluster_raft_leader_known')).toBe(0);
  }, TIMEOUT_MS);
});

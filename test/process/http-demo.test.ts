import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROCESS_TEST_TIMEOUT_MS } from '../helpers/cluster-processes.js';
import { ensureLoopbackAddress } from '../helpers/bind-server.js';
import { assertBuilt, CliProcess } from '../helpers/cli.js';
import { httpGet, scrape, untilAnswer } from '../helpers/http-get.js';
import { valueOf } from '../helpers/prometheus-text.js';
import { cookieOf, httpRequest, postLogin } from '../helpers/http-request.js';
import { tempDir } from '../helpers/test-node.js';

/**
 * `npm start` on 127.0.11.35-37: each of its three nodes has its own
 * metrics and health listener on its own address, port 9464, and the banner
 * prints the URLs; the demo's call bridges show up in the metrics.
 */

const ADDRESSES = ['127.0.11.35', '127.0.11.36', '127.0.11.37'];
let root: string;
let demo: CliProcess;

beforeAll(async () => {
  assertBuilt();
  for (const a of ADDRESSES) await ensureLoopbackAddress(a);
  root = await tempDir('http-demo-');
  demo = new CliProcess(['start', '--data-dir', root, '--addresses', ADDRESSES.join(',')]);
  await demo.waitForOutput(/^Failover: kill -9 \d+/m, 90_000);
}, 100_000);

afterAll(async () => {
  await demo?.stop('SIGINT');
  if (root) await rm(root, { recursive: true, force: true });
});

describe('npm start', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it("prints every node's metrics, healthz and readyz URL, each on the node's own address", () => {
    const lines = [...demo.stdout.matchAll(/^ {2}(cb\d) {2}(http:\/\/\S+)\/metrics {3}\2\/healthz {3}\2\/readyz$/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(lines).toEqual(ADDRESSES.map((a, i) => `cb${i + 1} http://${a}:9464`));
  });

  it('answers on each of them: ready, healthy, one leader among the three, and the demo call bridges connected', async () => {
    for (const a of ADDRESSES) {
      const base = `http://${a}:9464`;
      await untilAnswer(() => httpGet(`${base}/readyz`), (r) => r.status === 200, 30_000, `${a} ready`);
      expect(await httpGet(`${base}/healthz`)).toMatchObject({ status: 200, body: 'ok\n' });
    }
    const scrapes = await untilAnswer(
      () => Promise.all(ADDRESSES.map((a) => scrape(`http://${a}:9464`))),
      (all) => all.filter((f) => valueOf(f, 'xmpp_cluster_raft_role', { role: 'leader' }) === 1).length === 1 && all.reduce((n, f) => n + (valueOf(f, 'xmpp_cluster_component_sessions') ?? 0), 0) === 2,
      30_000,
      'one leader and the two demo call bridges',
    );
    for (const f of scrapes) expect(valueOf(f, 'xmpp_cluster_raft_member')).toBe(1);
    // The demo's bridges keep talking through the leader: its routed counter grows.
    const leader = ADDRESSES[scrapes.findIndex((f) => valueOf(f, 'xmpp_cluster_raft_role', { role: 'leader' }) === 1)]!;
    const before = valueOf(await scrape(`http://${leader}:9464`), 'xmpp_cluster_stanzas_routed_total')!;
    await untilAnswer(() => scrape(`http://${leader}:9464`), (f) => valueOf(f, 'xmpp_cluster_stanzas_routed_total')! > before, 20_000, 'stanzas routed by the leader');
  });

  it("serves each node's status page behind the admin login the banner names, with the cluster's three members", async () => {
    const banner = /^Status page \(log in as admin with the password above\): (.*)$/m.exec(demo.stdout);
    expect(banner?.[1]?.split(/\s+/)).toEqual(ADDRESSES.map((a) => `http://${a}:9464/`));
    const password = /admin password: (\S+), kept in/.exec(demo.stdout)![1]!;
    for (const a of ADDRESSES) {
      const base = `http://${a}:9464`;
      expect((await httpRequest(`${base}/`)).status).toBe(303);
      const login = await postLogin(base, 'admin', password);
      expect(login.status).toBe(303);
      const snap = JSON.parse((await httpRequest(`${base}/status.json`, { headers: { Cookie: cookieOf(login) } })).body) as { cluster: { members?: unknown[]; peers?: unknown[] } | null };
      expect(snap.cluster).not.toBeNull();
      expect(JSON.stringify(snap.cluster)).toContain(ADDRESSES[0]);
    }
  });
});

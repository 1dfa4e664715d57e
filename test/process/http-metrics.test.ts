import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge, CallBridgeConnectError } from '../../src/bridge/call-bridge.js';
import { runOnStartingNode } from '../../src/process/demo-nodes.js';
import { startNode, type RunningNode } from '../../src/process/node-process.js';
import { dig, ensureLoopbackAddress } from '../helpers/bind-server.js';
import { httpGet, scrape, untilAnswer } from '../helpers/http-get.js';
import type { PromFamily } from '../helpers/prometheus-text.js';
import { valueOf } from '../helpers/prometheus-text.js';
import { LogCapture, tempDir } from '../helpers/test-node.js';

/**
 * One whole node (startNode, as `xmpp-cluster node` runs it) with its
 * operations listener on 127.0.11.1: what a Prometheus server and a
 * Kubernetes probe see over real HTTP, before and after `xmpp enable`, after
 * call bridges exchange stanzas, and while the event loop is blocked.
 */

const ADDRESS = '127.0.11.1';
const DNS_PORT = 5300;
const DOMAIN = 'example.test';
const SECRETS = { cb1: 'metrics-secret-one-0123456789', cb2: 'metrics-secret-two-0123456789' };
/** Stanza ids of the traffic below: unbounded values that must never become labels. */
const STANZA_IDS = Array.from({ length: 10 }, (_, i) => `stanza-id-probe-${i}-7f3a9c`);

let running: RunningNode;
let dataDir: string;
let base: string;
const bridges: CallBridge[] = [];

const mmp = (line: string, answers: string[] = []) => runOnStartingNode(dataDir, line, { name: 'm1', answers, exited: () => undefined });

beforeAll(async () => {
  await ensureLoopbackAddress(ADDRESS);
  dataDir = join(await tempDir('http-metrics-'), 'm1');
  running = await startNode({
    dataDir,
    name: 'm1',
    address: ADDRESS,
    componentPorts: [0, 0],
    log: new LogCapture().logger,
    ssh: null,
    authThrottle: { baseDelayMs: 20, maxDelayMs: 200 },
    // A low threshold and a short window, so that a bounded block of the loop shows and then passes.
    metrics: { host: ADDRESS, port: 0, loop: { thresholdMs: 300, windowMs: 2000 } },
  });
  base = running.http!.url;
});

afterAll(async () => {
  for (const b of bridges) await b.close();
  await running?.close();
  await rm(join(dataDir, '..'), { recursive: true, force: true });
});

function connect(name: string, secret: string): Promise<CallBridge> {
  const state = running.node.serviceState();
  if (state.state !== 'running') throw new Error('the node does not serve');
  return CallBridge.connect({ name, secret, domain: DOMAIN, host: ADDRESS, port: state.bindings[0]!.port });
}

const sum = (families: Map<string, PromFamily>, name: string) => families.get(name)?.samples.reduce((a, s) => a + s.value, 0) ?? 0;

describe('readyz before and after xmpp enable', () => {
  it('is 503 with the reason, as text and as JSON, while the XMPP server is not configured', async () => {
    const text = await httpGet(`${base}/readyz`);
    expect(text).toMatchObject({ status: 503, contentType: 'text/plain; charset=utf-8' });
    expect(text.body).toMatch(/^the XMPP server is not configured: no domain set .*\n$/);
    const json = await httpGet(`${base}/readyz?format=json`);
    expect(json.status).toBe(503);
    expect(json.contentType).toBe('application/json');
    expect(JSON.parse(json.body)).toMatchObject({ status: 'unavailable', xmpp: 'not-configured', clusterMember: false });
  });

  it('is 503 while configured but disabled, then 200 ok once `xmpp enable` ran', async () => {
    for (const line of [`xmpp domain ${DOMAIN}`, 'xmpp listen a']) await mmp(line);
    for (const [name, secret] of Object.entries(SECRETS)) await mmp(`xmpp callbridge add-secret ${name}`, [secret]);
    expect(await httpGet(`${base}/readyz`)).toMatchObject({ status: 503, body: 'the XMPP server is disabled (xmpp enable)\n' });
    await mmp('xmpp enable');
    expect(await httpGet(`${base}/readyz`)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(JSON.parse((await httpGet(`${base}/readyz?format=json`)).body)).toEqual({ status: 'ok', reason: 'ok', xmpp: 'running', clusterMember: false });
  });
});

describe('/metrics', () => {
  it('parses as Prometheus text with the process_, nodejs_ and xmpp_cluster_ families', async () => {
    const families = await scrape(base);
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(families.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
    expect(families.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
    const ours = [...families.values()].filter((f) => f.name.startsWith('xmpp_cluster_'));
    expect(ours.map((f) => `${f.name} ${f.type}`)).toEqual(
      expect.arrayContaining([
        'xmpp_cluster_stanzas_routed_total counter',
        'xmpp_cluster_stanzas_bounced_total counter',
        'xmpp_cluster_stanzas_dropped_total counter',
        'xmpp_cluster_stanzas_answered_total counter',
        'xmpp_cluster_component_sessions gauge',
        'xmpp_cluster_component_handshakes_total counter',
        'xmpp_cluster_dns_queries_total counter',
        'xmpp_cluster_raft_member gauge',
        'xmpp_cluster_raft_proposal_duration_seconds histogram',
        'xmpp_cluster_federation_streams gauge',
      ]),
    );
    // Counters end in _total, durations are in seconds (Prometheus naming).
    for (const f of ours) {
      if (f.type === 'counter') expect(f.name).toMatch(/_total$/);
      expect(f.help.length).toBeGreaterThan(10);
    }
    expect(valueOf(families, 'xmpp_cluster_raft_member')).toBe(0);
  });

  it('counts exactly the stanzas a call bridge exchange routed, the bounce by condition, and the bridges connected', async () => {
    const before = await scrape(base);
    const cb1 = await connect('cb1', SECRETS.cb1);
    bridges.push(cb1);
    const cb2 = await connect('cb2', SECRETS.cb2);
    bridges.push(cb2);
    const got: string[] = [];
    const all = new Promise<void>((resolve) =>
      cb2.on('message', (m: { body: string }) => {
        got.push(m.body);
        if (got.length === STANZA_IDS.length) resolve();
      }),
    );
    for (const id of STANZA_IDS) await cb1.sendMessage(`cb2.${DOMAIN}`, `hello ${id}`, id);
    await all;
    const bounced = new Promise<{ error?: string }>((resolve) => cb1.once('message', resolve));
    await cb1.sendMessage(`cb7.${DOMAIN}`, 'nobody there', 'stanza-id-probe-bounce-7f3a9c');
    expect((await bounced).error).toBe('service-unavailable');

    const after = await scrape(base);
    const delta = (name: string, labels: Record<string, string> = {}) => (valueOf(after, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);
    expect(delta('xmpp_cluster_stanzas_routed_total')).toBe(STANZA_IDS.length);
    expect(delta('xmpp_cluster_stanzas_bounced_total', { condition: 'service-unavailable' })).toBe(1);
    expect(delta('xmpp_cluster_stanzas_dropped_total')).toBe(0);
    expect(delta('xmpp_cluster_component_handshakes_total', { result: 'accepted' })).toBe(2);
    expect(valueOf(after, 'xmpp_cluster_component_sessions')).toBe(running.node.status().sessions.length);
    expect(valueOf(after, 'xmpp_cluster_component_sessions')).toBe(2);
  });

  it('counts refused and unknown handshakes, and the sessions gauge follows a bridge that leaves', async () => {
    const before = await scrape(base);
    const refused = await connect('cb1', 'not-the-secret-0123456789').catch((e: unknown) => e);
    expect((refused as CallBridgeConnectError).condition).toBe('not-authorized');
    const unknown = await connect('cb5', 'no-such-bridge-0123456789').catch((e: unknown) => e);
    expect((unknown as CallBridgeConnectError).condition).toBe('not-authorized');
    const after = await scrape(base);
    expect((valueOf(after, 'xmpp_cluster_component_handshakes_total', { result: 'refused' }) ?? 0) - (valueOf(before, 'xmpp_cluster_component_handshakes_total', { result: 'refused' }) ?? 0)).toBe(2);
    expect(valueOf(after, 'xmpp_cluster_component_handshakes_total', { result: 'accepted' })).toBe(valueOf(before, 'xmpp_cluster_component_handshakes_total', { result: 'accepted' }));
    await bridges.pop()!.close();
    await untilAnswer(() => scrape(base), (f) => valueOf(f, 'xmpp_cluster_component_sessions') === 1, 10_000, 'one session left');
  });

  it('counts DNS queries answered by the responder', async () => {
    await mmp(`xmpp dns listen ${ADDRESS}:${DNS_PORT}`);
    await mmp('xmpp dns enable');
    const before = await scrape(base);
    const answer = await untilAnswer(() => dig(ADDRESS, DNS_PORT, ['+short', '+time=1', '+tries=1', 'SRV', `_xmpp-component._tcp.${DOMAIN}`]), (out) => out.trim() !== '', 10_000, 'an SRV answer');
    expect(answer).toContain(DOMAIN);
    const after = await scrape(base);
    expect((valueOf(after, 'xmpp_cluster_dns_queries_total', { result: 'answered' }) ?? 0) - (valueOf(before, 'xmpp_cluster_dns_queries_total', { result: 'answered' }) ?? 0)).toBeGreaterThanOrEqual(1);
    expect(valueOf(after, 'xmpp_cluster_dns_queries_total', { result: 'rate_limited' })).toBe(0);
  });

  it('carries no secret, stanza id or JID in any label after that traffic, and only bounded label names of ours', async () => {
    const families = await scrape(base);
    const forbidden = [...Object.values(SECRETS), 'not-the-secret', 'no-such-bridge', 'stanza-id-probe', `@${DOMAIN}`, `cb2.${DOMAIN}`, `cb7.${DOMAIN}`];
    const allowed: Record<string, RegExp> = {
      condition: /^[a-z-]+$/,
      result: /^(accepted|refused|answered|dropped|rate_limited|tcp_refused|applied|failed)$/,
      direction: /^(in|out|incoming|outgoing)$/,
      role: /^(leader|follower|candidate)$/,
      le: /^(\+Inf|[\d.e+-]+)$/,
    };
    let checked = 0;
    for (const f of families.values()) {
      for (const s of f.samples) {
        for (const [name, value] of Object.entries(s.labels)) {
          for (const bad of forbidden) expect(value, `${s.name}{${name}}`).not.toContain(bad);
          if (f.name.startsWith('xmpp_cluster_')) {
            expect(Object.keys(allowed), `label ${name} of ${s.name}`).toContain(name);
            expect(value).toMatch(allowed[name]!);
          }
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(5);
    // The stanza bodies and ids are nowhere in the exposition, label or not.
    const text = (await httpGet(`${base}/metrics`)).body;
    for (const bad of forbidden) expect(text).not.toContain(bad);
  });
});

describe('/healthz', () => {
  it('is 200 ok as text, and JSON with the loop delay and threshold', async () => {
    expect(await httpGet(`${base}/healthz`)).toMatchObject({ status: 200, body: 'ok\n' });
    const json = JSON.parse((await httpGet(`${base}/healthz?format=json`)).body);
    expect(json).toMatchObject({ status: 'ok', reason: 'ok', thresholdSeconds: 0.3 });
    expect(typeof json.eventLoopDelaySeconds).toBe('number');
  });

  it('is 503 for a probe that came while the loop was blocked, and 200 again once the window passed', async () => {
    // The probe runs in a child process: it connects first, then sends its request when told, while this process is busy.
    const child = spawn(process.execPath, ['-e', PROBE, ADDRESS, String(running.http!.port)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    const lines = new Promise<void>((resolve) => child.stdout.on('data', (d: string) => (out += d) && out.includes('ready\n') && resolve()));
    await lines;
    const status = new Promise<string>((resolve) => child.on('exit', () => resolve(out)));
    child.stdin.write('go\n');
    const until = performance.now() + 900;
    while (performance.now() < until); // a bounded block of the event loop, over the 300 ms threshold
    const answer = await status;
    expect(answer).toMatch(/ready\nHTTP\/1\.1 503 Service Unavailable\n/);
    expect(answer).toMatch(/the event loop stalled for \d+\.\d\d s \(over 0\.3 s\)/);
    await untilAnswer(() => httpGet(`${base}/healthz`), (r) => r.status === 200, 10_000, 'healthz ok again');
  });
});

describe('anything else', () => {
  it('is 404 for other paths and 405 for other methods; HEAD has the headers only', async () => {
    expect((await httpGet(`${base}/no-such-page`)).status).toBe(404);
    expect((await httpGet(`${base}/metrics/extra`)).status).toBe(404);
    expect((await httpGet(`${base}/metrics`, 'POST')).status).toBe(405);
    const head = await httpGet(`${base}/healthz`, 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
  });
});

/** The probe: connect, say ready, send GET /healthz when a line arrives on stdin, print the status line and body. */
const PROBE = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const s = net.connect(Number(port), host, () => {
  process.stdout.write('ready\\n');
  process.stdin.once('data', () => s.write('GET /healthz HTTP/1.1\\r\\nHost: probe\\r\\nConnection: close\\r\\n\\r\\n'));
});
let buf = '';
s.on('data', (d) => (buf += d));
s.on('end', () => {
  const [head, body] = buf.split('\\r\\n\\r\\n');
  process.stdout.write(head.split('\\r\\n')[0] + '\\n' + body);
  process.stdin.destroy();
});
`;

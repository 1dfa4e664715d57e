import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLoopbackAddress } from '../helpers/bind-server.js';
import { assertBuilt, CliProcess, runCli } from '../helpers/cli.js';
import { httpGet } from '../helpers/http-get.js';
import { tempDir } from '../helpers/test-node.js';

/**
 * `xmpp-cluster node` as an operator starts it, with `--metrics-listen` and
 * `--no-metrics`: what listens is read from the kernel (`ss`), not from the
 * node's own word.
 */

const ADDRESSES = ['127.0.11.30', '127.0.11.31', '127.0.11.32'];
const METRICS_PORT = 19464;
let root: string;
const processes: CliProcess[] = [];

beforeAll(async () => {
  assertBuilt();
  for (const a of ADDRESSES) await ensureLoopbackAddress(a);
  root = await tempDir('http-cli-');
});

afterAll(async () => {
  for (const p of processes) await p.stop('SIGKILL');
  await rm(root, { recursive: true, force: true });
});

/** TCP sockets the process listens on, `address:port` each, as the kernel lists them. */
function listening(pid: number): string[] {
  const out = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => line.trim().split(/\s+/)[3]!)
    .sort();
}

async function startCli(name: string, address: string, extra: string[]): Promise<CliProcess> {
  const p = new CliProcess(['node', '--data-dir', join(root, name), '--name', name, '--address', address, '--no-ssh', ...extra]);
  processes.push(p);
  await p.waitForOutput(/"event":"node_started"/, 20_000, 'stderr');
  return p;
}

describe('xmpp-cluster node and its metrics listener', () => {
  it('with --no-metrics listens on no TCP port at all (no SSH either, XMPP not enabled)', async () => {
    const p = await startCli('nometrics', ADDRESSES[0]!, ['--no-metrics']);
    expect(listening(p.child.pid!)).toEqual([]);
    expect(p.stderr).toMatch(/"event":"node_started".*"metrics":null/);
    expect(await p.stop()).toBe(0);
  });

  it('with --metrics-listen listens there and nowhere else, and answers the probes', async () => {
    const address = ADDRESSES[1]!;
    const p = await startCli('metrics', address, ['--metrics-listen', `${address}:${METRICS_PORT}`]);
    expect(listening(p.child.pid!)).toEqual([`${address}:${METRICS_PORT}`]);
    const base = `http://${address}:${METRICS_PORT}`;
    expect(await httpGet(`${base}/healthz`)).toMatchObject({ status: 200, body: 'ok\n' });
    expect((await httpGet(`${base}/readyz`)).status).toBe(503);
    expect((await httpGet(`${base}/metrics`)).body).toContain('xmpp_cluster_stanzas_routed_total 0');
    expect(p.stderr).toContain(`"metrics":"${base}"`);
    expect(await p.stop()).toBe(0);
  });

  it('fails with one Error line when the metrics port it was given is taken', async () => {
    const address = ADDRESSES[2]!;
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(METRICS_PORT, address, resolve));
    try {
      const r = await runCli(['node', '--data-dir', join(root, 'taken'), '--name', 'taken', '--address', address, '--no-ssh', '--metrics-listen', `${address}:${METRICS_PORT}`]);
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('Error:'))).toEqual([
        `Error: cannot listen for metrics on ${address}:${METRICS_PORT}: the port is already in use (--metrics-listen <host:port>, or --no-metrics)`,
      ]);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  it('refuses a malformed --metrics-listen, and both options at once', async () => {
    const bad = await runCli(['node', '--data-dir', join(root, 'bad'), '--metrics-listen', 'localhost']);
    expect(bad).toMatchObject({ code: 1, stderr: 'Error: --metrics-listen localhost: expected <address>:<port>, such as 127.0.0.1:9464\n' });
    const both = await runCli(['node', '--data-dir', join(root, 'bad'), '--metrics-listen', '127.0.0.1:9464', '--no-metrics']);
    expect(both).toMatchObject({ code: 1, stderr: 'Error: --metrics-listen and --no-metrics: give one of them\n' });
  });
});
